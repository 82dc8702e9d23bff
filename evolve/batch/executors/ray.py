"""`--executor ray`: each run job is a Ray task on a Ray cluster, placed by the resources it declares.

A job is a stored run's id and the store's URL (see evolve/batch/job.py), so the task ships nothing but those and
runs `execute_job` on whichever worker Ray picks: the run's sandboxes start on that worker, and its children go
straight to the shared store (which every node must reach: PostgreSQL, or SQLite on a shared file system only for
a single machine). Executing a job always resumes its run, so when a worker or its node dies mid-run the job is
simply submitted again: the new worker continues from the children the store holds, and a child that was not
committed when the worker died was never stored, so none is lost or counted twice. Ray's own task retries are off
(`max_retries=0`) so that these re-submissions are counted, logged and bounded here.

Every node needs Evolve installed (the same version as the driver) and the task folders at the same paths, as
for any Ray program; the driver only submits and waits.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from evolve.batch.job import JobOutcome, RunJob, execute_job
from evolve.errors import EvolveError

log = logging.getLogger("evolve.batch.ray")


class RayExecutor:
    """Places run jobs on a Ray cluster: `RayExecutor(address="auto")` (a local cluster started with `ray start`),
    `RayExecutor("ray://HOST:10001")` (Ray Client) or `RayExecutor("HOST:6379")` (the head's GCS address).

    `attempts` bounds how often one job is started when its worker keeps dying; `poll_s` is how often the
    driver looks at `should_stop` while jobs run."""

    name = "ray"

    def __init__(self, address: str = "auto", attempts: int = 3, poll_s: float = 1.0) -> None:
        if attempts < 1:
            raise EvolveError(f"--executor ray: attempts must be at least 1, got {attempts}")
        self.address, self.attempts, self.poll_s = address, attempts, poll_s

    def run(self, jobs: Sequence[RunJob], on_outcome: Callable[[JobOutcome], None],
            should_stop: Callable[[], bool]) -> None:
        ray = _import_ray()
        owns_connection = not ray.is_initialized()
        if owns_connection:
            _connect(ray, self.address)
        try:
            self._drive(ray, jobs, on_outcome, should_stop)
        finally:
            if owns_connection:
                ray.shutdown()

    def _drive(self, ray: Any, jobs: Sequence[RunJob], on_outcome: Callable[[JobOutcome], None],
               should_stop: Callable[[], bool]) -> None:
        """Keep at most as many jobs submitted as the cluster has CPUs, so that `should_stop` still holds back
        jobs that have not started; Ray queues those it cannot place yet by their declared resources."""
        remote = ray.remote(_execute_on_worker)
        resources = ray.cluster_resources()
        waiting: deque[tuple[RunJob, int]] = deque()
        for job in jobs:
            if job.gpus > resources.get("GPU", 0):  # Ray would queue it forever
                on_outcome(JobOutcome(job.run_id, "failed", f"the run needs {job.gpus} GPU(s); the Ray cluster at "
                                      f"'{self.address}' has {resources.get('GPU', 0):g}"))
            else:
                waiting.append((job, 1))
        running: dict[Any, tuple[RunJob, int]] = {}
        capacity = max(1, int(resources.get("CPU", 1)))
        while waiting or running:
            while waiting and len(running) < capacity and not should_stop():
                job, attempt = waiting.popleft()
                options = {"num_cpus": job.cpus, "num_gpus": job.gpus, "max_retries": 0,
                           "name": f"evolve-run-{job.run_id}"}
                running[remote.options(**options).remote(job)] = (job, attempt)
            if not running:
                break  # asked to stop: the jobs still waiting stay pending in the store, for `batch resume`
            done, _ = ray.wait(list(running), num_returns=1, timeout=self.poll_s)
            for ref in done:
                job, attempt = running.pop(ref)
                outcome = self._outcome(ray, ref, job, attempt)
                if outcome is None:
                    waiting.appendleft((job, attempt + 1))
                else:
                    on_outcome(outcome)

    def _outcome(self, ray: Any, ref: Any, job: RunJob, attempt: int) -> JobOutcome | None:
        """The job's outcome, or None when its worker died and it should be submitted again."""
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as exc:  # execute_job itself raised: a bug, not a lost worker
            return JobOutcome(job.run_id, "failed", f"the job raised on its worker: {_last_line(exc)}")
        except ray.exceptions.RayError as exc:  # the worker, its node or the task's result is gone
            if attempt < self.attempts:
                log.warning("run %s: its Ray worker was lost (%s); resuming it on another (attempt %d of %d)",
                            job.run_id, type(exc).__name__, attempt + 1, self.attempts)
                return None
            return JobOutcome(job.run_id, "lost", f"its Ray worker was lost {attempt} times; the run is resumable "
                              f"(evolve batch resume): {_last_line(exc)}")


def _execute_on_worker(job: RunJob) -> JobOutcome:
    """The Ray task: drive the run on this worker (its sandboxes start here)."""
    return execute_job(job)


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise EvolveError("--executor ray needs Ray: pip install 'evolve-lab[ray]'") from None
    return ray


def _connect(ray: Any, address: str) -> None:
    try:
        ray.init(address=address, log_to_driver=False, logging_level="WARNING", configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise EvolveError(f"cannot reach the Ray cluster at '{address}': {_last_line(exc)} (start one with "
                          "`ray start --head`, or give its address)") from None


def _last_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else type(exc).__name__
