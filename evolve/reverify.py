"""Re-verification of a run's best: before a run reports its best program, that program is scored again.

Why: a score seen once may not hold. A stochastic evaluator can draw a lucky sample, a timing-based one can
catch a quiet moment, a candidate can be flaky. So, once evolution stops, the best candidate is re-evaluated
`repeats` times, each in fresh sandboxes (a new evaluator server) and under a fresh seed (the harness reseeds the
evaluator's `random` and exports EVOLVE_EVAL_SEED). It holds when every repeat succeeds and the worst repeat is
within `tolerance` (relative to the score) of the score it was selected on; otherwise it is flagged and the next
best distinct program is checked, up to `candidates` of them.

Results are stored in `split_scores` (no table of their own): split "reverify" holds the median of the repeats
that succeeded (`examples`: how many) and split "spread" their range (max - min; `examples`: repeats run); role "best" marks the
candidate the run reports, role "flagged" one whose score did not hold.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from evaluators.program import ProgramEvaluator
from evolve.candidate import Candidate
from evolve.store import SplitScore

REVERIFY, SPREAD = "reverify", "spread"  # the split names of the stored results
_ABS_TOLERANCE = 1e-9  # a score of 0 still tolerates float noise


class ReverifySpec(BaseModel):
    """task.yaml `reverify`: how the best of a program run is checked before it is reported."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    repeats: int = Field(1, ge=1, le=20)  # > 1 for stochastic or timing-based evaluators
    tolerance: float = Field(0.0, ge=0.0)  # how far (a fraction of |score|) the worst repeat may fall short
    candidates: int = Field(3, ge=1, le=20)  # how many of the best distinct programs may be checked in turn


@dataclass
class Check:
    """One candidate's re-verification: the scores of its repeats (None: that repeat failed) and the verdict."""

    candidate: Candidate
    scores: list[float | None]
    held: bool
    reason: str = ""

    @property
    def median(self) -> float | None:
        ok = [s for s in self.scores if s is not None]
        return statistics.median(ok) if ok else None

    @property
    def spread(self) -> float | None:
        ok = [s for s in self.scores if s is not None]
        return max(ok) - min(ok) if ok else None

    def split_scores(self) -> list[SplitScore]:
        """"reverify": the median over the repeats that succeeded (`examples`: how many did, 0: none, score 0);
        "spread": their range (`examples`: how many repeats were run)."""
        role = "best" if self.held else "flagged"
        succeeded = sum(s is not None for s in self.scores)
        return [SplitScore(self.candidate.id, role, REVERIFY, self.median or 0.0, succeeded),
                SplitScore(self.candidate.id, role, SPREAD, self.spread or 0.0, len(self.scores))]


@dataclass
class Verdict:
    """What re-verification found: the candidate the run reports (None when none held) and every check made."""

    best: Candidate | None
    checks: list[Check] = field(default_factory=list)

    def split_scores(self) -> list[SplitScore]:
        return [score for check in self.checks for score in check.split_scores()]


def ranked(candidates: Iterable[Candidate], better: Callable[[float, float], bool]) -> list[Candidate]:
    """Scored candidates, best first, one per distinct program (a duplicate would only repeat the check)."""
    ok = [c for c in candidates if c.status == "ok" and c.score is not None]
    ordered: list[Candidate] = []
    for cand in ok:
        i = 0
        while i < len(ordered) and not better(cand.score, ordered[i].score):  # type: ignore[arg-type]
            i += 1
        ordered.insert(i, cand)  # stable: among equal scores the earlier candidate stays first
    seen: set[str] = set()
    distinct = []
    for cand in ordered:
        key = cand.code_hash or cand.source
        if key not in seen:
            seen.add(key)
            distinct.append(cand)
    return distinct


async def reverify(evaluator: ProgramEvaluator, ranking: list[Candidate], spec: ReverifySpec,
                   better: Callable[[float, float], bool]) -> Verdict:
    """Check the ranked candidates in turn until one holds (or `spec.candidates` were checked)."""
    verdict = Verdict(best=None)
    for cand in ranking[:spec.candidates]:
        check = await asyncio.to_thread(_check, evaluator, cand, spec, better)
        verdict.checks.append(check)
        if check.held:
            verdict.best = cand
            break
    return verdict


def _check(evaluator: ProgramEvaluator, cand: Candidate, spec: ReverifySpec,
           better: Callable[[float, float], bool]) -> Check:
    scores: list[float | None] = []
    failures = []
    for repeat in range(spec.repeats):
        fresh = evaluator.variant(eval_seed=repeat + 1)  # its own servers: a fresh sandbox, a fresh seed
        try:
            result = fresh.evaluate(cand.source)
        finally:
            fresh.close()
        value = result.metrics.get(evaluator.objective) if result.status == "ok" else None
        scores.append(value)
        if value is None:
            failures.append(f"repeat {repeat + 1}: {result.status} ({result.reason[:120]})")
    if failures:
        return Check(cand, scores, False, "; ".join(failures))
    assert cand.score is not None
    ok = [s for s in scores if s is not None]
    worst = min(ok) if better(1.0, 0.0) else max(ok)  # worst in the task's direction
    allowed = spec.tolerance * abs(cand.score) + _ABS_TOLERANCE
    if abs(worst - cand.score) > allowed and better(cand.score, worst):
        return Check(cand, scores, False, f"scored {worst:.6g} on re-evaluation, against {cand.score:.6g} when "
                                          f"selected (tolerance {spec.tolerance:g} of the score)")
    return Check(cand, scores, True)


def describe(checks: list[Check], objective: str) -> list[str]:
    """One line per check, for the run's summary and `evolve status`."""
    lines = []
    for check in checks:
        shown = ", ".join("failed" if s is None else f"{s:.6g}" for s in check.scores)
        verdict = "holds" if check.held else f"FLAGGED: {check.reason}"
        lines.append(f"re-verified {check.candidate.id} ({objective} {check.candidate.score:.6g}) × "
                     f"{len(check.scores)}: [{shown}] → {verdict}")
    return lines
