"""Program evaluation: run a task's `evaluate(path)` on a candidate inside the sandbox and read its report."""

from __future__ import annotations

import json
import math
import shutil
import sys
import tempfile
from pathlib import Path

from evaluators.result import EvalResult
from sandbox import Limits, Outcome, Sandbox

HARNESS = Path(__file__).resolve().with_name("harness.py")
_TAIL = 2000  # characters of stderr/stdout kept as artifacts for the next prompt


class ProgramEvaluator:
    """Scores candidate sources for one task: a fresh private folder and a fresh sandboxed process each time."""

    def __init__(self, *, evaluator_path: Path, program_name: str, objective: str, thresholds: list[float],
                 sandbox: Sandbox, limits: Limits, readonly_paths: list[Path]) -> None:
        self.evaluator_path = evaluator_path
        self.program_name = program_name
        self.objective = objective
        self.thresholds = thresholds
        self.sandbox = sandbox
        self.limits = limits
        self.readonly_paths = [HARNESS.parent, *readonly_paths]

    def evaluate(self, source: str) -> EvalResult:
        """Blocking; the controller calls it from worker threads, several at once."""
        workdir = Path(tempfile.mkdtemp(prefix="evolve-eval-"))
        try:
            program = workdir / self.program_name
            program.write_text(source, encoding="utf-8")
            spec = json.dumps({"objective": self.objective, "thresholds": self.thresholds})
            argv = [sys.executable, "-I", str(HARNESS), str(self.evaluator_path), str(program), spec]
            outcome = self.sandbox.run(argv, workdir, self.limits, readonly_paths=self.readonly_paths)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        return interpret(outcome, self.objective, self.limits)


def interpret(outcome: Outcome, objective: str, limits: Limits) -> EvalResult:
    """Map a sandbox outcome and the harness report to a status, metrics, artifacts and a readable reason."""
    base = dict(wall_s=outcome.wall_s, cpu_s=outcome.cpu_s, peak_mem_mb=outcome.peak_mem_mb,
                returncode=outcome.returncode)
    artifacts = {k: v[-_TAIL:] for k, v in (("stderr", outcome.stderr), ("stdout", outcome.stdout)) if v.strip()}
    if outcome.timed_out:
        return EvalResult("timeout", artifacts=artifacts, reason=f"exceeded the {limits.wall_s:g} s wall-time limit",
                          **base)
    report = _parse_report(outcome.result)
    if outcome.violation:
        return EvalResult("sandbox-violation", artifacts=artifacts, reason=outcome.violation, **base)
    if report is None:
        last = outcome.stderr.strip().splitlines()[-1:] or ["no output"]
        return EvalResult("crashed", artifacts=artifacts,
                          reason=f"evaluation process ended (exit code {outcome.returncode}) without a report: {last[0]}",
                          **base)
    artifacts.update(report.get("artifacts", {}))
    stage = int(report.get("stage", 0))
    metrics = {k: float(v) for k, v in report.get("metrics", {}).items() if isinstance(v, (int, float))}
    if "error" in report:
        artifacts["traceback"] = str(report.get("traceback", ""))[-_TAIL:]
        return EvalResult("crashed", metrics, artifacts, reason=str(report["error"])[:500], stage=stage, **base)
    if "error" in artifacts:
        return EvalResult("invalid", metrics, artifacts, reason=artifacts["error"][:500], stage=stage, **base)
    value = metrics.get(objective)
    if value is None:
        return EvalResult("invalid", metrics, artifacts, stage=stage,
                          reason=f"the evaluator returned no '{objective}' metric (got {sorted(metrics)})", **base)
    if not math.isfinite(value):
        return EvalResult("invalid", metrics, artifacts, reason=f"'{objective}' is {value}", stage=stage, **base)
    return EvalResult("ok", metrics, artifacts, stage=stage, **base)


def _parse_report(raw: bytes | None) -> dict | None:
    if not raw:
        return None
    try:
        report = json.loads(raw.decode("utf-8", errors="replace"))
    except ValueError:
        return None
    return report if isinstance(report, dict) else None
