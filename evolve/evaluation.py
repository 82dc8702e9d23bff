"""What the loop awaits to score a child, whatever its kind; the runner picks the evaluator by the task's kind.

Programs are scored by the sandboxed evaluator (evaluators/program.py) in a worker thread. Prompts are scored by
calling the task model (evaluators/prompt.py), which is I/O and runs on the event loop itself. Both report in
an `EvalResult`; what scoring cost beyond wall time (task-model calls, cache hits, ...) is reported in its
metrics under the `SPEND_METRICS` names, which the controller totals for the progress display and budgets.
"""

from __future__ import annotations

import ast
import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from evaluators.program import ProgramEvaluator
from evaluators.prompt import SPEND_METRICS  # noqa: F401 - re-exported: what an evaluation spent, not its quality
from evaluators.result import EvalResult, TwinLookup
from evolve.candidate import Candidate
from evolve.reverify import ReverifySpec, Verdict, reverify
from evolve.store import SplitScore

log = logging.getLogger(__name__)


class Evaluator(Protocol):
    async def evaluate(self, source: str, baseline: Candidate | None, twin_of: TwinLookup) -> EvalResult:
        """Score a candidate. With a `baseline`, an evaluator may stop early when the child does not beat it."""
        ...

    async def conclude(self, seeds: list[Candidate], best: Candidate) -> list[SplitScore]:
        """Once evolution stops: the seeds' and the best's scores on data evolution never saw (may be none)."""
        ...

    async def aclose(self) -> None: ...


class ProgramEvaluation:
    """Programs: the sandboxed evaluator, run in a worker thread; no baseline gate. At the end of a run the best is
    re-verified (evolve/reverify.py) and, when the task's evaluator defines `evaluate_test`, the seeds and the
    verified best are scored on its held-out instances, in fresh sandboxes, once."""

    def __init__(self, evaluator: ProgramEvaluator, *, reverify: ReverifySpec | None = None,
                 ranking: Callable[[], list[Candidate]] | None = None,
                 better: Callable[[float, float], bool] | None = None) -> None:
        self.evaluator = evaluator
        self.reverify_spec = reverify or ReverifySpec(enabled=False)
        self.ranking = ranking  # the run's scored candidates, best first (re-verification walks it)
        self.better = better or (lambda a, b: a > b)
        path = getattr(evaluator, "evaluator_path", None)  # a repository task scores with its own commands
        self.has_test = path is not None and defines_function(path, "evaluate_test")
        self.verdict: Verdict | None = None  # the last re-verification (the run's summary describes it)

    async def evaluate(self, source: str, baseline: Candidate | None, twin_of: TwinLookup) -> EvalResult:
        return await asyncio.to_thread(self.evaluator.evaluate, source, twin_of)

    async def conclude(self, seeds: list[Candidate], best: Candidate) -> list[SplitScore]:
        checks: list[SplitScore] = []
        if self.reverify_spec.enabled and self.ranking is not None:
            self.verdict = await reverify(self.evaluator, self.ranking() or [best], self.reverify_spec, self.better)
            checks = self.verdict.split_scores()
            best = self.verdict.best or best  # none held: the best by score, flagged
        scores = [SplitScore(c.id, role, "dev", c.score, 0) for role, c in [*(("seed", s) for s in seeds),
                                                                           ("best", best)] if c.score is not None]
        scores += checks
        if self.has_test:
            scores += await asyncio.to_thread(self._test_scores, seeds, best)
        return scores

    def _test_scores(self, seeds: list[Candidate], best: Candidate) -> list[SplitScore]:
        """Each seed and the best once on the held-out split, with servers of their own (never evolution's)."""
        tester = self.evaluator.variant(split="test")
        scores = []
        try:
            for role, cand in [*(("seed", s) for s in seeds), ("best", best)]:
                result = tester.evaluate(cand.source)
                value = result.metrics.get(self.evaluator.objective)
                if result.status == "ok" and value is not None:
                    scores.append(SplitScore(cand.id, role, "test", value, int(result.metrics.get("instances", 0))))
                else:
                    log.warning("the held-out evaluation of %s %s failed: %s %s", role, cand.id, result.status,
                                result.reason)
        finally:
            tester.close()
        return scores

    async def aclose(self) -> None:
        await asyncio.to_thread(self.evaluator.close)


def defines_function(path: Path, name: str) -> bool:
    """Whether the Python file at `path` defines a top-level function `name` (read, never imported: the engine
    does not run task code outside the sandbox)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return False
    return any(isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name
               for node in tree.body)
