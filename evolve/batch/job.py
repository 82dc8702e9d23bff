"""One run as a unit of work that any executor can place: the contract between a batch and its executors.

A batch creates every run in the store (status `pending`, with its full settings) before it dispatches any, so
a job carries only the run's id and the store's URL, and executing it always means *resuming* that run. A worker
that dies mid-run therefore leaves the run exactly as the store has it, and executing the same job again, on this
machine or another, continues it without redoing or double-counting a stored child.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from evolve.controller import Controller
    from evolve.store import Store


@dataclass(frozen=True)
class RunJob:
    """A stored run to drive to its end, and what it needs from the machine that runs it."""

    run_id: str
    storage: str  # the store's URL: every worker must reach the same store
    cpus: float = 1.0
    gpus: int = 0  # 1 for kernel tasks, so two kernel runs never time on one GPU


@dataclass(frozen=True)
class JobOutcome:
    """How a job ended, as the executor saw it; the store holds the run's own status."""

    run_id: str
    status: str  # the run's status after the job: finished | stopped | failed | lost (the worker died)
    reason: str | None = None


class Executor(Protocol):
    """Places jobs somewhere (this machine, a cluster) and reports each one's outcome as it ends."""

    name: str

    def run(self, jobs: Sequence[RunJob], on_outcome: Callable[[JobOutcome], None],
            should_stop: Callable[[], bool]) -> None:
        """Run every job, calling `on_outcome` once per job as it ends; start no new job once `should_stop()`.

        Call `should_stop` often (a few times a second) while jobs run: the batch notices Ctrl-C and checks its
        budgets there. Running jobs need no signal from the executor to stop: they poll their batch's status."""
        ...


#: How often a running job asks the store whether its batch wants it to stop (budget reached, Ctrl-C).
STOP_POLL_S = 1.0


def execute_job(job: RunJob) -> JobOutcome:
    """Drive the stored run `job.run_id` until one of its stop conditions holds; runs on the executing worker.

    A run of a batch also stops, cleanly, when its batch asks (status `stopping`: a batch budget was reached or
    the batch was interrupted): the job polls the store for that, so every executor gets it without a channel
    of its own. Nothing is printed: progress is in the store, where `evolve batch status` and the dashboard read
    it."""
    from evolve.controller import SeedError
    from evolve.errors import EvolveError
    from evolve.runner import resume_run

    try:
        prepared = resume_run(job.run_id, job.storage, {})
    except EvolveError as exc:
        return JobOutcome(job.run_id, "failed", exc.message)
    try:
        row = prepared.store.get_run(job.run_id)
        reason = asyncio.run(_drive(prepared.controller, prepared.store, row["batch_id"] if row else None))
        row = prepared.store.get_run(job.run_id)
        return JobOutcome(job.run_id, row["status"] if row else "failed", reason)
    except SeedError as exc:
        prepared.store.set_run_status(job.run_id, "failed", str(exc))
        return JobOutcome(job.run_id, "failed", str(exc))
    finally:
        prepared.store.close()


async def _drive(controller: Controller, store: Store, batch_id: str | None) -> str:
    watcher = asyncio.create_task(_watch_batch(controller, store, batch_id)) if batch_id else None
    try:
        return await controller.run()
    finally:
        if watcher is not None:
            watcher.cancel()


async def _watch_batch(controller: Controller, store: Store, batch_id: str) -> None:
    while True:
        await asyncio.sleep(STOP_POLL_S)
        reason = await asyncio.to_thread(store.batch_stop_request, batch_id)
        if reason is not None:
            controller.request_stop(f"batch stopped: {reason}")
            return
