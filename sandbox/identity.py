"""Who the candidate runs as: one dedicated unprivileged uid per concurrent run (a "slot").

A uid per slot makes RLIMIT_NPROC count each run's processes separately and keeps concurrent candidates from
reading each other's workdir. Slots are claimed with flock on lock files, so they are exclusive across threads
and across engine processes on the same machine.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

SLOT_BASE_UID = 1_900_000_000  # far above login, system, systemd-dynamic and usual subuid ranges
SLOTS = 256


def _lock_dir() -> Path:
    base = Path("/run") if os.access("/run", os.W_OK) else Path(tempfile.gettempdir())
    path = base / f"evolve-sandbox-{os.geteuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


@contextlib.contextmanager
def uid_slot() -> Iterator[int]:
    """Hold a free slot for the duration of a run and yield its uid (also used as the gid)."""
    lock_dir = _lock_dir()
    for slot in range(SLOTS):
        fd = os.open(lock_dir / f"slot-{slot}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            yield SLOT_BASE_UID + slot
        finally:
            os.close(fd)  # releases the lock
        return
    raise RuntimeError(f"all {SLOTS} sandbox uid slots are busy")


def prepare_workdir(workdir: Path, uid: int | None) -> None:
    """Make ``workdir`` private (0700) and, when dropping to ``uid``, owned by it: recursively, as files from
    an earlier run may belong to another slot. Hard-linked files are skipped: a host file is never chowned.
    """
    workdir.chmod(0o700)
    if uid is None:
        return
    os.chown(workdir, uid, uid)
    for root, dirs, files in os.walk(workdir):
        for name in dirs + files:
            path = os.path.join(root, name)
            st = os.lstat(path)
            if stat.S_ISDIR(st.st_mode) or st.st_nlink == 1:
                os.lchown(path, uid, uid)
