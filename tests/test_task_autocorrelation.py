"""The autocorrelation task (tasks/autocorrelation): AlphaEvolve's first autocorrelation inequality."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evaluators.candidate_channel import CandidateError, InProcessCandidate
from evolve.task import load_task
from tests.support.tasks import evaluate_in_sandbox, load_evaluator

TASK_DIR = Path(__file__).resolve().parents[1] / "tasks" / "autocorrelation"
SEED = (TASK_DIR / "initial_program.py").read_text()


@pytest.fixture(scope="module")
def ev():
    return load_evaluator(TASK_DIR)


def _program(returns: str) -> InProcessCandidate:
    return InProcessCandidate(f"import numpy as np\n\ndef construct():\n    return {returns}\n")


def _brute_force_ratio(heights: np.ndarray, samples: int = 8000) -> float:
    """max (f*f) / (integral f)^2 by direct numerical convolution on a fine grid (an independent check)."""
    x = np.linspace(-0.25, 0.25, samples, endpoint=False)
    f = heights[((x + 0.25) * 2 * len(heights)).astype(int)]
    dx = 0.5 / samples
    return float(np.convolve(f, f).max() * dx / (f.sum() * dx) ** 2)


def test_task_yaml_loads():
    task = load_task(TASK_DIR)
    spec = task.spec
    assert (spec.objective, spec.direction, spec.interface) == ("autoconvolution_ratio", "minimize", "call")
    assert spec.best_known == 1.5053
    assert "# EVOLVE-BLOCK-START" in task.seed_source and "# EVOLVE-BLOCK-END" in task.seed_source


def test_seed_scores_its_documented_value(ev):
    result = ev.evaluate(InProcessCandidate(SEED))
    assert result["autoconvolution_ratio"] == load_task(TASK_DIR).spec.seed_score == 2.0


def test_a_better_function_scores_better(ev):
    # Two steps, heights 1 and 1/2: the peak is at t = -1/4 and t = 0 alike, ratio 4 / (3/2)^2 = 16/9.
    assert ev.evaluate(_program("[1.0, 0.5]"))["autoconvolution_ratio"] == pytest.approx(16 / 9, rel=1e-15)


def test_exact_ratio_matches_a_brute_force_convolution(ev):
    heights = np.random.default_rng(0).random(8)
    assert ev.ratio(heights)[0] == pytest.approx(_brute_force_ratio(heights), rel=1e-3)


def test_scale_does_not_change_the_ratio(ev):
    heights = np.random.default_rng(1).random(50)
    assert ev.ratio(heights * 1e250)[0] == pytest.approx(ev.ratio(heights)[0], rel=1e-12)


@pytest.mark.parametrize(
    "returns, reason",
    [
        ("[1.0, -0.1, 1.0, 1.0, 0.5]", "negative"),  # the formula would give 1.74, better than the seed
        ("[1.0, float('nan')]", "not finite"),
        ("[]", "1-D array of 1 to 2000"),
        ("np.ones(2001)", "1-D array of 1 to 2000"),
        ("np.ones((10, 2))", "1-D array"),
        ("np.zeros(10)", "all heights are 0"),
        ("'1.0'", "1-D array"),
    ],
)
def test_invalid_heights_are_rejected(ev, returns, reason):
    result = ev.evaluate(_program(returns))
    assert reason in result["error"] and "autoconvolution_ratio" not in result


def test_a_failing_construct_raises_candidate_error(ev):
    with pytest.raises(CandidateError):
        ev.evaluate(_program("1 / 0"))


def test_seed_in_the_real_sandbox():
    """End to end: the seed in its own sandbox, the evaluator in another, talking over the channel."""
    spec = load_task(TASK_DIR).spec
    result = evaluate_in_sandbox(TASK_DIR)
    assert result.status == "ok", result.reason
    assert result.metrics[spec.objective] == pytest.approx(spec.seed_score, rel=1e-12)
