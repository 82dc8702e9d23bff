"""The built-in tsp_construction task (tasks/tsp_construction): greedy tours, re-checked and measured."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evaluators.candidate_channel import CandidateError, InProcessCandidate
from evolve.task import load_task
from tests.support.tasks import evaluate_in_sandbox, load_evaluator, with_own_driver

TASK_DIR = Path(__file__).resolve().parents[1] / "tasks" / "tsp_construction"
SEED = (TASK_DIR / "initial_program.py").read_text()
NEAREST = "return int(unvisited_nodes[np.argmin(distance_matrix[current_node, unvisited_nodes])])"
# Nearest neighbour biased towards cities far from the start, so the tour comes home at the end.
FAR_FIRST = (
    "d = distance_matrix\n    u = unvisited_nodes\n"
    "    return int(u[np.argmin(d[current_node, u] - 0.4 * d[u, destination_node])])"
)


@pytest.fixture(scope="module")
def ev():
    return load_evaluator(TASK_DIR)


def _forged(tmp_path: Path, body: str) -> InProcessCandidate:
    """The seed with a driver whose build_tours returns `body` per instance."""
    return with_own_driver(
        tmp_path, SEED,
        "import numpy as np\n\n"
        "def build_tours(program, instances):\n"
        f"    return [{body} for coords in instances]\n"
    )


def test_task_yaml_loads():
    task = load_task(TASK_DIR)
    spec = task.spec
    assert (spec.objective, spec.direction, spec.interface) == ("mean_tour_length", "minimize", "call")
    assert spec.candidate_files == ["driver.py"]
    assert "# EVOLVE-BLOCK-START" in task.seed_source and NEAREST in task.seed_source


def test_seed_scores_its_documented_value(ev):
    result = ev.evaluate(InProcessCandidate(SEED, task_dir=TASK_DIR))
    assert result["mean_tour_length"] == pytest.approx(load_task(TASK_DIR).spec.seed_score, rel=1e-12)
    assert "error" not in result


def test_a_better_rule_scores_better(ev):
    better = ev.evaluate(InProcessCandidate(SEED.replace(NEAREST, FAR_FIRST), task_dir=TASK_DIR))
    assert better["mean_tour_length"] < 6.6


@pytest.mark.parametrize(
    "body, reason",
    [
        ("np.zeros(len(coords), dtype=int)", "not a permutation"),  # a zero-length "tour"
        ("np.arange(len(coords) - 1)", "shape"),  # a city skipped
        ("np.arange(len(coords)) + 0.0", "integers"),
        ("np.arange(1, len(coords) + 1)", "not a permutation"),  # an index out of range
    ],
)
def test_forged_tour_is_rejected(ev, tmp_path, body, reason):
    result = ev.evaluate(_forged(tmp_path, body))
    assert reason in result["error"] and "mean_tour_length" not in result


def test_tour_length_of_a_square(ev):
    square = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    assert ev.tour_length(square, np.array([0, 1, 2, 3])) == (4.0, None)
    assert ev.tour_length(square, np.array([0, 2, 1, 3]))[0] == pytest.approx(2 + 2 * np.sqrt(2))


@pytest.mark.parametrize("body", ["raise KeyError('boom')", "return int(current_node)"])
def test_a_failing_rule_raises_candidate_error(ev, body):
    with pytest.raises(CandidateError):
        ev.evaluate(InProcessCandidate(SEED.replace(NEAREST, body), task_dir=TASK_DIR))


def test_probes_are_small_deterministic_and_answered_by_the_seed(ev):
    probes = ev.probes()
    assert 1 <= len(probes) <= 10
    seed = InProcessCandidate(SEED, task_dir=TASK_DIR)
    answers = [seed.call(name, *args) for name, args in probes]
    assert answers == [seed.call(name, *args) for name, args in ev.probes()]
    for (name, args), answer in zip(probes, answers):
        assert name == "select_next_node" and args[3].shape == (6, 6) and answer in args[2].tolist()


def test_seed_in_the_real_sandbox():
    """End to end: the seed in its own sandbox, the evaluator in another, talking over the channel."""
    spec = load_task(TASK_DIR).spec
    result = evaluate_in_sandbox(TASK_DIR)
    assert result.status == "ok", result.reason
    assert result.metrics[spec.objective] == pytest.approx(spec.seed_score, rel=1e-12)
    assert result.behaviour_hash  # the probes went through the channel too
