"""Evaluator for the autocorrelation task: AlphaEvolve's first autocorrelation inequality.

For a non-negative f on [-1/4, 1/4], minimize max_t (f*f)(t) / (integral of f)^2. The candidate returns the
heights h_0..h_{n-1} of a step function with n equal steps of width w = 1/(2n). The autoconvolution of such a
function is piecewise linear with knots at multiples of w, and its value at the knot between the supports of
steps i and j (i + j = k) is w * sum_{i+j=k} h_i h_j, so the ratio is exactly
    w * max(np.convolve(h, h)) / (w * sum(h))^2 = 2n * max(np.convolve(h, h)) / sum(h)^2.
The evaluator computes it itself from the heights; nothing the candidate reports is used.
"""

from __future__ import annotations

import numpy as np

MAX_STEPS = 2000
BEST_KNOWN = 1.5053  # AlphaEvolve (2025); previously 1.5098 (Matolcsi and Vinuesa, 2010)


def ratio(heights) -> tuple[float, str | None]:
    """Return (max autoconvolution / integral squared, None) for valid step heights, else (inf, reason)."""
    try:
        h = np.asarray(heights, dtype=np.float64)
    except Exception as exc:  # ragged lists, strings and the like
        return float("inf"), f"the heights are not a numeric array: {type(exc).__name__}: {exc}"
    if h.ndim != 1 or not 1 <= len(h) <= MAX_STEPS:
        return float("inf"), f"expected a 1-D array of 1 to {MAX_STEPS} heights, got shape {h.shape}"
    if not np.isfinite(h).all():
        return float("inf"), f"height {int((~np.isfinite(h)).argmax())} is not finite"
    if (h < 0).any():
        i = int(h.argmin())
        return float("inf"), f"height {i} is negative ({h[i]:.6g}); f must be non-negative"
    total = h.sum()
    if not total > 0:
        return float("inf"), "all heights are 0 (the integral of f must be positive)"
    h = h / h.max()  # scale-free ratio; normalizing keeps huge or tiny heights from overflowing
    return float(2 * len(h) * np.convolve(h, h).max() / h.sum() ** 2), None


def evaluate(candidate) -> dict:
    value, reason = ratio(candidate.call("construct"))
    if reason is not None:
        return {"error": reason}
    return {"autoconvolution_ratio": value, "target_ratio": BEST_KNOWN / value}
