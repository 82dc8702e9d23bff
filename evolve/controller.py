"""The ask/tell loop: sample a parent, ask a model for a change, evaluate the child in the sandbox, store it.

Proposals run concurrently: LLM calls (I/O bound) under one semaphore, evaluations (CPU bound, in worker threads
that wait on sandboxed processes) under another. Only a stored child counts as an iteration, so a failed or
interrupted LLM call never burns the budget, and `evolve resume` picks up exactly where the store says the run is.
"""

from __future__ import annotations

import asyncio
import collections
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from evaluators.program import ProgramEvaluator
from evaluators.result import EvalResult
from evolve.archive import Archive
from evolve.candidate import Candidate
from evolve.config import RunConfig
from evolve.dedupe import code_hash
from evolve.edits import EditError, apply_reply
from evolve.features import FeatureDim, describe
from evolve.llm import LLMEnsemble, LLMError, LLMProvider
from evolve.prompting import Messages, PromptBuilder
from evolve.store import EvaluationRecord, LLMCallRecord, Store
from evolve.task import Task

FINISHED_REASONS = ("iterations", "target score", "token budget", "cost budget")
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass
class RunStats:
    """Live figures for the progress display and the final summary."""

    completed: int = 0  # stored children (iterations), across resumes
    target: int = 0
    best_score: float | None = None
    best_id: str | None = None
    by_status: collections.Counter[str] = field(default_factory=collections.Counter)
    tokens: int = 0
    cost_usd: float = 0.0
    llm_failures: int = 0
    twins: int = 0  # children that behaved exactly like a known candidate: their evaluation was saved
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
                 evaluator: ProgramEvaluator, dims: list[FeatureDim],
                 on_update: Callable[[RunStats], None] | None = None) -> None:
        self.store, self.run_id, self.task, self.config = store, run_id, task, config
        self.ensemble, self.evaluator, self.dims = ensemble, evaluator, dims
        self.on_update = on_update or (lambda stats: None)
        self.maximize = task.spec.direction == "maximize"
        self.archive = Archive(
            dims, config.islands, maximize=self.maximize, migration_interval=config.migration_interval,
            exploitation=config.exploitation, elite_pool=config.elite_pool, num_inspirations=config.num_inspirations,
        )
        self.prompts = PromptBuilder(task)
        self.stats = RunStats(target=config.iterations)
        self.hashes: dict[str, str] = {}  # normalized code hash -> first candidate with it
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
                for island in range(len(self.archive.islands)):
                    self.archive.add(cand, island=island)
            else:
                self.stats.completed += 1
                self.archive.tell(cand)
            self.stats.by_status[cand.status] += 1
            if cand.status != "rejected-duplicate" and cand.code_hash:
                self.hashes.setdefault(cand.code_hash, cand.id)
            if cand.behaviour_hash:
                if cand.duplicate_of:
                    self.stats.twins += 1
                else:
                    self.behaviours.setdefault(cand.behaviour_hash, cand)
            self._note_best(cand)
        usage = self.store.usage(self.run_id)
        self.stats.tokens, self.stats.cost_usd = usage.tokens, usage.cost_usd
        self._next_proposal = self.stats.completed
        return seen

    async def _evaluate_seed(self) -> None:
        source = self.task.seed_source
        seed = Candidate(run_id=self.run_id, source=source, kind=self.task.spec.kind, edit_kind="seed",
                         code_hash=code_hash(source, self.task.spec.language))
        result = await asyncio.to_thread(self.evaluator.evaluate, source, self._twin_of)
        record = self._apply_result(seed, result)
        self.store.add_candidate(seed, [], record)
        self.stats.by_status[seed.status] += 1
        self.hashes[seed.code_hash] = seed.id
        if seed.status != "ok":
            raise SeedError(f"the seed program did not evaluate ({seed.status}): {seed.reason}")
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
            if not self._restore():
                await self._evaluate_seed()
            self.on_update(self.stats)
            # Enough proposals in flight to keep both stages busy; with both limits at 1 they run one at a time,
            # so a seeded run with a deterministic model is reproducible.
            workers = self.config.llm_concurrency + self.config.eval_concurrency - 1
            self._tasks = {asyncio.create_task(self._worker()) for _ in range(workers)}
            await asyncio.gather(*self._tasks, return_exceptions=False)
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
        elif self._deadline is not None and time.monotonic() >= self._deadline:
            self.stop_reason = "wall time"
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
                if self.stats.completed + self._in_flight < self.config.iterations:
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
        cfg = self.config
        rng = random.Random(f"{cfg.seed}:{proposal}")
        island = proposal % len(self.archive.islands)
        sample = self.archive.sample(island, rng)
        provider = self.ensemble.pick(rng)
        mode = cfg.edit_mode if cfg.edit_mode != "auto" else ("rewrite" if provider.name.startswith("local") else "diff")
        # context_tokens is already the prompt budget (the window minus the room kept for the reply).
        messages = self.prompts.mutation(sample, mode, self.feedback.get(island), provider.context_tokens,
                                         provider.count_tokens)
        calls: list[LLMCallRecord] = []
        reply = await self._ask(provider, messages, "mutation", calls, rng)
        if reply is None:
            return
        parent = sample.parent
        child = Candidate(run_id=self.run_id, source="", kind=self.task.spec.kind, island=island,
                          parent_id=parent.id, inspiration_ids=[c.id for c in sample.inspirations],
                          generation=parent.generation + 1, model=provider.name, edit_kind=mode)
        error = None
        for attempt in range(cfg.repair_attempts + 1):
            try:
                edit = apply_reply(parent.source, reply, mode="auto", language=self.task.spec.language)
                child.source, child.edit_kind = edit.source, edit.kind
                error = None
                break
            except EditError as exc:
                error = str(exc)
                if attempt == cfg.repair_attempts:
                    break
                messages = self.prompts.repair(messages, reply, error, mode)
                reply = await self._ask(provider, messages, "repair", calls, rng)
                if reply is None:
                    break
        self._account(child, calls)
        record = await self._evaluate(child, error)
        self.store.add_candidate(child, calls, record)
        self._tell(child)

    async def _ask(self, provider: LLMProvider, messages: Messages, purpose: str, calls: list[LLMCallRecord],
                   rng: random.Random) -> str | None:
        """One LLM call, recorded; None on failure (stored as a failed call, not as a candidate)."""
        record = LLMCallRecord(model=provider.name, messages=messages, purpose=purpose, created_at=time.time())
        async with self._llm_slots:
            try:
                reply = await provider.generate(messages, seed=rng.randrange(2**31))
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
        record.reply = reply.text
        record.prompt_tokens, record.completion_tokens = reply.usage.prompt_tokens, reply.usage.completion_tokens
        record.cost_usd, record.latency_s = reply.usage.cost_usd, reply.latency_s
        calls.append(record)
        self.stats.tokens += record.prompt_tokens + record.completion_tokens
        self.stats.cost_usd += record.cost_usd
        return reply.text

    @staticmethod
    def _account(child: Candidate, calls: list[LLMCallRecord]) -> None:
        child.prompt_tokens = sum(c.prompt_tokens for c in calls)
        child.completion_tokens = sum(c.completion_tokens for c in calls)
        child.cost_usd = sum(c.cost_usd for c in calls)
        child.llm_s = sum(c.latency_s for c in calls)

    async def _evaluate(self, child: Candidate, edit_error: str | None) -> EvaluationRecord | None:
        """Score a child unless its reply did not apply or its code is a known duplicate."""
        if edit_error is not None:
            child.status, child.reason = "invalid", edit_error
            return None
        child.code_hash = code_hash(child.source, self.task.spec.language)
        twin = self.hashes.get(child.code_hash)
        if twin is not None:
            child.status, child.duplicate_of = "rejected-duplicate", twin
            child.reason = f"same code (normalized AST) as candidate {twin}"
            return None
        self.hashes[child.code_hash] = child.id  # claim it now, so a twin in flight is caught too
        async with self._eval_slots:
            result = await asyncio.to_thread(self.evaluator.evaluate, child.source, self._twin_of)
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
        if result.status == "ok":
            cand.score = result.metrics[self.task.spec.objective]
            cand.features = describe(cand.source, self.task.seed_source, cand.metrics, self.dims)
        return EvaluationRecord(
            status=result.status, stage=result.stage, returncode=result.returncode,
            stdout=result.artifacts.get("stdout", ""), stderr=result.artifacts.get("stderr", ""),
            wall_s=result.wall_s, cpu_s=result.cpu_s, peak_mem_mb=result.peak_mem_mb,
        )

    def _tell(self, child: Candidate) -> None:
        self.archive.tell(child)
        self.stats.completed += 1
        self.stats.session_children += 1
        self.stats.by_status[child.status] += 1
        if child.status == "ok":
            self.feedback.pop(child.island, None)
        else:
            self.feedback[child.island] = f"{child.status}: {child.reason}"
        self._note_best(child)

    def _note_best(self, cand: Candidate) -> None:
        if cand.status == "ok" and cand.score is not None and (
                self.stats.best_score is None or self.task.better(cand.score, self.stats.best_score)):
            self.stats.best_score, self.stats.best_id = cand.score, cand.id


class SeedError(Exception):
    """The task's seed candidate failed its own evaluation, so there is nothing to evolve from."""

