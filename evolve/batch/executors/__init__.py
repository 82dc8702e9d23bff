"""Executors place a batch's run jobs: `local` (worker processes on this machine) or `ray` (a Ray cluster); each
implements evolve.batch.job.Executor. A SLURM-style scheduler would be one more executor over the same RunJob."""

from __future__ import annotations

from typing import TYPE_CHECKING

from evolve.errors import EvolveError

if TYPE_CHECKING:  # EXECUTORS names the choices in `evolve batch --help`, which must not load asyncio
    from evolve.batch.job import Executor

EXECUTORS = ("local", "ray")


def check_executor(name: str) -> None:
    """Refuse an unknown executor name; `batch run` asks before it stores anything."""
    if name not in EXECUTORS:
        raise EvolveError(f"--executor: unknown executor {name!r}; known: {', '.join(EXECUTORS)}")


def make_executor(name: str, max_concurrent: int, *, address: str | None = None) -> Executor:
    """The executor called `name`: `local` runs at most `max_concurrent` jobs at once; `ray` connects to the
    cluster at `address` (default `auto`) and runs as many as its CPUs hold. Both report a job whose worker died
    as `lost`, once: the batch driver alone decides whether to send it again (its `retries`)."""
    check_executor(name)
    if name == "ray":
        from evolve.batch.executors.ray import RayExecutor

        return RayExecutor(address=address or "auto", attempts=1)
    from evolve.batch.executors.local import LocalExecutor

    return LocalExecutor(max_concurrent)
