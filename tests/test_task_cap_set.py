"""The built-in cap_set task (tasks/cap_set): greedy cap sets in Z_3^8, re-checked by the evaluator."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest

from evaluators.candidate_channel import CandidateError, InProcessCandidate
from evolve.task import load_task
from tests.support.tasks import evaluate_in_sandbox, load_evaluator, with_own_driver

TASK_DIR = Path(__file__).resolve().parents[1] / "tasks" / "cap_set"
SEED = (TASK_DIR / "initial_program.py").read_text()
# Product of two 9-point caps of Z_3^3 (the graph of the anisotropic form x^2 + y^2) and {0, 1}^2: 9 * 9 * 4.
PRODUCT_CAP = """
def priority(el, n):
    def on_quadric(x, y, z):
        return (x * x + y * y - z) % 3 == 0
    return float(on_quadric(*el[0:3]) and on_quadric(*el[3:6]) and max(el[6:]) < 2)
"""


@pytest.fixture(scope="module")
def ev():
    return load_evaluator(TASK_DIR)


def _forged(tmp_path: Path, body: str) -> InProcessCandidate:
    """The seed with a driver that returns `body`."""
    return with_own_driver(
        tmp_path, SEED,
        "import itertools\nimport numpy as np\n\n"
        "def build_cap_set(program, n):\n"
        "    every = np.array(list(itertools.product(range(3), repeat=n)))\n"
        f"    return {body}\n"
    )


def test_task_yaml_loads():
    task = load_task(TASK_DIR)
    spec = task.spec
    assert (spec.objective, spec.direction, spec.interface) == ("cap_set_size", "maximize", "call")
    assert spec.candidate_files == ["driver.py"] and spec.best_known == 512
    assert "# EVOLVE-BLOCK-START" in task.seed_source and "# EVOLVE-BLOCK-END" in task.seed_source


def test_seed_scores_its_documented_value(ev):
    result = ev.evaluate(InProcessCandidate(SEED, task_dir=TASK_DIR))
    assert result["cap_set_size"] == load_task(TASK_DIR).spec.seed_score == 256
    assert "error" not in result


def test_a_better_priority_scores_better(ev):
    assert ev.evaluate(InProcessCandidate(PRODUCT_CAP, task_dir=TASK_DIR))["cap_set_size"] == 324


@pytest.mark.parametrize(
    "body, reason",
    [
        ("every", "sum to 0 mod 3"),  # all 6561 vectors, a "huge cap set"
        ("np.vstack([every[(every < 2).all(axis=1)]] * 2)", "repeats vectors"),  # {0,1}^8 twice: 512 rows
        ("every[(every < 2).all(axis=1)] * 2 + 1", "outside {0, 1, 2}"),
        ("every[(every < 2).all(axis=1)][:, :7]", "shape"),
        ("[]", "empty"),
    ],
)
def test_forged_driver_output_is_rejected(ev, tmp_path, body, reason):
    result = ev.evaluate(_forged(tmp_path, body))
    assert reason in result["error"] and "cap_set_size" not in result


def test_checker_accepts_a_cap_and_names_the_line_it_finds(ev):
    cube = np.array(list(itertools.product(range(2), repeat=8)))
    assert ev.check_cap_set(cube) == (256, None)
    size, reason = ev.check_cap_set(np.vstack([cube, [[2] * 8]]))
    assert size == 0 and f"{[0] * 8}, {[1] * 8} and {[2] * 8} sum to 0 mod 3" in reason


@pytest.mark.parametrize("body", ["raise RuntimeError('boom')", "return float('nan')"])
def test_a_failing_priority_raises_candidate_error(ev, body):
    source = SEED.replace("return 0.0", body)
    with pytest.raises(CandidateError):
        ev.evaluate(InProcessCandidate(source, task_dir=TASK_DIR))


def test_probes_are_small_deterministic_and_answered_by_the_seed(ev):
    probes = ev.probes()
    assert probes == ev.probes() and 1 <= len(probes) <= 10
    seed = InProcessCandidate(SEED, task_dir=TASK_DIR)
    for name, args in probes:
        assert name == "priority" and len(args[0]) == args[1] == 8
        assert math.isfinite(seed.call(name, *args))


def test_seed_in_the_real_sandbox():
    """End to end: the seed in its own sandbox, the evaluator in another, talking over the channel."""
    spec = load_task(TASK_DIR).spec
    result = evaluate_in_sandbox(TASK_DIR)
    assert result.status == "ok", result.reason
    assert result.metrics[spec.objective] == pytest.approx(spec.seed_score, rel=1e-12)
    assert result.behaviour_hash  # the probes went through the channel too
