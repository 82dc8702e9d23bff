"""Evaluator for symbolic_regression: score an equation skeleton by its error on held-out points.

The candidate writes equation(x, params); driver.fit (in the candidate's process) fits the params on the
training points. Everything that decides the score happens here: the data come from a hidden law through a
seeded generator, and the normalized MSE is computed on points whose targets never leave this process, half of
them outside the training domain (extrapolation is where a wrong functional form shows).
"""

from __future__ import annotations

import numpy as np

MAX_PARAMS = 10
NMSE_FLOOR = 1e-12  # caps the score at 12: an exact law must not give an infinite score
SEED = 72025
TEST_SEED = 72026  # the held-out draw (evaluate_test): same boxes and noise, points evolution never saw
N_TRAIN, N_TEST = 300, 200
TRAIN_BOX = np.array([1.2, 1.5])  # |displacement| <= 1.2, |velocity| <= 1.5
OOD_BOX = np.array([2.6, 2.5])  # out-of-domain points: inside this box, outside TRAIN_BOX
NOISE = 0.01  # training noise, as a fraction of the targets' standard deviation


def _law(x: np.ndarray) -> np.ndarray:
    """The hidden law: a pendulum with quadratic air drag and displacement-dependent friction."""
    q, v = x[:, 0], x[:, 1]
    return -2.0 * np.sin(q) - 0.5 * v * np.abs(v) - 0.3 * q**2 * v


def make_data(seed: int = SEED) -> dict[str, np.ndarray]:
    """Training points (noisy targets), in-domain test points and out-of-domain test points (exact targets)."""
    rng = np.random.default_rng(seed)
    x_train = rng.uniform(-TRAIN_BOX, TRAIN_BOX, size=(N_TRAIN, 2))
    x_id = rng.uniform(-TRAIN_BOX, TRAIN_BOX, size=(N_TEST, 2))
    pool = rng.uniform(-OOD_BOX, OOD_BOX, size=(20 * N_TEST, 2))
    x_ood = pool[np.any(np.abs(pool) > TRAIN_BOX, axis=1)][:N_TEST]
    y_train = _law(x_train)
    y_train = y_train + rng.normal(0.0, NOISE * y_train.std(), size=N_TRAIN)
    return {"x_train": x_train, "y_train": y_train, "x_id": x_id, "y_id": _law(x_id),
            "x_ood": x_ood, "y_ood": _law(x_ood)}


DATA = make_data()


def nmse(y: np.ndarray, pred: np.ndarray) -> float:
    """Normalized MSE: mean squared error over the variance of the targets (1.0 = predicting the mean)."""
    return float(np.mean((y - pred) ** 2) / np.var(y))


def _predict(candidate, x: np.ndarray, params: np.ndarray) -> np.ndarray | str:
    pred = candidate.call("equation", x, params)
    if not isinstance(pred, np.ndarray) or pred.shape != (len(x),):
        return f"equation() must return a float array of shape ({len(x)},); got {_describe(pred)}"
    if not np.all(np.isfinite(pred)):
        return f"equation() returned {int(np.sum(~np.isfinite(pred)))} non-finite predictions on the test points"
    return pred.astype(float)


def _describe(value) -> str:
    return f"an array of shape {value.shape}" if isinstance(value, np.ndarray) else type(value).__name__


def evaluate(candidate) -> dict:
    """Fit (in the candidate's process), then score on held-out points: -mean(log10 NMSE_id, log10 NMSE_ood)."""
    return score(candidate, DATA)


def evaluate_test(candidate) -> dict:
    """The same fit and scoring on a fresh draw of the whole data set (TEST_SEED): training, in-domain and
    out-of-domain points evolution never saw (called once per seed and best, after a run)."""
    return score(candidate, make_data(TEST_SEED))


def score(candidate, data: dict[str, np.ndarray]) -> dict:
    """Fit on data's training points, then -mean(log10 NMSE_id, log10 NMSE_ood) on its test points."""
    params = candidate.call("driver:fit", data["x_train"], data["y_train"])
    if not isinstance(params, np.ndarray) or params.shape != (MAX_PARAMS,) or params.dtype.kind not in "iuf":
        return {"error": f"fit must give {MAX_PARAMS} params; got {_describe(params)}"}
    params = params.astype(float)
    if not np.all(np.isfinite(params)):
        return {"error": "the fitted params are not all finite"}
    scores = {}
    for part in ("id", "ood"):
        pred = _predict(candidate, data[f"x_{part}"], params)
        if isinstance(pred, str):
            return {"error": f"{part} points: {pred}"}
        scores[f"nmse_{part}"] = nmse(data[f"y_{part}"], pred)
    logs = [np.log10(max(scores[k], NMSE_FLOOR)) for k in ("nmse_id", "nmse_ood")]
    return {"neg_log10_nmse": -float(np.mean(logs)), **scores}


def probes() -> list[tuple[str, tuple]]:
    """Small fixed inputs for functional hashing: the equation on six points, two sets of params."""
    x = np.array([[0.0, 0.0], [0.5, -0.3], [-1.0, 1.0], [1.1, 0.7], [-0.2, -1.4], [2.0, 2.0]])
    return [("equation", (x, np.ones(MAX_PARAMS))), ("equation", (x, np.linspace(-1.0, 1.0, MAX_PARAMS)))]
