"""Evaluator for optimizer_discovery: train small numpy problems with the candidate's update rule.

The training loop runs here, not in the candidate: this process holds the parameters, computes every gradient
and applies the returned step, so the step budget and the final loss cannot be forged (a candidate that ran
in a driver could look up the loss and solve it another way). Each problem is trained at every learning rate
of LR_GRID and the best final loss counts, as in the usual "tune the learning rate per optimizer" protocol;
Adam gets the same treatment (ADAM_GAPS) and is the reference.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

LR_GRID = (1e-3, 1e-2, 1e-1, 1.0)
GAP_FLOOR = 1e-15  # below float64 resolution of these losses
CLIP = 3.0  # a problem counts at most 3 orders of magnitude either way, so no single problem dominates


class Problem(NamedTuple):
    name: str
    x0: np.ndarray
    loss: Callable[[np.ndarray], float]
    grad: Callable[[np.ndarray], np.ndarray]
    steps: int
    floor: float = 0.0  # the minimum loss; scores use the gap loss - floor


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def logistic(seed: int = 11) -> Problem:
    """L2-regularized logistic regression, 10 features on scales from 0.1 to 3 (ill-conditioned)."""
    rng = np.random.default_rng(seed)
    n, d, lam = 256, 10, 1e-2
    x = np.hstack([rng.normal(size=(n, d)) * np.geomspace(0.1, 3.0, d), np.ones((n, 1))])
    y = (x[:, :d] @ rng.normal(size=d) + 0.5 * rng.normal(size=n) > 0).astype(float)
    reg = np.r_[np.full(d, lam), 0.0]  # the bias is not regularized

    def loss(p: np.ndarray) -> float:
        z = x @ p
        return float(np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * p @ (reg * p))

    def grad(p: np.ndarray) -> np.ndarray:
        return x.T @ (_sigmoid(x @ p) - y) / n + reg * p

    def hess(p: np.ndarray) -> np.ndarray:
        s = _sigmoid(x @ p)
        return (x.T * (s * (1 - s))) @ x / n + np.diag(reg)

    p = np.zeros(d + 1)
    for _ in range(30):  # Newton's method: the exact minimum, for the gap
        p = p - np.linalg.solve(hess(p), grad(p))
    return Problem("logistic", np.zeros(d + 1), loss, grad, steps=100, floor=loss(p))


def mlp(seed: int = 12) -> Problem:
    """A 2-16-1 tanh network classifying points of the plane inside/outside a circle (cross-entropy)."""
    rng = np.random.default_rng(seed)
    n, h = 200, 16
    x = rng.normal(size=(n, 2))
    y = (np.sum(x**2, axis=1) > 1.4).astype(float)
    cut = np.cumsum([2 * h, h, h])  # p = [W1 (2x16), b1 (16), W2 (16), b2 (1)]

    def forward(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w1, b1, w2, b2 = np.split(p, cut)
        a = np.tanh(x @ w1.reshape(2, h) + b1)
        return a, a @ w2 + b2[0]

    def loss(p: np.ndarray) -> float:
        z = forward(p)[1]
        return float(np.mean(np.logaddexp(0.0, z) - y * z))

    def grad(p: np.ndarray) -> np.ndarray:
        a, z = forward(p)
        dz = (_sigmoid(z) - y) / n
        da = np.outer(dz, p[cut[1]:cut[2]]) * (1.0 - a**2)
        return np.concatenate([(x.T @ da).ravel(), da.sum(axis=0), a.T @ dz, [dz.sum()]])

    x0 = np.concatenate([rng.normal(size=2 * h) / np.sqrt(2), np.zeros(h), rng.normal(size=h) / np.sqrt(h), [0.0]])
    return Problem("mlp", x0, loss, grad, steps=200)


def quadratic(seed: int = 13) -> Problem:
    """A rotated 20-dimensional quadratic with condition number 1e4."""
    rng = np.random.default_rng(seed)
    d = 20
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    a = (q * np.geomspace(1e-2, 1e2, d)) @ q.T
    target = rng.normal(size=d)
    return Problem("quadratic", np.zeros(d), lambda p: float(0.5 * (p - target) @ a @ (p - target)),
                   lambda p: a @ (p - target), steps=100)


def rosenbrock(x0: tuple[float, float] = (-1.2, 1.0)) -> Problem:
    """Rosenbrock's banana valley from the classic start (-1.2, 1)."""

    def loss(p: np.ndarray) -> float:
        return float((1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2)

    def grad(p: np.ndarray) -> np.ndarray:
        return np.array([-2 * (1 - p[0]) - 400 * p[0] * (p[1] - p[0] ** 2), 200 * (p[1] - p[0] ** 2)])

    return Problem("rosenbrock", np.array(x0), loss, grad, steps=300)


PROBLEMS = (logistic(), mlp(), quadratic(), rosenbrock())
# The held-out test problems (evaluate_test, once per seed and best after a run): the same four families with
# other data, weights and rotations (seeds 21-23) and Rosenbrock from another start; Adam is re-tuned on them.
TEST_PROBLEMS = (logistic(21), mlp(22), quadratic(23), rosenbrock((1.5, -0.5)))

# Adam's (beta1 0.9, beta2 0.999, eps 1e-8) best gap over LR_GRID per problem, from reference_gaps(); a test
# recomputes them.
ADAM_GAPS = {"logistic": 2.4505117999229498e-06, "mlp": 0.007730957173249622,
             "quadratic": 0.019607622619577016, "rosenbrock": 0.0013120186640886483}


class Invalid(Exception):
    """The candidate's output breaks the rules (as opposed to a crash, which is a CandidateError)."""


def train(step: Callable[[str, np.ndarray, int, float], object], problem: Problem, lr: float) -> float:
    """Run `problem` for its step budget with step(run, grad, t, lr) -> delta; the final gap, inf if diverged."""
    x = problem.x0.copy()
    run = f"{problem.name}@{lr:g}"
    with np.errstate(all="ignore"):
        for t in range(1, problem.steps + 1):
            delta = step(run, problem.grad(x), t, lr)
            if not isinstance(delta, np.ndarray) or delta.shape != x.shape or delta.dtype.kind not in "biuf":
                got = f"shape {delta.shape}" if isinstance(delta, np.ndarray) else type(delta).__name__
                raise Invalid(f"{run} step {t}: update must return a delta of shape {x.shape}; got {got}")
            x = x + delta
            if not np.all(np.isfinite(x)):
                return np.inf
        gap = problem.loss(x) - problem.floor
    return max(gap, GAP_FLOOR) if np.isfinite(gap) else np.inf


def best_gaps(step: Callable[[str, np.ndarray, int, float], object],
              problems: tuple[Problem, ...] = PROBLEMS) -> dict[str, float]:
    """Each problem's best final gap over LR_GRID."""
    return {p.name: min(train(step, p, lr) for lr in LR_GRID) for p in problems}


def reference_gaps(update: Callable, problems: tuple[Problem, ...] = PROBLEMS) -> dict[str, float]:
    """best_gaps() of a local update(grad, state, step, lr) function, for baselines (Adam, SGD)."""
    states: dict[str, dict] = {}

    def step(run: str, grad: np.ndarray, t: int, lr: float) -> np.ndarray:
        delta, states[run] = update(grad, {} if t == 1 else states[run], t, lr)
        return np.asarray(delta, dtype=float)

    return best_gaps(step, problems)


def adam(grad: np.ndarray, state: dict, step: int, lr: float) -> tuple[np.ndarray, dict]:
    """Adam (Kingma & Ba 2015) with its default betas, the reference optimizer."""
    m = 0.9 * state.get("m", 0.0) + 0.1 * grad
    v = 0.999 * state.get("v", 0.0) + 0.001 * grad * grad
    m_hat, v_hat = m / (1 - 0.9**step), v / (1 - 0.999**step)
    return -lr * m_hat / (np.sqrt(v_hat) + 1e-8), {"m": m, "v": v}


def score(gaps: dict[str, float], reference: dict[str, float] = ADAM_GAPS) -> dict[str, float]:
    """Metrics from per-problem gaps: the objective is the mean clipped log10 gain over Adam (`reference`)."""
    gains = {k: float(np.clip(np.log10(reference[k] / gaps[k]), -CLIP, CLIP)) for k in gaps}
    return {"log10_gain_over_adam": float(np.mean(list(gains.values()))),
            "beats_adam": float(np.mean([g > 0 for g in gains.values()])),
            **{f"gap_{k}": v for k, v in gaps.items()}}


def evaluate(candidate) -> dict:
    """Train every problem with the candidate's update() at every grid learning rate; score the best runs."""
    return train_and_score(candidate, PROBLEMS, ADAM_GAPS)


def evaluate_test(candidate) -> dict:
    """The same protocol on the held-out TEST_PROBLEMS, against Adam tuned on them (computed here: ~0.1 s)."""
    return train_and_score(candidate, TEST_PROBLEMS, reference_gaps(adam, TEST_PROBLEMS))


def train_and_score(candidate, problems: tuple[Problem, ...], reference: dict[str, float]) -> dict:
    """Best gaps of the candidate's update() on `problems`, scored against `reference`."""
    try:
        gaps = best_gaps(lambda run, grad, t, lr: candidate.call("driver:step", run, grad, t, lr), problems)
    except Invalid as exc:
        return {"error": str(exc)}
    diverged = [k for k, v in gaps.items() if not np.isfinite(v)]
    if diverged:
        return {"error": f"the parameters became non-finite at every learning rate on: {', '.join(diverged)}"}
    return {**score(gaps, reference), "instances": float(len(problems))}


def probes() -> list[tuple[str, tuple]]:
    """Small fixed inputs for functional hashing: update() on a first and a later step."""
    grad = np.array([0.5, -2.0, 0.0, 1e-3])
    return [("update", (grad, {}, 1, 0.1)), ("update", (-grad, {}, 7, 0.01))]
