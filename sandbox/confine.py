"""The last steps before a candidate's code runs, in the forked child, the same on the process and warm backends:
its job's cgroup, caps on the run's own IPC namespace, rlimits and OOM score, the uid drop, no_new_privs and the
syscall filter. In this order: the cgroup and the IPC caps need the privilege the uid drop gives up, and the
filter needs no_new_privs."""

from __future__ import annotations

import os

from . import cgroups, rlimits, syscall_filter
from . import linux as L


def enter(limits: list[rlimits.RLimit], uid: int | None, ipc_memory_mb: int | None, cgroup_fds: list[int],
          syscalls: syscall_filter.Filter) -> None:
    """Confine this process: `limits` from `rlimits.table`, `uid` to drop to (None: keep the current one),
    `ipc_memory_mb` to cap System V shared memory at (None when the run has no IPC namespace of its own),
    `cgroup_fds` the job's cgroup.procs files to join (``cgroups.JobCgroup.procs_fds``; empty: none here),
    `syscalls` the filter to install."""
    cgroups.join(cgroup_fds)
    if ipc_memory_mb is not None:
        rlimits.limit_ipc(ipc_memory_mb)
    rlimits.apply(limits)
    if uid is not None:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    L.prctl(L.PR_SET_NO_NEW_PRIVS, 1)
    syscalls.install()
