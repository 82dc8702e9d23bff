"""Online bin packing with the candidate's priority; runs in the candidate's process, so it is re-checked."""

from __future__ import annotations

from types import ModuleType

import numpy as np


def pack(program: ModuleType, items: np.ndarray, capacity: float) -> np.ndarray:
    """Place items in arrival order; return the bin index of each item.

    `priority(item, bins)` scores the remaining capacities of the open bins that fit the item plus, last, one
    empty bin (FunSearch's setup), so a heuristic may open a new bin even when an open one fits.
    """
    remaining = np.empty(len(items), dtype=float)
    assignment = np.empty(len(items), dtype=np.int64)
    n_open = 0
    for k, item in enumerate(np.asarray(items, dtype=float)):
        fits = np.flatnonzero(remaining[:n_open] >= item)
        options = np.append(remaining[fits], float(capacity))
        scores = np.asarray(program.priority(float(item), options), dtype=float)
        if scores.shape != options.shape:
            raise ValueError(f"priority() returned shape {scores.shape} for {len(options)} bins")
        choice = int(np.argmax(scores))
        if choice == len(fits):
            remaining[n_open] = capacity
            chosen, n_open = n_open, n_open + 1
        else:
            chosen = int(fits[choice])
        remaining[chosen] -= item
        assignment[k] = chosen
    return assignment


def pack_all(program: ModuleType, instances: list[np.ndarray], capacity: float) -> list[np.ndarray]:
    """One assignment per instance (a single call keeps channel round trips low)."""
    return [pack(program, items, capacity) for items in instances]
