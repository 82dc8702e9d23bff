"""The types that cross the sandbox boundary: what a run may use, what it did, and what a backend offers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Limits:
    """Resource limits for one run; each maps to one kernel mechanism (see ``sandbox.rlimits``)."""

    wall_s: float = 60.0  # wall clock; the whole process tree is killed after it
    cpu_s: float = 60.0  # RLIMIT_CPU
    # the whole job's memory (cgroup: every process and its tmpfs pages), RLIMIT_AS (address space per process)
    # and the size of the private /tmp
    memory_mb: int = 2048
    # False: memory_mb caps RLIMIT_DATA (heap and other private writable memory) instead of the address space.
    # For CUDA: its driver reserves far more address space than any limit a job would get, and uses little of it.
    # Shared mappings escape RLIMIT_DATA; the job's cgroup (``sandbox.cgroups``) bounds them where there is one.
    address_space: bool = True
    # processes and threads: the job's pids cgroup where there is one, and RLIMIT_NPROC (for a non-root uid)
    max_processes: int = 64
    file_size_mb: int = 64  # RLIMIT_FSIZE
    open_files: int = 256  # RLIMIT_NOFILE
    output_bytes: int = 1 << 20  # stdout/stderr kept per stream (the rest is dropped, noted)
    # syscall groups the filter leaves open for this run (``sandbox.syscall_filter.GROUPS``); none by default
    allowed_syscalls: frozenset[str] = frozenset()

    def extended(self, extra_s: float) -> Limits:
        """These limits with `extra_s` more wall and CPU time (a party that must outlive another's deadline)."""
        return replace(self, wall_s=self.wall_s + extra_s, cpu_s=self.cpu_s + extra_s)


@dataclass
class Outcome:
    """What one run did; ``result`` holds what the child wrote to the fd named by ``EVOLVE_RESULT_FD``."""

    returncode: int | None  # None when killed for timeout; -N when killed by signal N
    stdout: str
    stderr: str
    wall_s: float
    cpu_s: float
    peak_mem_mb: float
    timed_out: bool
    violation: str | None  # e.g. "timeout", "memory limit (RLIMIT_AS)", "killed by signal SIGSYS"
    result: bytes | None


def resolve_paths(workdir: Path, readonly_paths: Sequence[Path], hidden_paths: Sequence[Path]
                  ) -> tuple[Path, list[Path], list[Path]]:
    """A run's folders as real absolute paths (mount targets must be), every backend alike; a missing one
    raises FileNotFoundError in the engine rather than failing inside the sandbox."""
    return (Path(workdir).resolve(strict=True), [Path(p).resolve(strict=True) for p in readonly_paths],
            [Path(p).resolve(strict=True) for p in hidden_paths])


@runtime_checkable
class Sandbox(Protocol):
    """An isolation backend. ``run`` must be safe to call from several threads at once."""

    name: str
    # True where the backend itself reads the pass_fds from the moment a run starts (docker relays them over
    # sockets): a caller must then not read those pipes itself while the run is going
    relays_fds: bool

    def run(
        self,
        argv: list[str],
        workdir: Path,
        limits: Limits,
        *,
        readonly_paths: Sequence[Path] = (),
        env: Mapping[str, str] | None = None,
        pass_fds: Sequence[int] = (),
        hidden_paths: Sequence[Path] = (),
        preload: Sequence[Path] = (),
    ) -> Outcome:
        """Run argv in workdir under limits. ``pass_fds`` stay open in the child under the same numbers (the
        evaluator/candidate channel); the caller keeps and closes its own copies. ``hidden_paths`` (folders)
        appear empty to the child although the rest of the host is readable (e.g. a task folder holding
        reference answers, which a candidate must not read). ``preload``: Python modules (files) that argv
        imports by name; a backend that keeps a warm interpreter imports them there once, ahead of the jobs
        (it honours only Evolve's own files: they run outside the job's confinement), the others ignore it."""
        ...

    def describe(self) -> dict[str, object]: ...
