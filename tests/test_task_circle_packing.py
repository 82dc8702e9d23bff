"""The built-in circle_packing task (tasks/circle_packing) and the OpenEvolve-style fixture folder.

The evaluators are called in-process here; in a run they execute inside the sandbox.
"""

from __future__ import annotations

import importlib.util
import math
import re
import statistics
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from evaluators.candidate_channel import InProcessCandidate

ROOT = Path(__file__).resolve().parents[1]
TASK = ROOT / "tasks" / "circle_packing"
FIXTURE = ROOT / "tests" / "fixtures" / "openevolve_minimize"
SEED_SUM = 2.4 + 0.1 * math.sqrt(2.0)  # 25 circles of r=0.1, one of r=0.1*(sqrt(2)-1)


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _InProcess:
    """The task's evaluator with `evaluate(path)` calling the program in-process through the channel's codec
    (InProcessCandidate): the evaluator's logic, without the sandbox (tested separately below)."""

    def __init__(self, module) -> None:
        self.module = module

    def __getattr__(self, name):
        return getattr(self.module, name)

    def evaluate(self, path) -> dict:
        return self.module.evaluate(InProcessCandidate(Path(path).read_text()))


@pytest.fixture(scope="module")
def ev():
    return _InProcess(_load(TASK / "evaluate.py", "circle_packing_evaluate_under_test"))


def _grid_packing():
    """Hand-made valid packing: 26 of the 30 cells of a 6x5 grid (cells 1/6 x 1/5), r = 1/12 each."""
    pts = [((i + 0.5) / 6, (j + 0.5) / 5) for j in range(5) for i in range(6)][:26]
    return np.array(pts), np.full(26, 1 / 12)


def _seed_packing():
    return _load(TASK / "initial_program.py", "circle_packing_seed_under_test").run_packing()[:2]


def _program(tmp_path: Path, body: str, name: str = "candidate.py") -> Path:
    """Write a candidate program; `body` defines run_packing() (numpy is imported as np)."""
    path = tmp_path / name
    path.write_text("import numpy as np\nnan, inf = float('nan'), float('inf')\n" + textwrap.dedent(body))
    return path


def _returning(tmp_path: Path, centers, radii, claimed=None) -> Path:
    claimed = float(np.sum(radii)) if claimed is None else claimed
    return _program(
        tmp_path,
        f"""
        def run_packing():
            centers = np.array({np.asarray(centers, dtype=float).tolist()!r})
            radii = np.array({np.asarray(radii, dtype=float).tolist()!r})
            return centers, radii, {claimed!r}
        """,
    )


def _assert_valid(metrics: dict, expected_sum: float):
    assert "error" not in metrics, metrics.get("error")
    assert metrics["validity"] == 1.0
    assert metrics["sum_radii"] == pytest.approx(expected_sum, abs=1e-12)
    assert metrics["target_ratio"] == pytest.approx(expected_sum / 2.635983)
    assert metrics["combined_score"] == metrics["target_ratio"]


def _assert_invalid(metrics: dict, pattern: str):
    assert metrics["validity"] == 0.0
    assert metrics["sum_radii"] == 0.0
    assert metrics["combined_score"] == 0.0
    assert metrics["target_ratio"] == 0.0
    assert isinstance(metrics["error"], str)
    assert re.search(pattern, metrics["error"]), metrics["error"]
    assert all(isinstance(v, float) for k, v in metrics.items() if k != "error")


# --- task folder ---


def test_task_yaml_schema():
    spec = yaml.safe_load((TASK / "task.yaml").read_text())
    assert spec["name"] == "circle_packing"
    assert spec["kind"] == "program"
    assert spec["language"] == "python"
    assert spec["objective"] == "sum_radii"
    assert spec["direction"] == "maximize"
    assert spec["best_known"] == pytest.approx(2.635983)
    assert spec["limits"] == {"wall_s": 60, "memory_mb": 2048}
    assert spec["interface"] == "call" and "cascade_thresholds" not in spec
    assert [f["name"] for f in spec["features"]] == ["code_length", "edit_distance"]
    assert spec["run"]["iterations"] == 100
    assert (TASK / spec["seed"]).is_file() and (TASK / spec["evaluator"]).is_file()
    assert isinstance(spec["description"], str) and len(spec["description"].split()) < 150


def test_seed_is_short_and_has_one_evolve_block():
    text = (TASK / "initial_program.py").read_text()
    assert len(text.splitlines()) <= 45
    assert text.count("# EVOLVE-BLOCK-START") == 1 and text.count("# EVOLVE-BLOCK-END") == 1
    start, end = text.index("# EVOLVE-BLOCK-START"), text.index("# EVOLVE-BLOCK-END")
    assert start < end < text.index("def run_packing")
    assert "scipy" not in text
    assert "scipy" not in (TASK / "evaluate.py").read_text()


def test_seed_scores_the_readme_value(ev):
    metrics = ev.evaluate(TASK / "initial_program.py")
    _assert_valid(metrics, SEED_SUM)
    assert set(metrics) == {"sum_radii", "validity", "target_ratio", "combined_score"}
    assert f"{metrics['sum_radii']:.6f}" == "2.541421"
    assert "2.541421" in (TASK / "README.md").read_text()
    assert ev.BEST_KNOWN == yaml.safe_load((TASK / "task.yaml").read_text())["best_known"]


def test_hand_made_packing_is_valid(ev, tmp_path):
    centers, radii = _grid_packing()
    _assert_valid(ev.evaluate(_returning(tmp_path, centers, radii)), 26 / 12)


def test_two_tuple_return_is_accepted(ev, tmp_path):
    centers, radii = _grid_packing()
    path = _program(
        tmp_path,
        f"""
        def run_packing():
            return {centers.tolist()!r}, {radii.tolist()!r}
        """,
    )
    _assert_valid(ev.evaluate(path), 26 / 12)


def test_touching_within_tolerance_is_valid_beyond_is_not(ev):
    centers, radii = _seed_packing()
    assert ev.check_packing(centers, radii + 4e-10)[1] is None  # overlaps of 8e-10 < 1e-9 pass
    total, reason = ev.check_packing(centers, radii + 1e-6)
    assert total == 0.0 and reason is not None


def test_claimed_sum_is_ignored_for_a_valid_packing(ev, tmp_path):
    centers, radii = _grid_packing()
    _assert_valid(ev.evaluate(_returning(tmp_path, centers, radii, claimed=1e9)), 26 / 12)


# --- invalid candidates ---


def _invalid_cases():
    c, r = _grid_packing()

    def mod(fn):
        cc, rr = c.copy(), r.copy()
        fn(cc, rr)
        return cc, rr

    return {
        # circle 1 moved onto circle 0
        "overlap": (*mod(lambda cc, rr: cc.__setitem__(1, cc[0] + [0.1, 0.0])), r"circle 0 overlaps"),
        "outside": (*mod(lambda cc, rr: cc.__setitem__(5, [0.98, 0.1])), r"circle 5 .* outside the unit"),
        "negative_center": (*mod(lambda cc, rr: cc.__setitem__(0, [-0.2, 0.1])), r"outside the unit square"),
        "too_big": (*mod(lambda cc, rr: rr.__setitem__(3, 0.6)), r"outside|overlaps"),
        "25_circles": (c[:25], r[:25], r"shape \(25, 2\); expected \(26, 2\)"),
        "27_radii": (c, np.append(r, 0.01), r"radii has shape \(27,\)"),
        "nan_center": (*mod(lambda cc, rr: cc.__setitem__((4, 1), np.nan)), r"circle 4 has a non-finite"),
        "nan_radius": (*mod(lambda cc, rr: rr.__setitem__(2, np.nan)), r"circle 2 has a non-finite"),
        "inf_radius": (*mod(lambda cc, rr: rr.__setitem__(2, np.inf)), r"non-finite"),
        "negative_radius": (*mod(lambda cc, rr: rr.__setitem__(7, -0.05)), r"circle 7 has a negative radius"),
        "transposed": (c.T, r, r"centers has shape \(2, 26\)"),
    }


@pytest.mark.parametrize("case", list(_invalid_cases()))
def test_invalid_packing_scores_zero(ev, tmp_path, case):
    centers, radii, pattern = _invalid_cases()[case]
    path = _returning(tmp_path, centers, radii, claimed=100.0)
    _assert_invalid(ev.evaluate(path), pattern)


def test_huge_claimed_sum_with_invalid_packing_scores_zero(ev, tmp_path):
    # 26 circles of radius 0.5 at the centre: "sum" 13 claimed as 1e6
    path = _returning(tmp_path, np.full((26, 2), 0.5), np.full(26, 0.5), claimed=1e6)
    metrics = ev.evaluate(path)
    _assert_invalid(metrics, r"overlaps .* \(324 more overlapping pairs\)")


@pytest.mark.parametrize(
    "body, pattern",
    [
        ("def run_packing():\n    raise RuntimeError('boom')\n", r"RuntimeError: boom"),
        ("raise ValueError('at import')\n", r"ValueError: at import"),
        ("import sys\ndef run_packing():\n    sys.exit(3)\n", r"SystemExit"),
        ("def construct_packing():\n    pass\n", r"no function run_packing"),
        ("def run_packing(:\n", r"SyntaxError"),
        ("def run_packing():\n    return None\n", r"must return \(centers, radii, sum_radii\); got NoneType"),
        ("def run_packing():\n    return 2.7\n", r"got float"),
        ("def run_packing():\n    return ([[0.5, 0.5]] * 26, ['a'] * 26, 1.0)\n", r"not numeric|ValueError"),
        ("def run_packing():\n    return ([[0.5, 0.5], [0.1]] * 13, [0.1] * 26, 1.0)\n", r"numeric"),
    ],
    ids=["raises", "raises_at_import", "sys_exit", "no_entry_point", "syntax_error", "returns_none",
         "returns_float", "strings", "ragged"],
)
def test_broken_program_scores_zero_with_reason(ev, tmp_path, body, pattern):
    path = tmp_path / "candidate.py"
    path.write_text(body)
    _assert_invalid(ev.evaluate(path), pattern)


def test_evaluator_is_fast(ev):
    seed = TASK / "initial_program.py"
    ev.evaluate(seed)  # warm the import caches
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        ev.evaluate(seed)
        runs.append(time.perf_counter() - t0)
    assert statistics.median(runs) < 0.1, runs

    centers, radii = _seed_packing()
    t0 = time.perf_counter()
    for _ in range(100):
        ev.check_packing(centers, radii)
    assert (time.perf_counter() - t0) / 100 < 0.01


# --- OpenEvolve-style fixture ---


def test_openevolve_fixture_evaluator_runs_on_its_initial_program():
    evaluator = _load(FIXTURE / "evaluator.py", "openevolve_fixture_evaluator")
    program = str(FIXTURE / "initial_program.py")

    stage1 = evaluator.evaluate_stage1(program)
    assert "error" not in stage1, stage1
    assert stage1["runs_successfully"] == 1.0

    metrics = evaluator.evaluate(program)
    assert "error" not in metrics, metrics
    assert all(isinstance(v, float) and math.isfinite(v) for v in metrics.values())
    assert 0.0 < metrics["combined_score"] <= 1.0
    assert metrics["reliability_score"] == 1.0


def test_openevolve_fixture_evaluator_reports_failures(tmp_path):
    evaluator = _load(FIXTURE / "evaluator.py", "openevolve_fixture_evaluator_failures")
    bad = tmp_path / "bad.py"
    bad.write_text("def run_search():\n    raise ValueError('nope')\n")
    metrics = evaluator.evaluate(str(bad))
    assert metrics["combined_score"] == 0.0 and "nope" in metrics["error"]
    assert evaluator.evaluate_stage1(str(bad))["runs_successfully"] == 0.0


def test_openevolve_fixture_layout_and_config_shape():
    assert {p.name for p in FIXTURE.iterdir() if p.suffix in {".py", ".yaml"}} == {
        "initial_program.py", "evaluator.py", "config.yaml"}
    source = (FIXTURE / "initial_program.py").read_text()
    assert "# EVOLVE-BLOCK-START" in source and "# EVOLVE-BLOCK-END" in source and "def run_search" in source
    cfg = yaml.safe_load((FIXTURE / "config.yaml").read_text())
    assert isinstance(cfg["max_iterations"], int) and isinstance(cfg["random_seed"], int)
    assert {"primary_model", "api_base", "temperature", "max_tokens"} <= set(cfg["llm"])
    assert isinstance(cfg["prompt"]["system_message"], str)
    assert {"population_size", "num_islands", "migration_interval", "feature_bins"} <= set(cfg["database"])
    assert cfg["database"]["feature_dimensions"] == ["complexity", "diversity"]
    evaluator_keys = {"timeout", "cascade_evaluation", "cascade_thresholds", "parallel_evaluations"}
    assert evaluator_keys <= set(cfg["evaluator"])
