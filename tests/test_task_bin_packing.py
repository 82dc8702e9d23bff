"""The bin_packing task (tasks/bin_packing): online packing, re-checked and counted by the evaluator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evaluators.candidate_channel import CandidateError, InProcessCandidate
from evolve.task import load_task
from tests.support.tasks import evaluate_in_sandbox, load_evaluator, with_own_driver

TASK_DIR = Path(__file__).resolve().parents[1] / "tasks" / "bin_packing"
SEED = (TASK_DIR / "initial_program.py").read_text()
BEST_FIT = "return -(bins - item)"
# Near-exact fits first, otherwise the emptiest open bin; a new bin only when nothing else fits.
TIGHT_OR_WORST = """
import numpy as np

def priority(item, bins):
    gap = bins - item
    score = np.where(gap <= 5, 1000 - gap, gap)
    score[-1] = -1e9 if len(bins) > 1 else 0.0
    return score
"""


@pytest.fixture(scope="module")
def ev():
    return load_evaluator(TASK_DIR)


def _forged(tmp_path: Path, body: str) -> InProcessCandidate:
    """The seed with a driver whose pack_all returns `body` per instance."""
    return with_own_driver(
        tmp_path, SEED,
        "import numpy as np\n\n"
        "def pack_all(program, instances, capacity):\n"
        f"    return [{body} for items in instances]\n"
    )


def test_task_yaml_loads():
    task = load_task(TASK_DIR)
    spec = task.spec
    assert (spec.objective, spec.direction, spec.interface) == ("excess_pct", "minimize", "call")
    assert spec.candidate_files == ["driver.py"]
    assert "# EVOLVE-BLOCK-START" in task.seed_source and BEST_FIT in task.seed_source


def test_seed_scores_its_documented_value(ev):
    result = ev.evaluate(InProcessCandidate(SEED, task_dir=TASK_DIR))
    assert result["excess_pct"] == pytest.approx(load_task(TASK_DIR).spec.seed_score, rel=1e-12)
    assert "error" not in result


def test_first_fit_is_worse_and_a_better_heuristic_is_better(ev):
    seed = ev.evaluate(InProcessCandidate(SEED, task_dir=TASK_DIR))["excess_pct"]
    first_fit = SEED.replace(BEST_FIT, "return -np.arange(len(bins), dtype=float)")
    assert ev.evaluate(InProcessCandidate(first_fit, task_dir=TASK_DIR))["excess_pct"] > seed
    assert ev.evaluate(InProcessCandidate(TIGHT_OR_WORST, task_dir=TASK_DIR))["excess_pct"] < seed - 0.5


@pytest.mark.parametrize(
    "body, reason",
    [
        ("np.zeros(len(items), dtype=int)", "> capacity"),  # everything in one bin: 0% excess if believed
        ("np.arange(len(items) - 1)", "shape"),  # an item left out
        ("np.arange(len(items)) * 0.5", "integers"),
        ("-np.ones(len(items), dtype=int)", "negative"),
    ],
)
def test_forged_assignment_is_rejected(ev, tmp_path, body, reason):
    result = ev.evaluate(_forged(tmp_path, body))
    assert reason in result["error"] and "excess_pct" not in result


def test_counting_ignores_bin_labels(ev):
    items = np.array([60.0, 40.0, 70.0])
    assert ev.count_bins(items, 100, np.array([7, 7, 10**12])) == (2, None)


@pytest.mark.parametrize("body", ["raise ValueError('boom')", "return np.zeros(len(bins) + 1)"])
def test_a_failing_priority_raises_candidate_error(ev, body):
    with pytest.raises(CandidateError):
        ev.evaluate(InProcessCandidate(SEED.replace(BEST_FIT, body), task_dir=TASK_DIR))


def test_probes_are_small_deterministic_and_answered_by_the_seed(ev):
    probes = ev.probes()
    assert 1 <= len(probes) <= 10
    seed = InProcessCandidate(SEED, task_dir=TASK_DIR)
    for (name, args), again in zip(probes, ev.probes()):
        assert name == again[0] == "priority" and args[0] == again[1][0]
        assert np.array_equal(args[1], again[1][1]) and len(args[1]) <= 10
        assert np.array_equal(seed.call(name, *args), -(args[1] - args[0]))


def test_instances_are_fixed(ev):
    a, b = ev.instances(), ev.instances()
    for name, (items_list, capacity) in a.items():
        assert capacity == b[name][1] and all(np.array_equal(x, y) for x, y in zip(items_list, b[name][0]))
    assert [len(a["weibull"][0]), len(a["or"][0])] == [5, 5]
    assert a["weibull"][0][0].min() >= 1 and a["weibull"][0][0].max() <= 100
    assert a["or"][0][0].min() >= 20 and a["or"][0][0].max() <= 100


def test_seed_in_the_real_sandbox():
    """End to end: the seed in its own sandbox, the evaluator in another, talking over the channel."""
    spec = load_task(TASK_DIR).spec
    result = evaluate_in_sandbox(TASK_DIR)
    assert result.status == "ok", result.reason
    assert result.metrics[spec.objective] == pytest.approx(spec.seed_score, rel=1e-12)
    assert result.behaviour_hash  # the probes went through the channel too
