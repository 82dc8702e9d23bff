"""The process the local executor starts for one run: `python -m evolve.batch.worker RUN STORAGE OUTCOME PID`.

A process per run, not a task in the batch's process, so that runs do not share one event loop and one GIL:
each run is its own asyncio controller with its own sandbox zygotes. The worker
- stops cleanly (as `evolve run` on Ctrl-C) if the batch process dies, through the kernel's parent-death signal,
  so a killed batch leaves no run driven by an orphan;
- holds a lock on its run for as long as it drives it, so a re-dispatched run waits for a previous worker still
  storing what it had in flight instead of writing beside it;
- writes its JobOutcome as JSON to OUTCOME_FILE; a worker that ends without one was lost.
"""

from __future__ import annotations

import ctypes
import fcntl
import hashlib
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

from evolve.batch.job import JobOutcome, RunJob, execute_job

_PR_SET_PDEATHSIG = 1
LOCK_WAIT_S = 120.0


def main(argv: list[str]) -> int:
    run_id, storage, outcome_file, batch_pid = argv
    _stop_with_parent()
    if os.getppid() != int(batch_pid):  # the batch died before the signal was armed
        return 1
    with _run_lock(storage, run_id) as held:
        outcome = execute_job(RunJob(run_id, storage)) if held else JobOutcome(
            run_id, "lost", f"another worker on this machine kept run {run_id} for {LOCK_WAIT_S:.0f} s")
    Path(outcome_file).write_text(json.dumps(asdict(outcome)), encoding="utf-8")
    return 0


def _stop_with_parent() -> None:
    """Ask the kernel for SIGTERM when the batch process ends: the controller takes it as a clean stop."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: an orphan worker finishes its run instead
        pass


@contextmanager
def _run_lock(storage: str, run_id: str) -> Iterator[bool]:
    """An exclusive lock per (store, run) on this machine, waited for up to LOCK_WAIT_S; yields whether it is held."""
    key = hashlib.sha256(f"{storage}\0{run_id}".encode()).hexdigest()[:24]
    folder = Path(tempfile.gettempdir()) / f"evolve-run-locks-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    with open(folder / f"{key}.lock", "w") as handle:
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.1)
        yield True  # the lock goes with the file handle, when the process ends at the latest


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
