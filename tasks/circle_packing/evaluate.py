"""Evaluator for the circle_packing task: 26 circles in the unit square, maximize the sum of radii.

Evolve's `call` interface: ``evaluate(candidate)`` asks the candidate, which runs in its own sandboxed process,
for ``run_packing()`` and gets plain arrays back; it returns a flat dict whose numeric values are the metrics;
an invalid candidate also gets a string ``"error"`` (fed back to the LLM).

The candidate's own claimed sum is never trusted: the sum is recomputed from the returned radii, and only
after the packing passed every check (shape, finiteness, radii >= 0, containment, pairwise non-overlap, all
to an absolute tolerance of 1e-9). The candidate cannot reach this process, so it cannot patch the checker.
"""

from __future__ import annotations

import math

import numpy as np

N_CIRCLES = 26
BEST_KNOWN = 2.635983  # best known sum of radii for n=26 (see README.md)
TOL = 1e-9  # absolute tolerance for containment and overlap

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


def _score(candidate) -> tuple[float, str | None]:
    try:
        result = candidate.call("run_packing")
    except candidate.Error as exc:
        if exc.kind not in ("raised", "bad-value"):
            raise  # a timeout or a crash is the candidate's status, not an invalid packing
        return 0.0, f"program failed: {exc}"
    if not isinstance(result, (tuple, list)) or len(result) not in (2, 3):
        return 0.0, (
            f"run_packing() must return (centers, radii, sum_radii); got {type(result).__name__}"
            + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else "")
        )
    # The third element (the candidate's own sum) is deliberately ignored.
    return check_packing(result[0], result[1])


def evaluate(candidate) -> dict:
    """Full evaluation: sum_radii (0 when invalid), validity, target_ratio, combined_score (+ error)."""
    total, reason = _score(candidate)
    if reason is not None:
        return _zeros(reason)
    ratio = total / BEST_KNOWN
    return {"sum_radii": total, "validity": 1.0, "target_ratio": ratio, "combined_score": ratio}
