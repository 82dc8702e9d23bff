"""Runs INSIDE the sandbox: a ShinkaEvolve task's `evaluate.py`, run as ShinkaEvolve runs it, read back as
metrics and artifacts for harness.py.

ShinkaEvolve runs `python evaluate.py --program_path P --results_dir D` and reads D/metrics.json
(`combined_score`, `public`, `private`, `text_feedback`) and D/correct.json (`correct`, `error`). Here the
script runs as `__main__` in this (sandboxed) process with that command line, then:
- metrics: `combined_score` and the numeric `public` metrics; other public values become artifacts; both reach
  the model's prompt, as in ShinkaEvolve;
- `text_feedback` becomes the artifact of that name (shown to the model);
- `private` metrics, and any other top-level entry, are kept as the `private_metrics` artifact, which the
  prompt never shows;
- correct = false (or no correct.json) makes the candidate invalid, with correct.json's error as the reason.
Like OpenEvolve's `path` interface, the candidate runs in the evaluator's process: this is compatible, not
tamper-proof. Only the standard library is used here.
"""

import json
import math
import os
import runpy
import sys

PRIVATE = "private_metrics"  # the artifact the prompt builder leaves out (evolve/prompting.py)


class Report:
    """What harness._split reads: `.metrics` (numbers and other public values) and `.artifacts`."""

    def __init__(self, metrics, artifacts):
        self.metrics, self.artifacts = metrics, artifacts


class ShinkaEvaluator:
    """Stands where harness.py expects an evaluator module: `evaluate(program_path)`."""

    def __init__(self, script):
        self.script = os.path.abspath(script)

    def evaluate(self, program_path):
        results = os.path.abspath("shinka_results")
        os.makedirs(results, exist_ok=True)
        code = _run_script(self.script, ["--program_path", program_path, "--results_dir", results])
        return read_results(results, code)


def _run_script(script, args):
    """Run `script` as __main__ with `args`; its exit code (0 when it returns normally)."""
    saved = list(sys.argv)
    sys.argv = [script, *args]
    try:
        runpy.run_path(script, run_name="__main__")
        return 0
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = saved


def read_results(results_dir, exit_code=0):
    """metrics.json and correct.json of one evaluation as a Report (see the module docstring)."""
    metrics_file = os.path.join(results_dir, "metrics.json")
    if not os.path.isfile(metrics_file):
        raise RuntimeError(f"evaluate.py wrote no metrics.json (exit code {exit_code})")
    with open(metrics_file, encoding="utf-8") as f:
        raw = json.load(f)
    if not isinstance(raw, dict):
        raise ValueError(f"metrics.json holds {type(raw).__name__}, expected an object")
    metrics, artifacts, private = {}, {}, {}
    score = raw.pop("combined_score", None)
    if _number(score):
        metrics["combined_score"] = float(score)
    public = raw.pop("public", None) or {}
    for key, value in (public.items() if isinstance(public, dict) else ()):
        metrics[str(key)] = float(value) if _number(value) else value  # harness moves non-numbers to artifacts
    feedback = raw.pop("text_feedback", None)
    if feedback:
        artifacts["text_feedback"] = feedback if isinstance(feedback, str) else json.dumps(feedback)
    private.update(raw.pop("private", None) or {})
    private.update(raw)
    if private:
        artifacts[PRIVATE] = json.dumps(private, default=repr, sort_keys=True)
    correct, error = _correctness(results_dir)
    if not correct:
        artifacts["error"] = error or "the evaluator marked the program incorrect (correct.json)"
    elif "combined_score" not in metrics:
        artifacts["error"] = f"metrics.json has no numeric combined_score (got {score!r})"
    return Report(metrics, artifacts)


def _correctness(results_dir):
    path = os.path.join(results_dir, "correct.json")
    if not os.path.isfile(path):
        return False, "evaluate.py wrote no correct.json"
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict):
        return False, "correct.json is not an object"
    error = data.get("error")
    return bool(data.get("correct")), (str(error) if error else None)


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
