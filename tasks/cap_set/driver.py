"""Greedy cap set builder; runs in the candidate's process, so the evaluator re-checks whatever it returns."""

from __future__ import annotations

import itertools
from types import ModuleType

import numpy as np


def all_vectors(n: int) -> np.ndarray:
    """The 3**n vectors of Z_3^n in lexicographic order; row i is the base-3 expansion of i."""
    return np.array(list(itertools.product(range(3), repeat=n)), dtype=np.int64)


def build_cap_set(program: ModuleType, n: int) -> np.ndarray:
    """Add vectors in descending `program.priority` order (ties by index), keeping each that leaves a cap set.

    `blocked[i]` marks vectors that would complete a line with two chosen ones, so each test is O(1) and each
    addition costs one vectorized pass over the chosen set.
    """
    vectors = all_vectors(n)
    powers = 3 ** np.arange(n - 1, -1, -1, dtype=np.int64)
    scores = np.array([float(program.priority(tuple(int(x) for x in v), n)) for v in vectors])
    if not np.isfinite(scores).all():
        raise ValueError("priority() returned a non-finite value")
    blocked = np.zeros(len(vectors), dtype=bool)
    chosen: list[int] = []
    for i in np.argsort(-scores, kind="stable"):
        if blocked[i]:
            continue
        if chosen:
            thirds = (-(vectors[chosen] + vectors[i])) % 3
            blocked[thirds @ powers] = True
        blocked[i] = True
        chosen.append(int(i))
    return vectors[chosen]
