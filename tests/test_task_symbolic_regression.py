"""The symbolic_regression task (tasks/symbolic_regression): params fitted by the candidate's driver, NMSE here."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from evaluators.candidate_channel import CandidateError, InProcessCandidate
from evolve.task import load_task
from tests.support.tasks import evaluate_in_sandbox, load_evaluator, with_own_driver

TASK_DIR = Path(__file__).resolve().parents[1] / "tasks" / "symbolic_regression"
SEED = (TASK_DIR / "initial_program.py").read_text()
LINEAR = "return params[0] * displacement + params[1] * velocity + params[2]"
# The hidden law's form (sine restoring force, quadratic drag, displacement-dependent friction).
TRUE_FORM = (
    "return params[0] * np.sin(displacement) + params[1] * velocity * np.abs(velocity)"
    " + params[2] * displacement**2 * velocity"
)


@pytest.fixture(scope="module")
def ev():
    return load_evaluator(TASK_DIR)


def _forged(tmp_path: Path, fit_body: str, program: str = SEED) -> InProcessCandidate:
    """A candidate whose driver's fit() returns `fit_body`."""
    return with_own_driver(
        tmp_path, program,
        f"import numpy as np\n\ndef fit(program, x, y):\n    return {fit_body}\n"
    )


def test_task_yaml_loads():
    spec = load_task(TASK_DIR).spec
    assert (spec.objective, spec.direction, spec.interface) == ("neg_log10_nmse", "maximize", "call")
    assert spec.candidate_files == ["driver.py"]
    assert "# EVOLVE-BLOCK-START" in SEED and LINEAR in SEED
    assert "sin(" not in spec.description and "drag" not in spec.description  # the law stays hidden


def test_seed_scores_its_documented_value(ev):
    result = ev.evaluate(InProcessCandidate(SEED, task_dir=TASK_DIR))
    assert "error" not in result
    assert result["neg_log10_nmse"] == pytest.approx(load_task(TASK_DIR).spec.seed_score, rel=1e-9)
    assert f"{result['neg_log10_nmse']:.4f}" in (TASK_DIR / "README.md").read_text()


def test_the_true_form_scores_far_better(ev):
    result = ev.evaluate(InProcessCandidate(SEED.replace(LINEAR, TRUE_FORM), task_dir=TASK_DIR))
    assert result["neg_log10_nmse"] > 5.5
    assert result["nmse_ood"] < 1e-5 and result["nmse_id"] < 1e-5


def test_held_out_points_include_an_out_of_domain_range(ev):
    data = ev.make_data()
    assert np.all(np.abs(data["x_train"]) <= ev.TRAIN_BOX) and np.all(np.abs(data["x_id"]) <= ev.TRAIN_BOX)
    assert np.all(np.any(np.abs(data["x_ood"]) > ev.TRAIN_BOX, axis=1)) and len(data["x_ood"]) == ev.N_TEST
    assert all(np.array_equal(v, ev.DATA[k]) for k, v in data.items())  # seeded: the same every time


@pytest.mark.parametrize(
    "fit_body, reason",
    [
        ('{"neg_log10_nmse": 12.0}', "fit must give 10 params"),  # a claimed score is not a params array
        ("np.ones(3)", "fit must give 10 params"),
        ("np.full(10, np.inf)", "not all finite"),
    ],
)
def test_forged_fit_is_rejected(ev, tmp_path, fit_body, reason):
    result = ev.evaluate(_forged(tmp_path, fit_body))
    assert reason in result["error"] and "neg_log10_nmse" not in result


@pytest.mark.parametrize(
    "body, reason",
    [
        ("return np.zeros(3)", "shape (200,)"),
        ("return np.full(len(x), np.nan)", "non-finite"),
    ],
)
def test_bad_predictions_are_rejected(ev, tmp_path, body, reason):
    result = ev.evaluate(_forged(tmp_path, "np.ones(10)", SEED.replace(LINEAR, body)))
    assert reason in result["error"] and "neg_log10_nmse" not in result


def test_a_failing_equation_raises_candidate_error(ev):
    with pytest.raises(CandidateError):
        ev.evaluate(InProcessCandidate(SEED.replace(LINEAR, "raise ValueError('boom')"), task_dir=TASK_DIR))


def test_bfgs_fits_a_curve_exactly(ev):
    """The driver's fitter recovers noise-free constants (it must not be the weak link of the task)."""
    spec = importlib.util.spec_from_file_location(
        "symbolic_regression_driver_under_test", TASK_DIR / "driver.py"
    )
    driver = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(driver)
    x = np.linspace(-1.0, 1.0, 50)[:, None].repeat(2, axis=1)
    y = 1.5 * np.exp(0.8 * x[:, 0]) - 0.4
    program = type("P", (), {"equation": staticmethod(lambda x, p: p[0] * np.exp(p[1] * x[:, 0]) + p[2])})
    p = driver.fit(program, x, y)
    assert p.shape == (10,) and np.allclose(p[:3], [1.5, 0.8, -0.4], atol=1e-5)


def test_probes_are_small_deterministic_and_answered_by_the_seed(ev):
    probes = ev.probes()
    assert 1 <= len(probes) <= 10
    seed = InProcessCandidate(SEED, task_dir=TASK_DIR)
    for (name, (x, params)), (again_name, (x2, params2)) in zip(probes, ev.probes()):
        assert name == again_name == "equation" and np.array_equal(x, x2) and np.array_equal(params, params2)
        expected = params[0] * x[:, 0] + params[1] * x[:, 1] + params[2]
        assert np.allclose(seed.call(name, x, params), expected)


def test_seed_in_the_real_sandbox():
    """End to end: the seed in its own sandbox, the evaluator in another, talking over the channel."""
    spec = load_task(TASK_DIR).spec
    result = evaluate_in_sandbox(TASK_DIR)
    assert result.status == "ok", result.reason
    assert result.metrics[spec.objective] == pytest.approx(spec.seed_score, rel=1e-9)
    assert result.behaviour_hash
