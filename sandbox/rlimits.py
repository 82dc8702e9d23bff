"""The rlimits a candidate runs under (and its OOM score), computed in the engine and applied in the child just
before exec."""

from __future__ import annotations

import math
import os
import resource

from .api import Limits

RLimit = tuple[int, int, int]  # (resource, soft, hard)
_MB = 1 << 20
NAMES = ("CPU", "AS", "NPROC", "FSIZE", "NOFILE", "CORE")  # what describe() reports as enforced


def table(limits: Limits, pids_cgroup: bool = False) -> list[RLimit]:
    """Soft and hard values per resource; CPU gets a 1 s gap so SIGXCPU arrives before the hard SIGKILL.
    `pids_cgroup`: the job's cgroup holds max_processes for the whole job, so RLIMIT_NPROC (per uid, checked
    first) stays only as a second line, at twice the limit.

    Hard values are clamped to the engine's own hard limits, which an unprivileged engine could not raise.
    """
    cpu = max(1, math.ceil(limits.cpu_s))
    nproc = limits.max_processes * (2 if pids_cgroup else 1)
    wanted = [
        (resource.RLIMIT_CPU, cpu, cpu + 1),
        (memory_rlimit(limits), limits.memory_mb * _MB, limits.memory_mb * _MB),
        (resource.RLIMIT_NPROC, nproc, nproc),
        (resource.RLIMIT_FSIZE, limits.file_size_mb * _MB, limits.file_size_mb * _MB),
        (resource.RLIMIT_NOFILE, limits.open_files, limits.open_files),
        (resource.RLIMIT_CORE, 0, 0),
    ]
    clamped = []
    for res, soft, hard in wanted:
        ceiling = resource.getrlimit(res)[1]
        if ceiling != resource.RLIM_INFINITY:
            hard = min(hard, ceiling)
        clamped.append((res, min(soft, hard), hard))
    return clamped


def memory_rlimit(limits: Limits) -> int:
    """The rlimit that carries ``limits.memory_mb``: the address space, or only data memory (see Limits)."""
    return resource.RLIMIT_AS if limits.address_space else resource.RLIMIT_DATA


OOM_SCORE_ADJ = 1000  # the most: killed before anything the host runs normally


def apply(rlimits: list[RLimit]) -> None:
    """Set every limit, and put the process first in line for the kernel's OOM killer: memory spread over many
    processes, each under its own cap, must cost the candidate, never the engine. Runs in the forked child."""
    for res, soft, hard in rlimits:
        resource.setrlimit(res, (soft, hard))
    _write_proc("self/oom_score_adj", OOM_SCORE_ADJ)  # raising one's own score needs no privilege


def limit_ipc(memory_mb: int) -> None:
    """In a run's own, fresh IPC namespace, whose defaults allow terabytes of System V shared memory that no
    rlimit counts: all its segments together may hold the run's memory limit, and a few small message queues.
    Runs in the forked child before the uid drop, never in the host's namespace. Best effort: a user namespace
    that maps no root may not write these (describe() reports `shared_memory_capped`)."""
    page = os.sysconf("SC_PAGE_SIZE")
    for name, value in (("kernel/shmmax", memory_mb * _MB), ("kernel/shmall", memory_mb * _MB // page),
                        ("kernel/shmmni", 64), ("kernel/msgmni", 16)):
        _write_proc(f"sys/{name}", value)


def _write_proc(name: str, value: int) -> None:
    """Write `value` to /proc/`name`, best effort (plain syscalls, as this runs in a fork): a host without that
    file, or a namespace that does not let us, keeps its own value, which describe() reports."""
    try:
        fd = os.open(f"/proc/{name}", os.O_WRONLY)
        try:
            os.write(fd, b"%d" % value)
        finally:
            os.close(fd)
    except OSError:
        pass
