"""Evaluator for the tsp_construction task: mean length of greedy tours on 64 seeded 50-city instances.

Tours are built in the candidate's process (driver.py), so they are untrusted: this module checks that each is
a permutation of all cities and recomputes its closed length from the coordinates it generated itself.
"""

from __future__ import annotations

import numpy as np

SEED = 2024
N_INSTANCES, N_CITIES = 64, 50
# The held-out test set (evaluate_test, scored once after a run): the same generator under another seed, at the
# sizes AEL and ReEvo report (TSP50, TSP100; 64 instances each, uniform in the unit square).
TEST_SEED = 5064
TEST_SIZES = (50, 100)


def instances(seed: int = SEED, n_cities: int = N_CITIES) -> np.ndarray:
    """A benchmark (default: the fixed dev one): (64, n_cities, 2) coordinates, uniform in the unit square."""
    return np.random.default_rng(seed).random((N_INSTANCES, n_cities, 2))


def tour_length(coords: np.ndarray, tour) -> tuple[float, str | None]:
    """Return (closed tour length, None) for a permutation of all cities, else (0.0, reason)."""
    try:
        t = np.asarray(tour)
    except Exception as exc:  # ragged lists and the like
        return 0.0, f"the tour is not an array: {type(exc).__name__}: {exc}"
    if t.shape != (len(coords),):
        return 0.0, f"the tour has shape {t.shape}; expected ({len(coords)},)"
    if t.dtype.kind not in "iu":
        return 0.0, f"city indices must be integers, got dtype {t.dtype}"
    if not np.array_equal(np.sort(t), np.arange(len(coords))):
        missing = sorted(set(range(len(coords))) - set(t.tolist()))
        return 0.0, f"the tour is not a permutation of the {len(coords)} cities (missing {missing[:5]})"
    legs = coords[t] - coords[np.roll(t, -1)]
    return float(np.sqrt((legs**2).sum(axis=1)).sum()), None


def evaluate(candidate) -> dict:
    """Build all dev tours in the candidate's process; validate and measure them here."""
    return measure(candidate, instances())


def evaluate_test(candidate) -> dict:
    """The held-out TSP50 and TSP100 sets (called once per seed and best, after a run). The objective is the
    TSP50 mean, comparable with the dev score; TSP100's is reported beside it."""
    report: dict = {}
    for n in TEST_SIZES:
        metrics = measure(candidate, instances(TEST_SEED + n, n))
        if "error" in metrics:
            return {"error": f"TSP{n}: {metrics['error']}"}
        report.update({f"{k}_tsp{n}": v for k, v in metrics.items()})
    return {"mean_tour_length": report["mean_tour_length_tsp50"], "instances": float(N_INSTANCES), **report}


def measure(candidate, coords: np.ndarray) -> dict:
    """Mean and max closed tour length over `coords`' instances."""
    tours = candidate.call("driver:build_tours", coords)
    if not isinstance(tours, list) or len(tours) != len(coords):
        return {"error": f"driver:build_tours returned {type(tours).__name__}, not {len(coords)} tours"}
    lengths = []
    for i, (c, tour) in enumerate(zip(coords, tours)):
        length, reason = tour_length(c, tour)
        if reason is not None:
            return {"error": f"instance {i}: {reason}"}
        lengths.append(length)
    return {"mean_tour_length": float(np.mean(lengths)), "max_tour_length": float(np.max(lengths))}


def probes() -> list[tuple[str, tuple]]:
    """Small fixed states on 6 points: the choice a rule makes there fingerprints it."""
    pts = np.array([[0.0, 0.0], [0.1, 0.0], [0.5, 0.5], [0.9, 0.1], [0.2, 0.8], [0.6, 0.05]])
    dist = np.sqrt(((pts[:, None, :] - pts[None, :, :]) ** 2).sum(axis=-1))
    return [
        ("select_next_node", (0, 0, np.array([1, 2, 3, 4, 5]), dist)),
        ("select_next_node", (1, 0, np.array([2, 3, 4, 5]), dist)),
        ("select_next_node", (5, 0, np.array([2, 4]), dist)),
        ("select_next_node", (2, 0, np.array([4]), dist)),
    ]
