"""Evaluator for the tsp_construction task: mean length of greedy tours on 64 seeded 50-city instances.

Tours are built in the candidate's process (driver.py), so they are untrusted: this module checks that each is
a permutation of all cities and recomputes its closed length from the coordinates it generated itself.
"""

from __future__ import annotations

import numpy as np

SEED = 2024
N_INSTANCES, N_CITIES = 64, 50


def instances() -> np.ndarray:
    """The fixed benchmark: (64, 50, 2) city coordinates, uniform in the unit square."""
    return np.random.default_rng(SEED).random((N_INSTANCES, N_CITIES, 2))


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
    """Build all tours in the candidate's process; validate and measure them here."""
    coords = instances()
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
