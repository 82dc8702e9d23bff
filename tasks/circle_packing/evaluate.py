"""Evaluator for the circle_packing task: 26 circles in the unit square, maximize the sum of radii.

Follows OpenEvolve's evaluator convention: ``evaluate(program_path)`` returns a flat dict whose numeric
values are the metrics; an invalid candidate also gets a string ``"error"`` (the harness moves non-float
values into the candidate's artifacts, which are fed back to the LLM).

The candidate's own claimed sum is never trusted: the sum is recomputed from the returned radii, and only
after the packing passed every check (shape, finiteness, radii >= 0, containment, pairwise non-overlap, all
to an absolute tolerance of 1e-9).

Time limits and isolation are the sandbox's job: this module imports the candidate in-process and calls its
``run_packing()`` once per stage. It takes some cheap precautions against a candidate that tampers with the
checker from inside the process (see ``_guarded_run``), but it is not a security boundary.
"""

from __future__ import annotations

import builtins
import importlib.util
import math
import sys
import uuid

import numpy as np

N_CIRCLES = 26
BEST_KNOWN = 2.635983  # best known sum of radii for n=26 (see README.md)
TOL = 1e-9  # absolute tolerance for containment and overlap

# Bound once at import, before any candidate runs: a candidate that reassigns ``np.hypot`` or ``math.fsum``
# does not change what the checker calls. Ufuncs themselves are immutable C objects.
_array = np.array
_float64 = np.float64
_isfinite = np.isfinite
_hypot = np.hypot
_subtract = np.subtract
_add = np.add
_maximum = np.maximum
_fsum = math.fsum
_IU, _JU = np.triu_indices(N_CIRCLES, k=1)  # the 325 pairs i < j


def _zeros(reason: str) -> dict:
    return {"sum_radii": 0.0, "validity": 0.0, "target_ratio": 0.0, "combined_score": 0.0, "error": reason}


def check_packing(centers, radii) -> tuple[float, str | None]:
    """Validate a packing and return (sum of radii, None), or (0.0, reason) when it is invalid."""
    try:
        c = _array(centers, dtype=_float64)
        r = _array(radii, dtype=_float64)
    except Exception as exc:  # ragged lists, strings, complex numbers, ...
        return 0.0, f"centers/radii are not numeric arrays: {type(exc).__name__}: {exc}"
    if c.shape != (N_CIRCLES, 2):
        return 0.0, f"centers has shape {c.shape}; expected ({N_CIRCLES}, 2)"
    if r.shape != (N_CIRCLES,):
        return 0.0, f"radii has shape {r.shape}; expected ({N_CIRCLES},)"
    bad = ~(_isfinite(c).all(axis=1) & _isfinite(r))
    if bad.any():
        i = int(bad.argmax())
        return 0.0, f"circle {i} has a non-finite value (center {c[i].tolist()}, radius {r[i]})"
    if (r < 0).any():
        i = int(r.argmin())
        return 0.0, f"circle {i} has a negative radius {r[i]:.6g}"

    # Containment: how far each circle sticks out of [0, 1]^2 (positive = outside).
    rr = r[:, None]
    out = _maximum(_subtract(rr, c), _add(c, rr) - 1.0).max(axis=1)
    n_out = int((out > TOL).sum())
    if n_out:
        i = int(out.argmax())
        more = f" ({n_out - 1} more circles outside)" if n_out > 1 else ""
        return 0.0, (
            f"circle {i} (center ({c[i, 0]:.6g}, {c[i, 1]:.6g}), radius {r[i]:.6g}) extends outside "
            f"the unit square by {out[i]:.3g}{more}"
        )

    # Pairwise overlap: r_i + r_j - |c_i - c_j| (positive = overlap).
    dist = _hypot(c[_IU, 0] - c[_JU, 0], c[_IU, 1] - c[_JU, 1])
    overlap = r[_IU] + r[_JU] - dist
    n_over = int((overlap > TOL).sum())
    if n_over:
        k = int(overlap.argmax())
        more = f" ({n_over - 1} more overlapping pairs)" if n_over > 1 else ""
        return 0.0, f"circle {_IU[k]} overlaps circle {_JU[k]} by {overlap[k]:.3g}{more}"

    return float(_fsum(r.tolist())), None


def _load_and_run(program_path: str):
    """Import the candidate from its path and call run_packing(); returns (centers, radii)."""
    name = f"evolve_candidate_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, program_path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import a module from {program_path!r}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses, pickling etc. look the module up by name
    try:
        spec.loader.exec_module(module)
        run = getattr(module, "run_packing", None)
        if not callable(run):
            raise AttributeError("the program defines no run_packing() function")
        result = run()
    finally:
        sys.modules.pop(name, None)
    if not isinstance(result, (tuple, list)) or len(result) not in (2, 3):
        raise TypeError(
            f"run_packing() must return (centers, radii, sum_radii); got {type(result).__name__}"
            + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else "")
        )
    # The third element (the candidate's own sum) is deliberately ignored.
    # Copy now, as plain float arrays, so that later mutation of the returned objects changes nothing.
    try:
        return _array(result[0], dtype=_float64), _array(result[1], dtype=_float64)
    except Exception as exc:  # ragged lists, strings, complex numbers, ...
        raise TypeError(f"centers/radii are not numeric arrays: {exc}") from None


def _guarded_run(program_path: str):
    """Run the candidate, then undo rebinding of this module's globals and of builtins by the candidate.

    Returns ((centers, radii), None) or (None, error message).
    """
    own = dict(globals())
    saved_builtins = dict(vars(builtins))
    try:
        return _load_and_run(program_path), None
    except (Exception, SystemExit) as exc:  # the candidate's exceptions, sys.exit() and bad return values
        return None, f"{type(exc).__name__}: {exc}"
    finally:
        vars(builtins).update(saved_builtins)
        globals().update(own)


def _score(program_path) -> tuple[float, str | None]:
    out, err = _guarded_run(str(program_path))
    if err is not None:
        return 0.0, f"program failed: {err}"
    try:
        return check_packing(*out)
    except Exception as exc:  # pragma: no cover - the checker should not raise; never let it crash the stage
        return 0.0, f"evaluator error: {type(exc).__name__}: {exc}"


def evaluate(program_path) -> dict:
    """Full evaluation: sum_radii (0 when invalid), validity, target_ratio, combined_score (+ error)."""
    total, reason = _score(program_path)
    if reason is not None:
        return _zeros(reason)
    ratio = total / BEST_KNOWN
    return {"sum_radii": total, "validity": 1.0, "target_ratio": ratio, "combined_score": ratio}


def evaluate_stage1(program_path) -> dict:
    """Cheap cascade stage: run the packing once and check that it is valid.

    Reports sum_radii too, since the task's cascade threshold is on the objective.
    """
    total, reason = _score(program_path)
    if reason is not None:
        return {"validity": 0.0, "sum_radii": 0.0, "combined_score": 0.0, "error": reason}
    return {"validity": 1.0, "sum_radii": total, "combined_score": total / BEST_KNOWN}


if __name__ == "__main__":  # python evaluate.py path/to/program.py
    import json

    print(json.dumps(evaluate(sys.argv[1] if len(sys.argv) > 1 else "initial_program.py"), indent=2))
