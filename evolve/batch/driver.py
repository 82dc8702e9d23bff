"""A batch from sweep to end: store every run `pending` first, then hand them to an executor and watch.

Creating all runs before starting any makes the store the batch's only state: `evolve batch resume` needs no
file and no memory of the last process, only the runs that are not `finished`. While the executor works the
driver polls (through the executor's `should_stop`) for Ctrl-C and the batch budgets; when one says stop it
marks the batch `stopping` with the reason, starts nothing more, and each running run sees that in the store and
stops cleanly. A run whose worker died is marked `lost` and dispatched again (`retries` times per invocation).
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

import psutil
from pydantic import BaseModel, ConfigDict, Field

from evolve.batch.executors import make_executor
from evolve.batch.job import JobOutcome, RunJob
from evolve.batch.summary import BatchSummary, summarize_batch
from evolve.batch.sweep import BatchBudget, Sweep
from evolve.errors import EvolveError
from evolve.runner import run_record
from evolve.safe_text import shown
from evolve.store import Store
from sandbox import get_sandbox

#: How often budgets are checked and the display redrawn while a batch runs.
TICK_S = 1.0


class BatchSettings(BaseModel):
    """How a batch is run; stored with it so that `batch resume` runs it the same way unless told otherwise."""

    model_config = ConfigDict(extra="forbid")
    executor: str = "local"
    address: str | None = None  # the Ray cluster (`auto`, HOST:6379 or ray://HOST:10001); None: auto
    max_concurrent: int = Field(ge=1)
    retries: int = Field(1, ge=0)  # re-dispatches of a run whose worker died, per invocation
    budget: BatchBudget = Field(default_factory=BatchBudget)


def default_max_concurrent(sweep: Sweep) -> int:
    """Twice as many runs as the machine's cores hold at the smallest evaluation concurrency of the sweep's runs.

    Twice, because a run's pipeline alternates between its engine, its model and its sandboxes and so keeps less
    than its share of cores busy: with an instant model and one evaluation at a time, 4 runs on 2 cores gave
    1.95x one run's rate where 2 runs gave 1.32x (benchmarks/batch_scale.py); a slower model leaves more idle."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    per_run = min(plan.config.eval_concurrency for plan in sweep.plans)
    return max(1, 2 * cores // per_run)


def create_batch(store: Store, sweep: Sweep, settings: BatchSettings) -> str:
    """The batch and all its runs, `pending`, each with its full settings, environment, params and cell."""
    described: dict[str, dict[str, Any]] = {}  # sandbox backend -> its description, probed once per batch
    for plan in sweep.plans:
        if plan.config.sandbox not in described:
            described[plan.config.sandbox] = get_sandbox(plan.config.sandbox).describe()
    pending = [{**run_record(plan.task, plan.config, described[plan.config.sandbox]), "params": plan.params,
                "cell": plan.cell} for plan in sweep.plans]
    return store.create_batch(name=sweep.name, sweep=sweep.data, sweep_path=str(sweep.path.resolve()),
                              settings=settings.model_dump(mode="json"), pending=pending)


def find_batch(store: Store, ref: str) -> dict[str, Any]:
    batch = store.get_batch(ref)
    if batch is None:
        raise EvolveError(f"no batch '{shown(ref, 100, one_line=True)}' in "
                          f"{store.engine.url.render_as_string(hide_password=True)} (see `evolve batch status`)")
    return batch


class BatchDriver:
    """Runs the unfinished runs of one stored batch through an executor until they end or the batch stops."""

    def __init__(self, store: Store, batch_id: str, settings: BatchSettings,
                 on_tick: Callable[[BatchSummary], None] | None = None) -> None:
        self.store, self.batch_id, self.settings = store, batch_id, settings
        self.on_tick = on_tick or (lambda summary: None)
        self.executor = make_executor(settings.executor, settings.max_concurrent, address=settings.address)
        self.stop_reason: str | None = None
        self.lost: set[str] = set()
        self._interrupts = 0
        self._started = time.monotonic()
        self._next_tick = 0.0

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self._started

    def run(self) -> dict[str, Any]:
        """Drive the batch; returns its stored row at the end (status finished | stopped | failed)."""
        self._claim()
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            jobs = self._jobs(lambda row: row["status"] != "finished")
            for _ in range(self.settings.retries + 1):
                if not jobs or self.stop_reason:
                    break
                self.lost.clear()
                self.executor.run(jobs, self._on_outcome, self._should_stop)
                jobs = self._jobs(lambda row: row["id"] in self.lost)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._conclude()
        self.on_tick(summarize_batch(self.store, find_batch(self.store, self.batch_id)))
        return find_batch(self.store, self.batch_id)

    def _claim(self) -> None:
        """Refuse a batch that a live process on this machine still drives; else record this process as its driver."""
        batch = find_batch(self.store, self.batch_id)
        driver = (batch["settings"] or {}).get("driver")
        if batch["status"] in ("running", "stopping") and driver and _alive(driver):
            raise EvolveError(f"batch {batch['id']} is being run by process {driver['pid']} on this machine; "
                              "stop it first (Ctrl-C there)")
        me = psutil.Process()
        claimed = self.store.claim_batch(self.batch_id, {
            **self.settings.model_dump(mode="json"),
            "driver": {"host": socket.gethostname(), "pid": me.pid, "started": me.create_time()}},
            batch["updated_at"])
        if not claimed:
            raise EvolveError(f"batch {batch['id']} was claimed by another process just now (two `batch run` or "
                              "`batch resume` at once?); see `evolve batch status`")

    def _jobs(self, wanted: Callable[[dict[str, Any]], bool]) -> list[RunJob]:
        return [RunJob(row["id"], self.store.url, gpus=1 if row["kind"] == "kernel" else 0)
                for row in self.store.list_runs(batch_id=self.batch_id) if wanted(row)]

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        """First Ctrl-C (or SIGTERM): stop cleanly; the second: abandon what the runs have in flight."""
        self._interrupts += 1
        if self._interrupts > 1:
            raise KeyboardInterrupt

    def _on_outcome(self, outcome: JobOutcome) -> None:
        """A lost run is marked so and sent again; a failed one keeps why (a job may fail before its run starts)."""
        if outcome.status in ("lost", "failed"):
            self.store.set_run_status(outcome.run_id, outcome.status, outcome.reason)
        if outcome.status == "lost":
            self.lost.add(outcome.run_id)

    def _should_stop(self) -> bool:
        """Polled by the executor: notices Ctrl-C at once, checks budgets and redraws the display every TICK_S."""
        if self._interrupts and self.stop_reason is None:
            self._stop("interrupted")
        now = time.monotonic()
        if now >= self._next_tick:
            self._next_tick = now + TICK_S
            summary = summarize_batch(self.store, find_batch(self.store, self.batch_id))
            if self.stop_reason is None and (reason := self._over_budget(summary)):
                self._stop(reason)
                summary = summarize_batch(self.store, find_batch(self.store, self.batch_id))
            self.on_tick(summary)
        return self.stop_reason is not None

    def _over_budget(self, summary: BatchSummary) -> str | None:
        budget, usage = self.settings.budget, summary.usage
        if budget.max_tokens is not None and usage.tokens >= budget.max_tokens:
            return f"token budget ({usage.tokens:,} of {budget.max_tokens:,} tokens)"
        if budget.max_cost_usd is not None and usage.cost_usd >= budget.max_cost_usd:
            return f"cost budget (${usage.cost_usd:.4f} of ${budget.max_cost_usd:g})"
        if budget.max_wall_s is not None and self.elapsed_s >= budget.max_wall_s:
            return f"wall time ({budget.max_wall_s:g} s)"
        return None

    def _stop(self, reason: str) -> None:
        self.stop_reason = reason
        self.store.set_batch_status(self.batch_id, "stopping", reason)

    def _conclude(self) -> None:
        """The batch's final status: stopped (with why), finished, or failed when no run could finish."""
        runs = self.store.list_runs(batch_id=self.batch_id)
        unfinished = [r for r in runs if r["status"] != "finished"]
        if self.stop_reason is not None:
            status, reason = "stopped", self.stop_reason
        elif not unfinished:
            status, reason = "finished", None
        else:
            counts: dict[str, int] = {}
            for r in unfinished:
                counts[r["status"]] = counts.get(r["status"], 0) + 1
            failed = [r for r in unfinished if r["status"] == "failed"]
            status = "failed" if len(failed) == len(runs) else "stopped"
            reason = (f"{len(unfinished)} of {len(runs)} runs did not finish ("
                      + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + ")"
                      + (f"; first failure: {failed[0]['stop_reason']}" if failed else ""))
        self.store.set_batch_status(self.batch_id, status, reason)
        settings = find_batch(self.store, self.batch_id)["settings"] or {}
        self.store.update_batch_settings(self.batch_id, {**settings, "driver": None})


def refuse_if_batch_drives(storage: str, run_ref: str) -> None:
    """`evolve resume RUN` of a run that its batch is driving right now would put two controllers on one run:
    refuse it, naming the batch (resuming the batch is the way once it has stopped)."""
    store = Store(storage)
    try:
        row = store.get_run(run_ref)
        batch = store.get_batch(row["batch_id"]) if row is not None and row["batch_id"] else None
    finally:
        store.close()
    if batch is not None and batch["status"] in ("running", "stopping") and not driver_gone(batch):
        raise EvolveError(f"run {row['id']} belongs to batch {batch['id']}, which is running: stop it (Ctrl-C "
                          f"there) and `evolve batch resume {batch['id'][:8]}`, or wait for it")


def driver_gone(batch: dict[str, Any]) -> bool:
    """Whether a batch stored as running has lost its driver: none recorded, or one on this machine that ended
    (killed, or the machine restarted). A driver on another machine is not judged from here."""
    if batch["status"] not in ("running", "stopping"):
        return False
    driver = (batch["settings"] or {}).get("driver")
    return not driver or (driver.get("host") == socket.gethostname() and not _alive(driver))


def _alive(driver: dict[str, Any]) -> bool:
    """Whether the recorded driver process still runs (same host, same pid, same start time: not a reused pid)."""
    if driver.get("host") != socket.gethostname():
        return False
    try:
        return abs(psutil.Process(int(driver["pid"])).create_time() - float(driver["started"])) < 1e-3
    except (psutil.Error, KeyError, TypeError, ValueError):
        return False
