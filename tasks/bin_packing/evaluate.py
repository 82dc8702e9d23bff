"""Evaluator for the bin_packing task: online packing of seeded Weibull and OR-Library-like instances.

The packing runs in the candidate's process (driver.py), so its output is untrusted: this module checks that
every item is in exactly one bin and no bin is over capacity, then counts the bins itself. The score is the
mean % excess over the L1 lower bound ceil(sum(items) / capacity), as in FunSearch (lower is better).
"""

from __future__ import annotations

import math

import numpy as np

SEED = 20231214  # FunSearch's publication date; any fixed value keeps the instances stable
WEIBULL = {"count": 5, "items": 1000, "capacity": 100}  # FunSearch's Weibull 5k, scaled down 5x
OR_LIKE = {"count": 5, "items": 500, "capacity": 150}  # like OR-Library binpack3 (u500)


def instances() -> dict[str, tuple[list[np.ndarray], int]]:
    """The fixed benchmark: {dataset name: (item arrays, bin capacity)}; integer item sizes, as floats."""
    rng = np.random.default_rng(SEED)
    weibull = [np.clip(np.round(rng.weibull(3.0, WEIBULL["items"]) * 45.0), 1, 100)
               for _ in range(WEIBULL["count"])]
    uniform = [rng.integers(20, 101, OR_LIKE["items"]).astype(float) for _ in range(OR_LIKE["count"])]
    return {"weibull": (weibull, WEIBULL["capacity"]), "or": (uniform, OR_LIKE["capacity"])}


def count_bins(items: np.ndarray, capacity: float, assignment) -> tuple[int, str | None]:
    """Return (bins used, None) for a valid assignment of every item to a bin, else (0, reason)."""
    try:
        a = np.asarray(assignment)
    except Exception as exc:  # ragged lists and the like
        return 0, f"the assignment is not an array: {type(exc).__name__}: {exc}"
    if a.shape != items.shape:
        return 0, f"the assignment has shape {a.shape}; expected one bin index per item {items.shape}"
    if a.dtype.kind not in "iu":
        return 0, f"bin indices must be integers, got dtype {a.dtype}"
    if (a < 0).any():
        return 0, f"item {int((a < 0).argmax())} has a negative bin index"
    labels, inverse = np.unique(a, return_inverse=True)
    loads = np.bincount(inverse, weights=items)
    if (loads > capacity).any():  # integer sizes: the sums are exact
        b = int(loads.argmax())
        return 0, f"bin {int(labels[b])} holds {loads[b]:g} > capacity {capacity:g}"
    return len(labels), None


def evaluate(candidate) -> dict:
    """Pack every instance in the candidate's process; validate and score each packing here."""
    metrics: dict[str, float] = {}
    excess: list[float] = []
    for name, (items_list, capacity) in instances().items():
        assignments = candidate.call("driver:pack_all", items_list, capacity)
        if not isinstance(assignments, list) or len(assignments) != len(items_list):
            got = type(assignments).__name__
            return {"error": f"driver:pack_all returned {got}, not a list of {len(items_list)} packings"}
        group = []
        for i, (items, assignment) in enumerate(zip(items_list, assignments)):
            bins, reason = count_bins(items, capacity, assignment)
            if reason is not None:
                return {"error": f"{name} instance {i}: {reason}"}
            lower = math.ceil(items.sum() / capacity)
            group.append(100.0 * (bins - lower) / lower)
        metrics[f"excess_pct_{name}"] = float(np.mean(group))
        excess += group
    return {"excess_pct": float(np.mean(excess)), **metrics}


def probes() -> list[tuple[str, tuple]]:
    """Small fixed (item, bins) inputs, the last bin empty as in a real call."""
    return [
        ("priority", (30.0, np.array([100.0]))),
        ("priority", (30.0, np.array([31.0, 45.0, 60.0, 100.0]))),
        ("priority", (7.0, np.array([7.0, 8.0, 50.0, 99.0, 100.0]))),
        ("priority", (72.0, np.array([80.0, 74.0, 150.0]))),
    ]
