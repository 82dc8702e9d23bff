"""The ask/tell loop: sample a parent, ask a model for a change, evaluate the child, store it.

One loop serves every kind of candidate: what differs between programs and prompts is how a child is proposed
and read from the reply (a `Variation`: evolve/variation.py) and how it is scored (an `Evaluator`:
evolve/evaluation.py); the runner picks both by the task's kind.

Proposals run concurrently: LLM calls (I/O bound) under one semaphore, evaluations (sandboxed processes waited
on in worker threads, or task-model calls) under another. Only a stored child counts as an iteration, so a failed
or interrupted LLM call never burns the budget, and `evolve resume` picks up exactly where the store says the
run is. When the run stops, the evaluator may score the seeds and the best on held-out data (prompt runs).
"""

from __future__ import annotations

import asyncio
import collections
import random
import signal
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from evaluators.result import EvalResult
from evolve.archive import Archive
from evolve.candidate import Candidate
from evolve.config import RunConfig
from evolve.evaluation import SPEND_METRICS, Evaluator
from evolve.features import FeatureDim, describe
from evolve.llm import LLMEnsemble, LLMError, LLMProvider
from evolve.search_policies import build_search_policies
from evolve.safe_text import valid_utf8
from evolve.store import EvaluationRecord, LLMCallRecord, SplitScore, Store
from evolve.task import Task
from evolve.variation import Messages, ProposalContext, Variation, VariationError

FINISHED_REASONS = ("iterations", "target score", "token budget", "cost budget", "task-call budget",
                    "evaluation budget")
#: Children that never reach the evaluator (they cost no evaluation).
NOT_EVALUATED = ("invalid", "rejected-duplicate", "rejected-novelty")
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass
class RunStats:
    """Live figures for the progress display and the final summary."""

    completed: int = 0  # stored children (iterations), across resumes
    target: int = 0
    best_score: float | None = None
    best_id: str | None = None
    by_status: collections.Counter[str] = field(default_factory=collections.Counter)
    tokens: int = 0  # every model's: the optimizer's calls and, in prompt runs, the task model's
    cost_usd: float = 0.0
    spend: collections.Counter[str] = field(default_factory=collections.Counter)  # SPEND_METRICS totals
    split_scores: list[SplitScore] = field(default_factory=list)  # seeds' and best's held-out scores, at the end
    llm_failures: int = 0
    twins: int = 0  # children that behaved exactly like a known candidate: their evaluation was saved
    evaluations: int = 0  # children that reached the evaluator (the budget `max_evaluations` counts)
    notes: list[str] = field(default_factory=list)  # fallbacks the run took (also stored with the run)
    session_children: int = 0
    started_at: float = field(default_factory=time.monotonic)

    @property
    def rate(self) -> float:
        """Children per second in this session."""
        elapsed = time.monotonic() - self.started_at
        return self.session_children / elapsed if elapsed > 0 else 0.0


class Controller:
    """Runs (or resumes) one stored run until a stop condition holds."""

    def __init__(self, *, store: Store, run_id: str, task: Task, config: RunConfig, ensemble: LLMEnsemble,
                 variation: Variation, evaluator: Evaluator, dims: list[FeatureDim],
                 on_update: Callable[[RunStats], None] | None = None) -> None:
        self.store, self.run_id, self.task, self.config = store, run_id, task, config
        self.ensemble, self.variation, self.evaluator, self.dims = ensemble, variation, evaluator, dims
        self.on_update = on_update or (lambda stats: None)
        self.maximize = task.spec.direction == "maximize"
        self.search = build_search_policies(config, ensemble, task, store, run_id)
        self.archive = Archive(
            dims, config.islands, maximize=self.maximize, migration_interval=config.migration_interval,
            exploitation=config.exploitation, elite_pool=config.elite_pool, num_inspirations=config.num_inspirations,
            selection=self.search.selection,
        )
        self.stats = RunStats(target=config.iterations)
        for note in self.search.notes:
            self._note(note)
        self.seeds: list[Candidate] = []
        self.best: Candidate | None = None
        self.hashes: dict[str, str] = {}  # fingerprint (normalized code or prompt) -> first candidate with it
        self.behaviours: dict[str, Candidate] = {}  # probe-answers hash -> first evaluated candidate with it
        self.feedback: dict[int, str] = {}  # island -> why its last child failed, shown in its next prompt
        self.stop_reason: str | None = None
        self._in_flight = 0
        self._next_proposal = 0
        self._consecutive_llm_failures = 0
        self._llm_slots = asyncio.Semaphore(config.llm_concurrency)
        self._eval_slots = asyncio.Semaphore(config.eval_concurrency)
        self._changed: asyncio.Condition | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._deadline = time.monotonic() + config.max_wall_s if config.max_wall_s else None

    # ---- set-up -------------------------------------------------------------------------------------------------
    def _restore(self) -> bool:
        """Rebuild archive, hashes and counters from the store; False when the run has no candidate yet."""
        seen = False
        for cand in self.store.iter_candidates(self.run_id):
            seen = True
            if cand.edit_kind == "seed":
                self.seeds.append(cand)
                for island in range(len(self.archive.islands)):
                    self.archive.add(cand, island=island)
            else:
                self.stats.completed += 1
                self.stats.evaluations += cand.status not in NOT_EVALUATED
                self.archive.tell(cand)
            self._observe(cand)
            self.stats.by_status[cand.status] += 1
            if cand.status != "rejected-duplicate" and cand.code_hash:
                self.hashes.setdefault(cand.code_hash, cand.id)
            if cand.behaviour_hash:
                if cand.duplicate_of:
                    self.stats.twins += 1
                else:
                    self.behaviours.setdefault(cand.behaviour_hash, cand)
            self._note_spend(cand)
            self._note_best(cand)
        usage = self.store.usage(self.run_id)
        self.stats.tokens += usage.tokens
        self.stats.cost_usd += usage.cost_usd
        self._next_proposal = self.stats.completed
        return seen

    async def _evaluate_seeds(self) -> None:
        """Score the task's seed(s); each goes to every island. A seed that fails stops the run at once."""
        for source in self.task.seed_sources:
            seed = Candidate(run_id=self.run_id, source=source, kind=self.task.spec.kind, edit_kind="seed",
                             code_hash=self.variation.fingerprint(source))
            result = await self.evaluator.evaluate(source, None, self._twin_of)
            record = self._apply_result(seed, result)
            self.store.add_candidate(seed, [], record)
            self.stats.by_status[seed.status] += 1
            self._observe(seed)
            self._note_spend(seed)
            self.hashes.setdefault(seed.code_hash, seed.id)
            if seed.status == "skipped":
                raise SeedError(f"the task cannot be evaluated on this machine: {seed.reason}")
            if seed.status != "ok" or seed.score is None:
                raise SeedError(f"the seed {self.task.spec.kind} did not evaluate ({seed.status}): {seed.reason}")
            self.seeds.append(seed)
            for island in range(len(self.archive.islands)):
                self.archive.add(seed, island=island)
            self._note_best(seed)

    # ---- the loop -----------------------------------------------------------------------------------------------
    async def run(self) -> str:
        """Run until a stop condition holds; returns the stop reason. Ctrl-C stops cleanly (twice: at once)."""
        self._changed = asyncio.Condition()
        loop = asyncio.get_running_loop()
        for sig in _STOP_SIGNALS:
            try:
                loop.add_signal_handler(sig, self._on_stop_signal)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread (tests, embedding)
                pass
        try:
            # the models get ready while the seeds are evaluated (in threads), not on the first proposal
            preparing = asyncio.ensure_future(self.ensemble.prepare())
            try:
                if not self._restore():
                    await self._evaluate_seeds()
            finally:
                await preparing
            self.on_update(self.stats)
            # Enough proposals in flight to keep both stages busy; with both limits at 1 they run one at a time,
            # so a seeded run with a deterministic model is reproducible.
            workers = self.config.llm_concurrency + self.config.eval_concurrency - 1
            self._tasks = {asyncio.create_task(self._worker()) for _ in range(workers)}
            await asyncio.gather(*self._tasks, return_exceptions=False)
            if self.stop_reason != "interrupted":
                await self._conclude()
        except asyncio.CancelledError:
            self.stop_reason = self.stop_reason or "interrupted"
        finally:
            for task in self._tasks:
                task.cancel()
            for sig in _STOP_SIGNALS:
                try:
                    loop.remove_signal_handler(sig)
                except (NotImplementedError, RuntimeError, ValueError):
                    pass
            await self.ensemble.aclose()
            await self.evaluator.aclose()
        reason = self.stop_reason or "iterations"
        status = "finished" if reason in FINISHED_REASONS else "stopped"
        self.store.set_run_status(self.run_id, status, reason)
        self.on_update(self.stats)
        return reason

    def request_stop(self, reason: str) -> None:
        """No new proposals from now on; those in flight finish and are stored."""
        if self.stop_reason is None:
            self.stop_reason = reason
            asyncio.get_running_loop().create_task(self._notify())

    def _on_stop_signal(self) -> None:
        """First Ctrl-C (or SIGTERM) stops cleanly; a second abandons what is in flight (each child is stored
        atomically, so nothing is half-written)."""
        if self.stop_reason is None:
            self.request_stop("interrupted")
        else:
            for task in self._tasks:
                task.cancel()

    async def _notify(self) -> None:
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()

    def _check_stop(self) -> None:
        cfg, stats = self.config, self.stats
        if self.stop_reason:
            return
        if stats.completed >= cfg.iterations:
            self.stop_reason = "iterations"
        elif cfg.target_score is not None and stats.best_score is not None and (
                stats.best_score >= cfg.target_score if self.maximize else stats.best_score <= cfg.target_score):
            self.stop_reason = "target score"
        elif cfg.max_tokens is not None and stats.tokens >= cfg.max_tokens:
            self.stop_reason = "token budget"
        elif cfg.max_cost_usd is not None and stats.cost_usd >= cfg.max_cost_usd:
            self.stop_reason = "cost budget"
        elif cfg.max_task_calls is not None and stats.spend["task_calls"] >= cfg.max_task_calls:
            self.stop_reason = "task-call budget"
        elif self._deadline is not None and time.monotonic() >= self._deadline:
            self.stop_reason = "wall time"
        elif cfg.max_evaluations is not None and stats.evaluations >= cfg.max_evaluations:
            self.stop_reason = "evaluation budget"
        elif self._consecutive_llm_failures >= cfg.max_consecutive_llm_failures:
            self.stop_reason = f"{self._consecutive_llm_failures} LLM calls failed in a row"

    async def _claim(self) -> int | None:
        """A proposal number to work on, or None when the run should stop; waits while the quota is all in flight."""
        assert self._changed is not None
        async with self._changed:
            while True:
                self._check_stop()
                if self.stop_reason:
                    return None
                if self.stats.completed + self._in_flight < self.config.iterations and (
                        self.config.max_evaluations is None
                        or self.stats.evaluations + self._in_flight < self.config.max_evaluations):
                    self._in_flight += 1
                    self._next_proposal += 1
                    return self._next_proposal - 1
                timeout = None if self._deadline is None else max(0.0, self._deadline - time.monotonic())
                try:
                    await asyncio.wait_for(self._changed.wait(), timeout)
                except TimeoutError:
                    pass

    async def _worker(self) -> None:
        while (proposal := await self._claim()) is not None:
            try:
                await self._propose(proposal)
            finally:
                self._in_flight -= 1
                await self._notify()
                self.on_update(self.stats)

    async def _propose(self, proposal: int) -> None:
        try:
            await self._propose_with(proposal)
        finally:
            self.search.models.release(proposal)

    async def _propose_with(self, proposal: int) -> None:
        cfg = self.config
        rng = random.Random(f"{cfg.seed}:{proposal}")
        island = proposal % len(self.archive.islands)
        sample = self.archive.sample(island, rng)
        provider = self.search.models.pick(rng, proposal)
        elites = self.archive.elites(island)
        guidance = self.search.guidance.notes if self.search.guidance else None
        plan = self.variation.propose(ProposalContext(sample, elites, self.feedback.get(island), provider, rng,
                                                      proposal, guidance))
        messages = plan.messages
        calls: list[LLMCallRecord] = []
        reply = await self._ask(provider, messages, "mutation", calls, rng, plan.params)
        if reply is None:
            return
        parent = plan.parent
        child = Candidate(run_id=self.run_id, source="", kind=self.task.spec.kind, island=island,
                          parent_id=parent.id, inspiration_ids=[c.id for c in plan.others],
                          generation=parent.generation + 1, model=provider.name, edit_kind=plan.operator)
        error = None
        for attempt in range(cfg.repair_attempts + 1):
            try:
                child.source, child.edit_kind = self.variation.apply(plan, reply)
                error = None
                break
            except VariationError as exc:
                error = str(exc)
                if attempt == cfg.repair_attempts:
                    break
                messages = self.variation.repair(plan, messages, reply, error)
                reply = await self._ask(provider, messages, "repair", calls, rng, plan.params)
                if reply is None:
                    break
        record = await self._evaluate(child, error, plan.baseline,
                                      lambda msgs: self._ask(provider, msgs, "novelty", calls, rng, {}))
        self._account(child, calls)
        self.store.add_candidate(child, calls, record)
        self._tell(child)
        guide = self.search.guidance
        if guide is not None and guide.due(self.stats.completed):
            await self._refresh_guidance(provider, rng)

    async def _refresh_guidance(self, provider: LLMProvider, rng: random.Random) -> None:
        """Ask for new meta-guidance notes; the call is stored with the run (purpose "meta")."""
        assert self.search.guidance is not None
        calls: list[LLMCallRecord] = []
        reply = await self._ask(provider, self.search.guidance.request(), "meta", calls, rng, {})
        if reply is not None:
            self.search.guidance.accept(reply)
            self.store.add_run_call(self.run_id, calls[0])

    async def _ask(self, provider: LLMProvider, messages: Messages, purpose: str, calls: list[LLMCallRecord],
                   rng: random.Random, params: dict[str, Any]) -> str | None:
        """One LLM call, recorded; None on failure (stored as a failed call, not as a candidate)."""
        record = LLMCallRecord(model=provider.name, messages=messages, purpose=purpose, created_at=time.time())
        async with self._llm_slots:
            try:
                reply = await provider.generate(messages, seed=rng.randrange(2**31), **params)
            except LLMError as exc:
                record.error = str(exc)
                self._consecutive_llm_failures += 1
                self.stats.llm_failures += 1
                if exc.kind in ("auth", "budget"):  # no later call can succeed either
                    self.request_stop(f"LLM {exc.kind} error: {exc.message}")
                if not calls:
                    self.store.add_failed_call(self.run_id, record)
                else:
                    calls.append(record)
                return None
        self._consecutive_llm_failures = 0
        record.reply = text = valid_utf8(reply.text)  # a lone surrogate in a reply would break prompt, sandbox, store
        record.error = "; ".join(reply.notes) or None  # a call that succeeded with a caveat (a refused grammar)
        record.prompt_tokens, record.completion_tokens = reply.usage.prompt_tokens, reply.usage.completion_tokens
        record.cost_usd, record.latency_s = reply.usage.cost_usd, reply.latency_s
        calls.append(record)
        self.stats.tokens += record.prompt_tokens + record.completion_tokens
        self.stats.cost_usd += record.cost_usd
        return text

    @staticmethod
    def _account(child: Candidate, calls: list[LLMCallRecord]) -> None:
        child.prompt_tokens = sum(c.prompt_tokens for c in calls)
        child.completion_tokens = sum(c.completion_tokens for c in calls)
        child.cost_usd = sum(c.cost_usd for c in calls)
        child.llm_s = sum(c.latency_s for c in calls)

    async def _evaluate(self, child: Candidate, edit_error: str | None, baseline: Candidate | None,
                        ask: Callable[[Messages], Awaitable[str | None]] | None = None) -> EvaluationRecord | None:
        """Score a child unless its reply did not apply, it is a known duplicate or too close to a known one."""
        if edit_error is not None:
            child.status, child.reason = "invalid", edit_error
            return None
        child.code_hash = self.variation.fingerprint(child.source)
        twin = self.hashes.get(child.code_hash)
        if twin is not None:
            child.status, child.duplicate_of = "rejected-duplicate", twin
            child.reason = f"same {self.task.spec.kind} (once normalized) as candidate {twin}"
            return None
        self.hashes[child.code_hash] = child.id  # claim it now, so a twin in flight is caught too
        if self.search.novelty is not None:
            verdict = await self.search.novelty.check(child, ask if self.config.novelty_judge else None)
            if self.search.novelty.off_reason:
                self._note(self.search.novelty.off_reason)
            if not verdict.novel:
                child.status, child.reason, child.duplicate_of = "rejected-novelty", verdict.reason, verdict.nearest_id
                return None
        async with self._eval_slots:
            try:
                result = await self.evaluator.evaluate(child.source, baseline, self._twin_of)
            except Exception as exc:  # noqa: BLE001 - Evolve's own failure on one child: stored, the run goes on
                result = EvalResult("crashed", artifacts={"traceback": traceback.format_exc()[-2000:]},
                                    reason=f"Evolve failed while evaluating this candidate: "
                                           f"{type(exc).__name__}: {exc}")
        return self._apply_result(child, result)

    def _twin_of(self, behaviour_hash: str) -> str | None:
        """Called from evaluation threads: the evaluated candidate that answered the probes the same way."""
        twin = self.behaviours.get(behaviour_hash)
        return twin.id if twin is not None else None

    def _apply_result(self, cand: Candidate, result: EvalResult) -> EvaluationRecord:
        cand.behaviour_hash = result.behaviour_hash
        if result.twin_of is not None and (twin := self.behaviours.get(result.behaviour_hash or "")):
            # functional hashing: same answers on the probes as `twin`, so it would score the same; reuse
            result.status, result.metrics, result.stage = twin.status, dict(twin.metrics), twin.eval_stage
            result.artifacts = {"twin": twin.id}
            result.reason = f"behaves like candidate {twin.id} on the task's probes" + (
                f": {twin.reason}" if twin.reason else "; its score is reused")
            cand.duplicate_of = twin.id
            self.stats.twins += 1
        elif result.behaviour_hash:
            self.behaviours.setdefault(result.behaviour_hash, cand)
        cand.status, cand.reason = result.status, result.reason  # type: ignore[assignment]
        cand.metrics, cand.artifacts, cand.eval_stage = result.metrics, result.artifacts, result.stage
        cand.eval_wall_s, cand.eval_cpu_s, cand.peak_mem_mb = result.wall_s, result.cpu_s, result.peak_mem_mb
        # an ok result without the objective was stopped early by its evaluator's cascade: it stays out of the archive
        if result.status == "ok" and self.task.spec.objective in result.metrics:
            cand.score = result.metrics[self.task.spec.objective]
            cand.features = describe(cand.source, self.task.seed_source, cand.metrics, self.dims)
        return EvaluationRecord(
            status=result.status, stage=result.stage, returncode=result.returncode,
            stdout=result.artifacts.get("stdout", ""), stderr=result.artifacts.get("stderr", ""),
            wall_s=result.wall_s, cpu_s=result.cpu_s, peak_mem_mb=result.peak_mem_mb,
        )

    def _tell(self, child: Candidate) -> None:
        self.archive.tell(child)
        self._observe(child)
        self.stats.evaluations += child.status not in NOT_EVALUATED
        self.stats.completed += 1
        self.stats.session_children += 1
        self.stats.by_status[child.status] += 1
        self._note_spend(child)
        if child.status == "ok":
            self.feedback.pop(child.island, None)
        else:
            self.feedback[child.island] = f"{child.status}: {child.reason}"
        self._note_best(child)

    def _observe(self, cand: Candidate) -> None:
        """Show a stored candidate to the search policies (model statistics, novelty memory, recent children)."""
        self.search.models.observe(cand)
        if self.search.novelty is not None:
            self.search.novelty.remember(cand)
        if self.search.guidance is not None:
            self.search.guidance.record(cand)

    def _note(self, text: str) -> None:
        """A fallback the run took: shown after the run, kept with it in the store (once)."""
        if text not in self.stats.notes:
            self.stats.notes.append(text)
            self.store.add_run_note(self.run_id, text)

    def _note_spend(self, cand: Candidate) -> None:
        """Add what evaluating `cand` cost (task-model calls, ...) to the run's totals."""
        for name in SPEND_METRICS:
            self.stats.spend[name] += cand.metrics.get(name, 0)
        self.stats.tokens += int(cand.metrics.get("task_tokens", 0))
        self.stats.cost_usd += cand.metrics.get("task_cost_usd", 0.0)

    def _note_best(self, cand: Candidate) -> None:
        if cand.status == "ok" and cand.score is not None and (
                self.stats.best_score is None or self.task.better(cand.score, self.stats.best_score)):
            self.stats.best_score, self.stats.best_id = cand.score, cand.id
            self.best = cand

    async def _conclude(self) -> None:
        """Let the evaluator score the seeds and the best on its held-out data, and store those scores."""
        if self.best is None:
            return
        scores = await self.evaluator.conclude(self.seeds, self.best)
        if scores:
            self.store.add_split_scores(self.run_id, scores)
            self.stats.split_scores = scores
            self.stats.spend["task_calls"] += sum(s.task_calls for s in scores)


class SeedError(Exception):
    """The task's seed candidate failed its own evaluation, so there is nothing to evolve from."""

