"""Runs INSIDE the sandbox: load a task's evaluator, run its cascade on one candidate, report on the result fd.

Usage: python -I harness.py EVALUATOR_PY PROGRAM_PATH SPEC_JSON
SPEC_JSON: {"objective": str, "thresholds": [float, ...], "interface": "call" | "path",
            "fds": [request_fd, reply_fd], "deadline_s": float, "mode": "evaluate" | "probes",
            "split": "dev" | "test", "eval_seed": int | null}.

With the `call` interface the candidate is not in this process: the evaluator gets a `Candidate` whose calls go
to the candidate's own sandbox over the two fds (see candidate_channel.py). With `path` (OpenEvolve's contract)
the evaluator receives the program's path and imports it itself. Mode "probes" reports the task's probe inputs.
Split "test" calls the evaluator's `evaluate_test` instead of its cascade (held-out data, scored once after a run);
an "eval_seed" reseeds the global `random` generator and is exported as EVOLVE_EVAL_SEED (re-verification runs a
stochastic evaluator under fresh seeds).
evaluator_server.py judges many candidates with one loaded evaluator through `load` and `judge`.

Only the standard library is used here, so the harness works in any interpreter the sandbox offers. The report is a
single JSON object written to the file descriptor named by EVOLVE_RESULT_FD, never to stdout, so nothing a candidate
prints can pass for a result.
"""

import fcntl
import importlib.util
import json
import math
import os
import random
import resource
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # -I leaves the script's folder off sys.path
import candidate_channel  # noqa: E402
import openevolve_fitness  # noqa: E402

#: Evolve's stand-ins for the modules peer evaluators import (openevolve.evaluation_result, shinka.core), last
#: on sys.path so that a really installed package wins; evaluator_server.py gets it by importing this module.
PEER_COMPAT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peer_compat")
if PEER_COMPAT not in sys.path:
    sys.path.append(PEER_COMPAT)


def load_for(path, spec):
    """The evaluator for `spec`'s interface: a ShinkaEvolve script behind an adapter, or a module."""
    if spec.get("interface") == "shinka":
        import shinka_eval

        sys.path.insert(0, os.path.dirname(os.path.abspath(path)))  # its helpers, as `python evaluate.py` has
        return shinka_eval.ShinkaEvaluator(path)
    return load(path)


def load(path):
    """The task's evaluator module, imported from its file (its folder first on sys.path, for its helpers)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    spec = importlib.util.spec_from_file_location("evolve_task_evaluator", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _split(value):
    """Floats go to metrics, anything else to artifacts (OpenEvolve evaluators return a dict or an object)."""
    if hasattr(value, "metrics"):
        metrics, artifacts = dict(value.metrics), dict(getattr(value, "artifacts", None) or {})
    elif isinstance(value, dict):
        metrics, artifacts = dict(value), {}
    else:
        raise TypeError(f"evaluator returned {type(value).__name__}; expected a dict of metrics")
    floats = {}
    for key, item in metrics.items():
        if isinstance(item, bool) or not isinstance(item, (int, float)):
            artifacts[str(key)] = item
        else:
            floats[str(key)] = float(item)
    return floats, {str(k): v if isinstance(v, str) else repr(v) for k, v in artifacts.items()}


def _below(metrics, objective, threshold):
    """A stage passes on the objective if reported, else on the mean of its metrics (OpenEvolve's rule)."""
    if objective in metrics:
        value = metrics[objective]
    else:
        finite = [v for v in metrics.values() if math.isfinite(v)]
        value = sum(finite) / len(finite) if finite else 0.0
    return not value >= threshold


def _subject(spec, program_path):
    """What the evaluator's functions receive: a channel to the candidate, or (OpenEvolve) the program's path."""
    if spec.get("interface") != "call":
        return program_path
    with open(program_path, encoding="utf-8") as f:
        source = f.read()
    request_fd, reply_fd = spec["fds"]
    return candidate_channel.Candidate(source, request_fd, reply_fd, time.monotonic() + spec["deadline_s"])


def _cascade(module, spec, subject, report):
    if spec.get("eval_seed") is not None:
        os.environ["EVOLVE_EVAL_SEED"] = str(spec["eval_seed"])
        random.seed(spec["eval_seed"])
    if spec.get("split") == "test":
        metrics, artifacts = _split(module.evaluate_test(subject))
        report.update(stage=0, metrics=metrics, artifacts=artifacts)
        return
    passed = True
    for stage, threshold in enumerate(spec.get("thresholds", []), start=1):
        fn = getattr(module, f"evaluate_stage{stage}", None)
        if fn is None:
            break
        metrics, artifacts = _split(fn(subject))
        report.update(stage=stage, metrics=metrics, artifacts=artifacts)
        if _below(metrics, spec["objective"], threshold) or "error" in artifacts:
            passed = False
            break
    if passed:
        metrics, artifacts = _split(module.evaluate(subject))
        if "fitness_exclude" in spec:
            openevolve_fitness.fill_fitness(metrics, spec["objective"], spec["fitness_exclude"])
        report.update(stage=0, metrics=metrics, artifacts=artifacts)



def _private_result_channel():
    """Move the result fd to a high close-on-exec number and drop its name from the environment: with the
    `path` interface the candidate shares this process, and should at least not be told where to write."""
    fd = int(os.environ.pop("EVOLVE_RESULT_FD"))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    private = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, max(3, min(512, soft // 2)))
    os.close(fd)
    return os.fdopen(private, "w")


def judge(get_module, spec, get_subject):
    """The report on one subject (see _subject) by the module get_module() returns: the cascade's stage, metrics
    and artifacts, the task's probes in mode "probes", or why it failed (the candidate's fault or not)."""
    report = {"stage": 0, "metrics": {}, "artifacts": {}}
    try:
        module = get_module()
        if spec.get("mode") == "probes":
            probes = getattr(module, "probes", None)
            report = {"probes": candidate_channel.encode([list(p) for p in probes()]) if probes else None}
        else:
            _cascade(module, spec, get_subject(), report)
    except candidate_channel.CandidateError as exc:  # the candidate failed; the evaluator did not
        report.update(error=exc.message, candidate_error=exc.kind, traceback=exc.detail)
    except BaseException as exc:  # noqa: BLE001 - whatever the candidate raises is a reportable failure
        report["error"] = f"{type(exc).__name__}: {exc}"
        report["traceback"] = traceback.format_exc(limit=-8)
    return report


def main():
    evaluator_path, program_path, spec_json = sys.argv[1:4]
    spec = json.loads(spec_json)
    out = _private_result_channel()
    report = judge(lambda: load_for(evaluator_path, spec), spec, lambda: _subject(spec, program_path))
    out.write(json.dumps(report, default=repr))
    out.close()


if __name__ == "__main__":
    main()
