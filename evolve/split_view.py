"""A run's scores beyond evolution, as rows: dev (what evolution saw) vs test (held out), the gap, re-verification.

One place that reads `split_scores` rows into what `evolve run`, `evolve status`, `evolve best` and the report
show, so they all say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass

from evolve.reverify import REVERIFY, SPREAD
from evolve.store import SplitScore


@dataclass
class SplitRow:
    """One candidate in one role (seed, best, flagged) with whatever splits it was scored on."""

    role: str
    candidate_id: str
    dev: SplitScore | None = None
    test: SplitScore | None = None
    reverify: SplitScore | None = None
    spread: SplitScore | None = None

    @property
    def gap(self) -> float | None:
        """test - dev: how far the held-out score is from the score evolution selected on."""
        return None if self.dev is None or self.test is None else self.test.score - self.dev.score

    def reverified(self) -> str:
        """"median ± range/2 (k/n ok)", "failed (0/n)", or "" when not re-verified."""
        if self.reverify is None:
            return ""
        runs = self.spread.examples if self.spread is not None else self.reverify.examples
        if self.reverify.examples == 0:
            return f"failed (0/{runs})"
        half = (self.spread.score if self.spread is not None else 0.0) / 2
        return f"{self.reverify.score:.6g} ± {half:.3g} ({self.reverify.examples}/{runs})"


def split_rows(scores: list[SplitScore]) -> list[SplitRow]:
    """Rows in the order the scores were stored (seeds first), one per (role, candidate)."""
    rows: dict[tuple[str, str], SplitRow] = {}
    for score in scores:
        row = rows.setdefault((score.role, score.candidate_id), SplitRow(score.role, score.candidate_id))
        if score.split in ("dev", "test", REVERIFY, SPREAD):
            setattr(row, score.split, score)
    return list(rows.values())


def fmt_score(score: SplitScore | None, digits: str = ".6g") -> str:
    """A score, with its number of examples or instances when known."""
    if score is None:
        return ""
    return f"{score.score:{digits}}" + (f" (n={score.examples})" if score.examples else "")


def verified_best(scores: list[SplitScore]) -> str | None:
    """The id of the candidate whose score held on re-verification (None: not re-verified, or none held)."""
    return next((s.candidate_id for s in scores if s.role == "best" and s.split == REVERIFY), None)


def flagged(scores: list[SplitScore]) -> list[str]:
    """Ids of candidates whose score did not hold on re-verification."""
    return [s.candidate_id for s in scores if s.role == "flagged" and s.split == REVERIFY]
