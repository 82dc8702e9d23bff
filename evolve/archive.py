"""MAP-Elites archive with islands: where parents are sampled (ask) and children inserted (tell).

Each island keeps one elite per feature cell and a score ranking of its elites, so insertion is a dict lookup plus a
bisect into a list no longer than the number of filled cells, and sampling never scans stored candidates.
"""

from __future__ import annotations

import bisect
import collections
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from evolve.candidate import Candidate
from evolve.features import FeatureDim
from evolve.selection import ExploitExplore, ParentSelection

T = TypeVar("T")

Cell = tuple[int, ...]


@dataclass
class Sample:
    """What a proposal starts from: a parent, a few diverse elites to show as inspiration, and how it was drawn."""

    parent: Candidate
    inspirations: list[Candidate]
    mode: str  # how the parent was drawn: exploit | explore | weighted | power-law


@dataclass
class Island:
    cells: dict[Cell, Candidate] = field(default_factory=dict)
    ranking: list[tuple[float, str]] = field(default_factory=list)  # (-fitness, id), best first
    by_id: dict[str, Candidate] = field(default_factory=dict)
    children: int = 0  # children told to this island; drives migration


class Archive:
    """Per-island MAP-Elites grids over 1-3 feature dimensions, with ring migration of island bests."""

    def __init__(
        self,
        dims: list[FeatureDim],
        islands: int = 1,
        *,
        maximize: bool = True,
        migration_interval: int = 10,
        exploitation: float = 0.7,
        elite_pool: int = 5,
        num_inspirations: int = 2,
        selection: ParentSelection | None = None,
    ) -> None:
        if not 1 <= len(dims) <= 3:
            raise ValueError("the archive needs 1 to 3 feature dimensions")
        self.dims = dims
        self.islands = [Island() for _ in range(islands)]
        self.maximize = maximize
        self.migration_interval = migration_interval
        self.exploitation = exploitation
        self.elite_pool = elite_pool
        self.num_inspirations = num_inspirations
        self.selection = selection or ExploitExplore(exploitation, elite_pool)
        self.children: collections.Counter[str] = collections.Counter()  # parent id -> children told so far

    def cell_of(self, features: dict[str, float]) -> Cell:
        return tuple(dim.bin(features.get(dim.name, 0.0)) for dim in self.dims)

    def _fitness(self, cand: Candidate) -> float:
        return cand.fitness(self.maximize)

    def add(self, cand: Candidate, island: int | None = None) -> bool:
        """Insert a scored candidate into its cell on `island` (default: its own); True if it became the elite.

        A candidate replaces a cell's elite only when strictly better, so the first of equals keeps the cell.
        """
        if cand.status != "ok" or cand.score is None:
            return False
        isl = self.islands[cand.island if island is None else island]
        cell = self.cell_of(cand.features)
        old = isl.cells.get(cell)
        if old is not None:
            if self._fitness(cand) <= self._fitness(old):
                return False
            self._unrank(isl, old)
        isl.cells[cell] = cand
        isl.by_id[cand.id] = cand
        bisect.insort(isl.ranking, (-self._fitness(cand), cand.id))
        return True

    def _unrank(self, isl: Island, cand: Candidate) -> None:
        key = (-self._fitness(cand), cand.id)
        i = bisect.bisect_left(isl.ranking, key)
        if i < len(isl.ranking) and isl.ranking[i] == key:
            del isl.ranking[i]
        isl.by_id.pop(cand.id, None)

    def tell(self, cand: Candidate) -> list[tuple[int, int, Candidate]]:
        """Record a finished child (scored or not) on its island; return the migrations this triggered."""
        self.add(cand)
        if cand.parent_id is not None:
            self.children[cand.parent_id] += 1
        isl = self.islands[cand.island]
        isl.children += 1
        if len(self.islands) > 1 and isl.children % self.migration_interval == 0:
            return self.migrate(cand.island)
        return []

    def migrate(self, source: int) -> list[tuple[int, int, Candidate]]:
        """Copy the source island's best elite to the next island on the ring (if it improves a cell there)."""
        best = self.best(source)
        if best is None:
            return []
        dest = (source + 1) % len(self.islands)
        return [(source, dest, best)] if self.add(best, island=dest) else []

    def sample(self, island: int, rng: random.Random) -> Sample:
        """Draw a parent by the archive's selection policy (evolve/selection.py), and inspirations."""
        isl = self.islands[island]
        if not isl.ranking:
            raise LookupError(f"island {island} has no elite to sample from")
        ranked = _RankedView(isl, lambda entry: isl.by_id[entry[1]])
        fitness = _RankedView(isl, lambda entry: -entry[0])
        parent, mode = self.selection.choose(ranked, fitness, self.children, rng)
        return Sample(parent, self._inspirations(isl, parent, rng), mode)

    def _inspirations(self, isl: Island, parent: Candidate, rng: random.Random) -> list[Candidate]:
        """The island's best (if not the parent) plus random elites from other cells: diverse, good examples."""
        if self.num_inspirations == 0:
            return []
        chosen: list[Candidate] = []
        best = isl.by_id[isl.ranking[0][1]]
        if best.id != parent.id:
            chosen.append(best)
        others = [cid for _, cid in isl.ranking if cid != parent.id and cid != best.id]
        k = min(self.num_inspirations - len(chosen), len(others))
        chosen += [isl.by_id[cid] for cid in rng.sample(others, k)] if k > 0 else []
        return chosen[: self.num_inspirations]

    def best(self, island: int | None = None) -> Candidate | None:
        """Best elite of one island, or of all islands."""
        pool = self.islands if island is None else [self.islands[island]]
        tops = [isl.by_id[isl.ranking[0][1]] for isl in pool if isl.ranking]
        if not tops:
            return None
        return max(tops, key=self._fitness)

    def elites(self, island: int) -> list[Candidate]:
        """The island's population (one elite per filled cell), best first; equals in the order they came."""
        return sorted(self.islands[island].cells.values(), key=lambda c: (-self._fitness(c), c.seq))

    def filled_cells(self, island: int) -> dict[Cell, Candidate]:
        return dict(self.islands[island].cells)

    def __len__(self) -> int:
        return sum(len(isl.cells) for isl in self.islands)


class _RankedView(Sequence[T]):
    """An island's elites, best first, as a read-only view through `pick` (the candidate, or its fitness, higher
    is better): exploit/explore reads one item (O(1)); the weighted and power-law policies read them all (O(filled
    cells))."""

    def __init__(self, isl: Island, pick: Callable[[tuple[float, str]], T]) -> None:
        self._isl, self._pick = isl, pick

    def __len__(self) -> int:
        return len(self._isl.ranking)

    def __getitem__(self, i):  # type: ignore[override]
        entries = self._isl.ranking[i]
        return [self._pick(e) for e in entries] if isinstance(i, slice) else self._pick(entries)
