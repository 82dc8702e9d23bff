"""What the loop awaits to score a child, whatever its kind; the runner picks the evaluator by the task's kind.

Programs are scored by the sandboxed evaluator (evaluators/program.py) in a worker thread. Prompts are scored by
calling the task model (evaluators/prompt.py), which is I/O and runs on the event loop itself. Both report in
an `EvalResult`; what scoring cost beyond wall time (task-model calls, cache hits, ...) is reported in its
metrics under the `SPEND_METRICS` names, which the controller totals for the progress display and budgets.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from evaluators.program import ProgramEvaluator
from evaluators.prompt import SPEND_METRICS  # noqa: F401 - re-exported: what an evaluation spent, not its quality
from evaluators.result import EvalResult, TwinLookup
from evolve.candidate import Candidate
from evolve.store import SplitScore



class Evaluator(Protocol):
    async def evaluate(self, source: str, baseline: Candidate | None, twin_of: TwinLookup) -> EvalResult:
        """Score a candidate. With a `baseline`, an evaluator may stop early when the child does not beat it."""
        ...

    async def conclude(self, seeds: list[Candidate], best: Candidate) -> list[SplitScore]:
        """Once evolution stops: the seeds' and the best's scores on data evolution never saw (may be none)."""
        ...

    async def aclose(self) -> None: ...


class ProgramEvaluation:
    """Programs: the sandboxed evaluator, run in a worker thread; no baseline gate, no held-out split."""

    def __init__(self, evaluator: ProgramEvaluator) -> None:
        self.evaluator = evaluator

    async def evaluate(self, source: str, baseline: Candidate | None, twin_of: TwinLookup) -> EvalResult:
        return await asyncio.to_thread(self.evaluator.evaluate, source, twin_of)

    async def conclude(self, seeds: list[Candidate], best: Candidate) -> list[SplitScore]:
        return []

    async def aclose(self) -> None:
        await asyncio.to_thread(self.evaluator.close)
