"""The local executor: each job in a worker process of its own on this machine, at most N at a time.

Workers share nothing but the store. Each is started in a session of its own, so a Ctrl-C at the terminal
reaches only the batch, which asks runs to stop through the store (see evolve/batch/job.py); a second Ctrl-C
makes the executor send every worker SIGTERM, which a run already stopping takes as "abandon what is in flight"
(each stored child is atomic, so nothing is half-written). A worker that ends without reporting an outcome (killed,
out of memory, crashed) is reported `lost`, with the end of its log.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from evolve.batch.job import JobOutcome, RunJob

POLL_S = 0.2
_LOG_TAIL = 600


@dataclass
class _Worker:
    job: RunJob
    process: subprocess.Popen[bytes]
    outcome_file: Path
    log_file: Path

    def outcome(self) -> JobOutcome:
        try:
            data = json.loads(self.outcome_file.read_text(encoding="utf-8"))
            return JobOutcome(data["run_id"], data["status"], data.get("reason"))
        except (OSError, ValueError, KeyError):
            code = self.process.returncode
            how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
            tail = self.log_file.read_text(encoding="utf-8", errors="replace")[-_LOG_TAIL:].strip()
            return JobOutcome(self.job.run_id, "lost", f"worker process ended by {how}" +
                              (f"; its last output: {tail}" if tail else ""))


class LocalExecutor:
    """Runs jobs as worker processes (`python -m evolve.batch.worker`) on this machine."""

    name = "local"

    def __init__(self, max_concurrent: int) -> None:
        self.max_concurrent = max(1, max_concurrent)
        self.workers: dict[str, _Worker] = {}  # run id -> its live worker (tests find the processes here)

    def run(self, jobs: Sequence[RunJob], on_outcome: Callable[[JobOutcome], None],
            should_stop: Callable[[], bool]) -> None:
        queue = deque(jobs)
        with tempfile.TemporaryDirectory(prefix="evolve-batch-") as tmp:
            try:
                while queue or self.workers:
                    stopping = should_stop()
                    while queue and not stopping and len(self.workers) < self.max_concurrent:
                        self._start(queue.popleft(), Path(tmp))
                    if stopping:
                        queue.clear()
                    self._reap(on_outcome)
                    time.sleep(POLL_S)
            except KeyboardInterrupt:  # the second Ctrl-C: in-flight work is abandoned
                for worker in self.workers.values():
                    worker.process.send_signal(signal.SIGTERM)
                while self.workers:
                    self._reap(on_outcome)
                    time.sleep(POLL_S)

    def _start(self, job: RunJob, tmp: Path) -> None:
        outcome_file, log_file = tmp / f"{job.run_id}.json", tmp / f"{job.run_id}.log"
        outcome_file.unlink(missing_ok=True)
        with open(log_file, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "evolve.batch.worker", job.run_id, job.storage, str(outcome_file),
                 str(os.getpid())],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.workers[job.run_id] = _Worker(job, process, outcome_file, log_file)

    def _reap(self, on_outcome: Callable[[JobOutcome], None]) -> None:
        for run_id, worker in list(self.workers.items()):
            if worker.process.poll() is not None:
                del self.workers[run_id]
                on_outcome(worker.outcome())
