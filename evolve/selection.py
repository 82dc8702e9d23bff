"""How the archive draws a parent from an island's elites: one small policy object the archive asks, chosen by
the run's `parent_selection` setting (in the spirit of pyribs' emitters: the archive stores, a policy picks).

- `exploit-explore` (Evolve's original): with probability `exploitation` one of the top `elite_pool` elites,
  else any elite, uniformly.
- `weighted` (ShinkaEvolve's): weight = sigmoid(sharpness * (score - median) / MAD) / (1 + children already
  made from it). Good elites are favoured, but each child an elite gets makes it a little less likely, so the
  search does not keep hammering one parent.
- `power-law`: the elite of rank r (1 = best) has weight r^-alpha: alpha 0 is uniform, larger is greedier.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from evolve.candidate import Candidate

PARENT_SELECTIONS = ("exploit-explore", "weighted", "power-law")


class ParentSelection(Protocol):
    def choose(self, ranked: Sequence[Candidate], fitness: Sequence[float], children: Mapping[str, int],
               rng: random.Random) -> tuple[Candidate, str]:
        """A parent from `ranked` (an island's elites, best first, with their fitness: higher is better) and the
        name of how it was drawn; `children` counts the children each candidate id already has."""
        ...


@dataclass
class ExploitExplore:
    exploitation: float = 0.7
    elite_pool: int = 5

    def choose(self, ranked: Sequence[Candidate], fitness: Sequence[float], children: Mapping[str, int],
               rng: random.Random) -> tuple[Candidate, str]:
        if rng.random() < self.exploitation:
            return ranked[rng.randrange(min(self.elite_pool, len(ranked)))], "exploit"
        return ranked[rng.randrange(len(ranked))], "explore"


@dataclass
class Weighted:
    sharpness: float = 10.0

    def weights(self, ranked: Sequence[Candidate], fitness: Sequence[float],
                children: Mapping[str, int]) -> list[float]:
        median = statistics.median(fitness)
        mad = statistics.median(abs(f - median) for f in fitness) or 1.0
        return [_sigmoid(self.sharpness * (f - median) / mad) / (1 + children.get(c.id, 0))
                for c, f in zip(ranked, fitness, strict=True)]

    def choose(self, ranked: Sequence[Candidate], fitness: Sequence[float], children: Mapping[str, int],
               rng: random.Random) -> tuple[Candidate, str]:
        return rng.choices(ranked, weights=self.weights(ranked, fitness, children))[0], "weighted"


@dataclass
class PowerLaw:
    alpha: float = 1.0

    def weights(self, count: int) -> list[float]:
        return [(rank + 1) ** -self.alpha for rank in range(count)]

    def choose(self, ranked: Sequence[Candidate], fitness: Sequence[float], children: Mapping[str, int],
               rng: random.Random) -> tuple[Candidate, str]:
        return rng.choices(ranked, weights=self.weights(len(ranked)))[0], "power-law"


def _sigmoid(x: float) -> float:
    """1 / (1 + e^-x) without overflow for large |x|."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def make_parent_selection(name: str, *, exploitation: float = 0.7, elite_pool: int = 5, sharpness: float = 10.0,
                          alpha: float = 1.0) -> ParentSelection:
    if name == "weighted":
        return Weighted(sharpness)
    if name == "power-law":
        return PowerLaw(alpha)
    if name == "exploit-explore":
        return ExploitExplore(exploitation, elite_pool)
    raise ValueError(f"unknown parent selection {name!r}; known: {', '.join(PARENT_SELECTIONS)}")
