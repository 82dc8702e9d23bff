"""`run_shinka_eval`: run a candidate's experiment function N times, validate and aggregate, and write
`metrics.json` and `correct.json` into the results folder, as ShinkaEvolve's evaluator helper does.

Behaviour kept: the candidate is imported from its path; run i gets `get_experiment_kwargs(i)` (default
`{"seed": i + 1}`); `validate_fn(result) -> (ok, message)` marks the program incorrect with the first message;
`aggregate_metrics_fn(results)` makes the metrics (default: a run count and a preview of the results);
`execution_time_mean`/`_std` are added, and validation counts when validating; a NaN or infinite
`combined_score` makes it incorrect; any exception gives the default error metrics and correct = false;
an `extra_data` metric is pickled to extra.pkl (and drawn by `plotting_fn` when matplotlib is present).
Differences, said on stdout: runs are always sequential (the sandbox gives one evaluation one CPU budget, so
`run_workers` > 1 is not used) and early stopping is not applied (every run is made).
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import pickle
import statistics
import time
from collections.abc import Callable
from typing import Any

_ERROR_METRICS: dict[str, Any] = {
    "combined_score": 0.0,
    "execution_time_mean": 0.0,
    "execution_time_std": 0.0,
    "num_successful_runs": 0,
    "num_valid_runs": 0,
    "num_invalid_runs": 0,
    "all_validation_errors": [],
}


def load_program(program_path: str) -> Any:
    """The candidate, imported from its file as module `program`."""
    spec = importlib.util.spec_from_file_location("program", program_path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import a module from {program_path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def save_json_results(results_dir: str, metrics: dict[str, Any], correct: bool, error: str | None = None,
                      verbose: bool = True) -> None:
    """correct.json ({"correct", "error"}) and metrics.json in `results_dir`."""
    os.makedirs(results_dir, exist_ok=True)
    with open(os.path.join(results_dir, "correct.json"), "w") as f:
        json.dump({"correct": correct, "error": error}, f, indent=4)
    with open(os.path.join(results_dir, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=4, default=_jsonable)
    if verbose:
        print(f"results written to {results_dir} (correct: {correct})")


def _jsonable(value: Any) -> Any:
    """numpy scalars and arrays (and anything else) as plain JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def run_shinka_eval(
    program_path: str,
    results_dir: str,
    experiment_fn_name: str,
    num_runs: int,
    get_experiment_kwargs: Callable[[int], dict[str, Any]] | None = None,
    aggregate_metrics_fn: Callable[[list[Any]], dict[str, Any]] | None = None,
    validate_fn: Callable[[Any], tuple[bool, str | None]] | None = None,
    plotting_fn: Callable[[Any], list[Any]] | None = None,
    default_metrics_on_error: dict[str, Any] | None = None,
    early_stop_method: Any = None,
    early_stop_threshold: float | None = None,
    early_stop_score_fn: Callable[[Any], float] | None = None,
    early_stop_kwargs: dict[str, Any] | None = None,
    run_workers: int = 1,
    max_workers_cap: int | None = None,
    verbose: bool | None = None,
) -> tuple[dict[str, Any], bool, str | None]:
    """Returns (metrics, correct, first error message) and writes them to `results_dir`."""
    if verbose is None:
        verbose = os.environ.get("SHINKA_EVAL_VERBOSE", "1") != "0"
    if run_workers < 1:
        raise ValueError("run_workers must be >= 1")
    if early_stop_method is not None and early_stop_threshold is None:
        raise ValueError("early_stop_threshold is required when early_stop_method is set")
    if run_workers > 1 or early_stop_method is not None:
        print("note: Evolve's run_shinka_eval makes every run, one after another "
              "(no worker processes, no early stopping)")
    correct, first_error = True, None
    errors: list[str] = []
    valid = invalid = 0
    results: list[Any] = []
    times: list[float] = []
    try:
        module = load_program(program_path)
        if not hasattr(module, experiment_fn_name):
            raise AttributeError(f"Experiment function '{experiment_fn_name}' not found in {program_path}")
        experiment = getattr(module, experiment_fn_name)
        for i in range(num_runs):
            kwargs = get_experiment_kwargs(i) if get_experiment_kwargs else {"seed": i + 1}
            start = time.perf_counter()
            result = experiment(**kwargs)
            times.append(time.perf_counter() - start)
            results.append(result)
            if verbose:
                print(f"run {i + 1}/{num_runs} took {times[-1]:.3f} s")
            if validate_fn is None:
                continue
            ok, message = validate_fn(result)
            if ok:
                valid += 1
                continue
            invalid += 1
            correct = False
            if message:
                first_error = first_error or f"Validation failed: {message}"
                if message not in errors:
                    errors.append(message)
        if aggregate_metrics_fn is not None:
            metrics = aggregate_metrics_fn(results)
        else:
            metrics = {"num_successful_runs": len(results),
                       "first_run_result_type": str(type(results[0])) if results else "N/A",
                       "raw_results_preview": str(results[:2]) if results else "N/A"}
        metrics["execution_time_mean"] = statistics.fmean(times) if times else 0.0
        metrics["execution_time_std"] = statistics.pstdev(times) if times else 0.0
        if validate_fn is not None:
            metrics.update(num_valid_runs=valid, num_invalid_runs=invalid, all_validation_errors=errors)
        score = metrics.get("combined_score")
        if isinstance(score, (int, float)) and not math.isfinite(float(score)):
            correct = False
            first_error = first_error or f"combined_score is {score}"
    except Exception as exc:  # noqa: BLE001 - the candidate's failure is the evaluation's result
        print(f"Evaluation error: {exc}")
        defaults = dict(default_metrics_on_error or _ERROR_METRICS)
        metrics = {key: defaults.get(key, value) for key, value in _ERROR_METRICS.items()}
        correct, first_error = False, str(exc)
    if "extra_data" in metrics:
        _save_extra(results_dir, metrics.pop("extra_data"), plotting_fn)
    save_json_results(results_dir, metrics, correct, first_error, verbose=verbose)
    return metrics, correct, first_error


def _save_extra(results_dir: str, extra: Any, plotting_fn: Callable[[Any], list[Any]] | None) -> None:
    """extra.pkl, and the figures `plotting_fn` draws from it (PNG) when matplotlib can be imported."""
    os.makedirs(results_dir, exist_ok=True)
    with open(os.path.join(results_dir, "extra.pkl"), "wb") as f:
        pickle.dump(extra, f)
    if plotting_fn is None:
        return
    try:
        import matplotlib.pyplot as plt

        plots = os.path.join(results_dir, "plots")
        os.makedirs(plots, exist_ok=True)
        for figure, title in plotting_fn(extra):
            figure.savefig(os.path.join(plots, f"{title}.png"), bbox_inches="tight")
            plt.close(figure)
    except Exception as exc:  # noqa: BLE001 - plots are a side product; the score stands without them
        print(f"plots not drawn: {exc}")
