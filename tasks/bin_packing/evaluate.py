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
# The held-out test set (evaluate_test, scored once after a run): drawn from the same generators under another
# seed, at FunSearch's published size (Weibull 5k: 5 instances of 5,000 items) and OR-Library binpack4's (u1000).
TEST_SEED = 5000
TEST_WEIBULL = {"count": 5, "items": 5000, "capacity": 100}
TEST_OR_LIKE = {"count": 5, "items": 1000, "capacity": 150}


def instances(seed: int = SEED, weibull_shape: dict = WEIBULL,
              or_shape: dict = OR_LIKE) -> dict[str, tuple[list[np.ndarray], int]]:
    """A benchmark (default: the fixed dev one): {dataset name: (item arrays, bin capacity)}; integer item
    sizes, as floats."""
    rng = np.random.default_rng(seed)
    weibull = [np.clip(np.round(rng.weibull(3.0, weibull_shape["items"]) * 45.0), 1, 100)
               for _ in range(weibull_shape["count"])]
    uniform = [rng.integers(20, 101, or_shape["items"]).astype(float) for _ in range(or_shape["count"])]
    return {"weibull": (weibull, weibull_shape["capacity"]), "or": (uniform, or_shape["capacity"])}


def test_instances() -> dict[str, tuple[list[np.ndarray], int]]:
    """The held-out benchmark: never shown to evolution."""
    return instances(TEST_SEED, TEST_WEIBULL, TEST_OR_LIKE)


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
    """Pack every dev instance in the candidate's process; validate and score each packing here."""
    return score(candidate, instances())


def evaluate_test(candidate) -> dict:
    """The same scoring on the held-out instances (called once per seed and best, after a run)."""
    return score(candidate, test_instances())


def score(candidate, benchmark: dict[str, tuple[list[np.ndarray], int]]) -> dict:
    """Mean % excess over L1 on every instance of `benchmark`, and per dataset."""
    metrics: dict[str, float] = {}
    excess: list[float] = []
    for name, (items_list, capacity) in benchmark.items():
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
    return {"excess_pct": float(np.mean(excess)), "instances": float(len(excess)), **metrics}


def probes() -> list[tuple[str, tuple]]:
    """Small fixed (item, bins) inputs, the last bin empty as in a real call."""
    return [
        ("priority", (30.0, np.array([100.0]))),
        ("priority", (30.0, np.array([31.0, 45.0, 60.0, 100.0]))),
        ("priority", (7.0, np.array([7.0, 8.0, 50.0, 99.0, 100.0]))),
        ("priority", (72.0, np.array([80.0, 74.0, 150.0]))),
    ]
