"""Executors place a batch's run jobs: `local` (processes on this machine); see evolve/batch/job.py."""

from __future__ import annotations

from evolve.batch.job import Executor
from evolve.errors import EvolveError

EXECUTORS = ("local",)


def make_executor(name: str, max_concurrent: int) -> Executor:
    """The executor called `name`, running at most `max_concurrent` jobs at once."""
    if name == "local":
        from evolve.batch.executors.local import LocalExecutor

        return LocalExecutor(max_concurrent)
    raise EvolveError(f"--executor: unknown executor {name!r}; known: {', '.join(EXECUTORS)}")
