"""The report's dev vs test table: per run, the seed's and the best's score on the dev instances evolution saw and
on the held-out test instances it never saw, the gap, and the re-verification of the best (see evolve/reverify.py).

Read from `split_scores` through the store, so SQLite and PostgreSQL alike; a run without any (a task without a
test split that was not re-verified, or an interrupted run) has no row.
"""

from __future__ import annotations

from dataclasses import dataclass

from evolve.report.data import RunData, Selection
from evolve.split_view import SplitRow, flagged, split_rows
from evolve.store import Store


@dataclass
class HeldOutRow:
    """One run: its seed's and best's dev and test scores, and what re-verification found."""

    run: RunData
    seed: SplitRow | None
    best: SplitRow | None
    flagged: list[str]

    @staticmethod
    def _score(row: SplitRow | None, split: str) -> float | None:
        score = getattr(row, split) if row is not None else None
        return None if score is None else score.score

    @property
    def values(self) -> dict[str, float | None]:
        """seed_dev, seed_test, best_dev, best_test, gap (best test - best dev)."""
        return {"seed_dev": self._score(self.seed, "dev"), "seed_test": self._score(self.seed, "test"),
                "best_dev": self._score(self.best, "dev"), "best_test": self._score(self.best, "test"),
                "gap": None if self.best is None else self.best.gap}

    @property
    def reverified(self) -> str:
        return "" if self.best is None else self.best.reverified()


def heldout_rows(store: Store, sel: Selection) -> list[HeldOutRow]:
    """A row per run that stored any split score, in the selection's order."""
    found = []
    for run in sel.runs:
        scores = store.split_scores(run.id)
        if not scores:
            continue
        rows = split_rows(scores)
        seed = next((r for r in rows if r.role == "seed"), None)
        best = next((r for r in rows if r.role == "best"), None)
        found.append(HeldOutRow(run, seed, best, flagged(scores)))
    return found
