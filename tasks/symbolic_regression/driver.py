"""Runs in the candidate's process: fit the free constants of the candidate's equation to training data.

The evaluator only trusts what it checks itself (the held-out error), so fitting here is a service to the
candidate, not a part of the score that could be forged: any params the candidate ends up with are judged by
the evaluator on points the candidate never saw the targets of.
"""

from __future__ import annotations

import numpy as np

MAX_PARAMS = 10
MAX_ITERS = 100


def fit(program, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares params for program.equation(x, params) by BFGS from params = 1 (as LLM-SR does)."""

    def loss(p: np.ndarray) -> float:
        pred = np.asarray(program.equation(x, p), dtype=float)
        if pred.shape != y.shape:
            raise ValueError(f"equation() returned shape {pred.shape}; expected {y.shape}")
        value = float(np.mean((pred - y) ** 2))
        return value if np.isfinite(value) else np.inf

    return bfgs(loss, np.ones(MAX_PARAMS))


def bfgs(f, p: np.ndarray, max_iters: int = MAX_ITERS, gtol: float = 1e-10) -> np.ndarray:
    """Minimize f with BFGS, central-difference gradients and a backtracking (Armijo) line search."""
    n = p.size
    eye = np.eye(n)
    h_inv = eye.copy()
    fp, g = f(p), _gradient(f, p)
    if not np.isfinite(fp):
        return p
    for _ in range(max_iters):
        if not np.all(np.isfinite(g)) or np.max(np.abs(g)) < gtol:
            break
        d = -h_inv @ g
        if g @ d >= 0:  # not a descent direction: restart from steepest descent
            h_inv, d = eye.copy(), -g
        t, slope = 1.0, float(g @ d)
        while (f_new := f(p + t * d)) > fp + 1e-4 * t * slope:
            t *= 0.5
            if t < 1e-12:
                return p
        s = t * d
        p_new = p + s
        g_new = _gradient(f, p_new)
        y = g_new - g
        sy = float(s @ y)
        if sy > 1e-16:
            rho = 1.0 / sy
            a = eye - rho * np.outer(s, y)
            h_inv = a @ h_inv @ a.T + rho * np.outer(s, s)
        converged = fp - f_new <= 1e-15 * max(1.0, abs(fp))
        p, fp, g = p_new, f_new, g_new
        if converged:
            break
    return p


def _gradient(f, p: np.ndarray) -> np.ndarray:
    g = np.empty_like(p)
    for i in range(p.size):
        h = 1e-6 * max(1.0, abs(p[i]))
        e = np.zeros_like(p)
        e[i] = h
        g[i] = (f(p + e) - f(p - e)) / (2 * h)
    return g
