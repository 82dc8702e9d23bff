"""Greedy tour construction driven by the candidate's select_next_node; runs in the candidate's process."""

from __future__ import annotations

from types import ModuleType

import numpy as np


def distance_matrix(coords: np.ndarray) -> np.ndarray:
    """Euclidean distances between all pairs of cities."""
    diff = coords[:, None, :] - coords[None, :, :]
    return np.sqrt((diff**2).sum(axis=-1))


def build_tour(program: ModuleType, coords: np.ndarray) -> np.ndarray:
    """Start at city 0 and ask the candidate for each next city until all are visited (AEL's setup)."""
    coords = np.asarray(coords, dtype=float)
    dist = distance_matrix(coords)
    tour = [0]
    unvisited = np.arange(1, len(coords))
    while len(unvisited):
        nxt = int(program.select_next_node(tour[-1], 0, unvisited.copy(), dist))
        keep = unvisited != nxt
        if keep.all():
            raise ValueError(f"select_next_node() returned {nxt}, which is not an unvisited city")
        tour.append(nxt)
        unvisited = unvisited[keep]
    return np.array(tour, dtype=np.int64)


def build_tours(program: ModuleType, instances: np.ndarray) -> list[np.ndarray]:
    """One tour per instance (a single call keeps channel round trips low)."""
    return [build_tour(program, coords) for coords in instances]
