"""Evolve's stand-ins for the modules peer evaluators import, checked against the peers' real code.

The real modules come from the peers' published wheels (`pip download --no-deps`, ~170 KB each, a few seconds,
from the package index CI reaches) and are loaded from their files, not installed: `openevolve/
evaluation_result.py` and `shinka/core/wrap_eval.py` (with the `shinka.utils.eval_stop` module it imports).
Both implementations run the same calls and their results are compared.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import types
import zipfile
from pathlib import Path

import pytest

COMPAT = Path(__file__).resolve().parents[1] / "evaluators" / "peer_compat"


def _load(name: str, path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def wheels(tmp_path_factory) -> Path:
    """The peers' wheels, unpacked (files only; nothing is installed)."""
    root = tmp_path_factory.mktemp("peer_wheels")
    done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(root),
                           "openevolve==0.4.1", "shinka-evolve==0.0.7"], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"pip could not fetch the peers' wheels from the package index: {done.stderr[-500:]}"
    for wheel in root.glob("*.whl"):
        zipfile.ZipFile(wheel).extractall(root / "src")
    return root / "src"


def test_evaluation_result_behaves_like_openevolves(wheels):
    real = _load("real_evaluation_result", wheels / "openevolve" / "evaluation_result.py").EvaluationResult
    ours = _load("our_evaluation_result", COMPAT / "openevolve" / "evaluation_result.py").EvaluationResult
    for cls in (real, ours):
        metrics = {"combined_score": 0.5, "n": 3}
        wrapped = cls.from_dict(metrics)
        assert wrapped.to_dict() is metrics and not wrapped.has_artifacts()
        full = cls(metrics={"a": 1.0}, artifacts={"text": "héllo", "blob": b"\x00\x01\x02", "num": 12345})
        observed = (full.get_artifact_keys(), full.get_artifact_size("text"), full.get_artifact_size("blob"),
                    full.get_artifact_size("num"), full.get_artifact_size("missing"), full.get_total_artifact_size(),
                    full.has_artifacts(), full == cls(metrics={"a": 1.0}, artifacts=dict(full.artifacts)))
        assert observed == (["text", "blob", "num"], 6, 3, 5, 0, 14, True, True)


def _real_wrap_eval(wheels: Path, monkeypatch) -> types.ModuleType:
    for name in ("shinka", "shinka.utils"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "shinka.utils.eval_stop",
                        _load("shinka.utils.eval_stop", wheels / "shinka" / "utils" / "eval_stop.py"))
    return _load("real_wrap_eval", wheels / "shinka" / "core" / "wrap_eval.py")


PROGRAM = """
def experiment(seed=0, scale=1.0):
    if scale < 0:
        raise ValueError("negative scale")
    return [seed * scale, float("nan") if scale == 99 else 1.0]
"""


@pytest.mark.parametrize("case", ["valid", "invalid", "raises", "nan", "default_kwargs"])
def test_run_shinka_eval_writes_what_shinkaevolves_does(wheels, monkeypatch, tmp_path, case):
    real = _real_wrap_eval(wheels, monkeypatch)
    ours = _load("our_wrap_eval", COMPAT / "shinka" / "core" / "wrap_eval.py")
    program = tmp_path / "program.py"
    program.write_text(PROGRAM)
    scale = {"valid": 1.0, "invalid": 2.0, "raises": -1.0, "nan": 99.0, "default_kwargs": 1.0}[case]
    kwargs = None if case == "default_kwargs" else (lambda i: {"seed": i, "scale": scale})

    def validate(result):
        return (result[0] < 3, None if result[0] < 3 else f"too big: {result[0]}")

    def aggregate(results):
        return {"combined_score": sum(r[0] for r in results) + results[0][1], "public": {"runs": len(results)},
                "private": {"first": results[0][0]}, "text_feedback": "fine"}

    outputs = []
    for impl in (real, ours):
        folder = tmp_path / impl.__name__
        metrics, correct, error = impl.run_shinka_eval(
            program_path=str(program), results_dir=str(folder), experiment_fn_name="experiment", num_runs=3,
            get_experiment_kwargs=kwargs, validate_fn=validate, aggregate_metrics_fn=aggregate)
        written = json.loads((folder / "metrics.json").read_text())
        for timing in ("execution_time_mean", "execution_time_std"):
            assert isinstance(written.pop(timing), float)
        outputs.append((written, json.loads((folder / "correct.json").read_text()), correct, error))
    assert outputs[0] == outputs[1]
    expected_correct = {"valid": True, "invalid": False, "raises": False, "nan": False, "default_kwargs": False}
    assert outputs[1][2] is expected_correct[case]
