"""The optimizer_discovery task (tasks/optimizer_discovery): the training loop runs in the evaluator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evaluators.candidate_channel import CandidateError, InProcessCandidate
from evolve.task import load_task
from tests.support.tasks import evaluate_in_sandbox, load_evaluator, with_own_driver

TASK_DIR = Path(__file__).resolve().parents[1] / "tasks" / "optimizer_discovery"
SEED = (TASK_DIR / "initial_program.py").read_text()
SGD = "return -lr * grad, state"
MOMENTUM = """
def update(grad, state, step, lr):
    m = 0.9 * state.get("m", 0.0) + grad
    return -lr * m, {"m": m}
"""
ADAM = """
import numpy as np

def update(grad, state, step, lr):
    m = 0.9 * state.get("m", 0.0) + 0.1 * grad
    v = 0.999 * state.get("v", 0.0) + 0.001 * grad * grad
    m_hat, v_hat = m / (1 - 0.9**step), v / (1 - 0.999**step)
    return -lr * m_hat / (np.sqrt(v_hat) + 1e-8), {"m": m, "v": v}
"""
# Plain SGD that fails loudly unless the driver hands back, at every step, the state it returned the step before.
BOOKKEEPING = """
def update(grad, state, step, lr):
    if state.get("n", 0) != step - 1:
        raise AssertionError(f"step {step} got state {state}")
    return -lr * grad, {"n": step}
"""


@pytest.fixture(scope="module")
def ev():
    return load_evaluator(TASK_DIR)


def _forged(tmp_path: Path, body: str) -> InProcessCandidate:
    """The seed with a driver whose step() returns `body`."""
    return with_own_driver(
        tmp_path, SEED,
        f"import numpy as np\n\ndef step(program, run, grad, step, lr):\n    return {body}\n"
    )


def test_task_yaml_loads():
    spec = load_task(TASK_DIR).spec
    assert (spec.objective, spec.direction, spec.interface) == ("log10_gain_over_adam", "maximize", "call")
    assert spec.candidate_files == ["driver.py"]
    assert "# EVOLVE-BLOCK-START" in SEED and SGD in SEED


def test_seed_scores_its_documented_value(ev):
    result = ev.evaluate(InProcessCandidate(SEED, task_dir=TASK_DIR))
    assert "error" not in result
    assert result["log10_gain_over_adam"] == pytest.approx(load_task(TASK_DIR).spec.seed_score, rel=1e-9)
    assert f"{result['log10_gain_over_adam']:.4f}" in (TASK_DIR / "README.md").read_text()


def test_momentum_beats_the_seed_and_adam_scores_zero(ev):
    momentum = ev.evaluate(InProcessCandidate(MOMENTUM, task_dir=TASK_DIR))
    assert (
        -0.5 < momentum["log10_gain_over_adam"] < 0.0
        and momentum["gap_quadratic"] < ev.ADAM_GAPS["quadratic"]
    )
    adam = ev.evaluate(InProcessCandidate(ADAM, task_dir=TASK_DIR))
    assert adam["log10_gain_over_adam"] == pytest.approx(0.0, abs=1e-9) and adam["beats_adam"] == 0.0


def test_adam_reference_matches_a_fresh_run(ev):
    fresh = ev.reference_gaps(ev.adam)
    assert fresh.keys() == ev.ADAM_GAPS.keys()
    assert all(fresh[k] == pytest.approx(ev.ADAM_GAPS[k], rel=1e-9) for k in fresh)


def test_state_is_fresh_per_run_and_kept_within_it(ev):
    result = ev.evaluate(InProcessCandidate(BOOKKEEPING, task_dir=TASK_DIR))
    assert result["log10_gain_over_adam"] == pytest.approx(load_task(TASK_DIR).spec.seed_score, rel=1e-9)


@pytest.mark.parametrize(
    "body, reason",
    [
        ('{"loss": 0.0}', "update must return a delta"),  # a claimed result instead of a step
        ("np.zeros(len(grad) + 1)", "update must return a delta of shape"),
        ("np.full(grad.shape, np.nan)", "non-finite at every learning rate"),
    ],
)
def test_forged_steps_are_rejected(ev, tmp_path, body, reason):
    result = ev.evaluate(_forged(tmp_path, body))
    assert reason in result["error"] and "log10_gain_over_adam" not in result


def test_a_failing_update_raises_candidate_error(ev):
    with pytest.raises(CandidateError):
        ev.evaluate(InProcessCandidate(SEED.replace(SGD, "raise ValueError('boom')"), task_dir=TASK_DIR))


def test_gains_are_clipped(ev):
    gaps = {k: v * 1e-9 for k, v in ev.ADAM_GAPS.items()}
    assert ev.score(gaps)["log10_gain_over_adam"] == pytest.approx(ev.CLIP)


def test_probes_are_small_deterministic_and_answered_by_the_seed(ev):
    probes = ev.probes()
    assert 1 <= len(probes) <= 10
    seed = InProcessCandidate(SEED, task_dir=TASK_DIR)
    for (name, args), (again_name, again) in zip(probes, ev.probes()):
        assert name == again_name == "update" and np.array_equal(args[0], again[0]) and args[1:] == again[1:]
        delta, state = seed.call(name, *args)
        assert np.array_equal(delta, -args[3] * args[0]) and state == {}


def test_seed_in_the_real_sandbox():
    """End to end: the seed in its own sandbox, the evaluator in another, talking over the channel."""
    spec = load_task(TASK_DIR).spec
    result = evaluate_in_sandbox(TASK_DIR)
    assert result.status == "ok", result.reason
    assert result.metrics[spec.objective] == pytest.approx(spec.seed_score, rel=1e-9)
    assert result.behaviour_hash
