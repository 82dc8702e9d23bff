"""Executors place a batch's run jobs: `local` (processes on this machine); see evolve/batch/job.py."""

from __future__ import annotations

from evolve.batch.job import Executor
from evolve.errors import EvolveError

EXECUTORS = ("local",)


def check_executor(name: str) -> None:
    """Refuse an unknown executor name; `batch run` asks before it stores anything."""
    if name not in EXECUTORS:
        raise EvolveError(f"--executor: unknown executor {name!r}; known: {', '.join(EXECUTORS)}")


def make_executor(name: str, max_concurrent: int) -> Executor:
    """The executor called `name`, running at most `max_concurrent` jobs at once."""
    check_executor(name)
    from evolve.batch.executors.local import LocalExecutor

    return LocalExecutor(max_concurrent)
