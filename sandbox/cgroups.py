"""Whole-job limits: a cgroup per job on the ``process`` and ``warm`` backends, so that memory_mb and
max_processes bound everything a candidate starts, not each process alone.

Rlimits are per process: a candidate that spreads its memory over a dozen forked children and over files in its
tmpfs folders stays under every one of them and can take gigabytes of the host. A job's cgroup counts all of it
(anonymous memory of every process, tmpfs pages they write, kernel memory) against one memory limit, and all its
processes and threads against one pids limit. The candidate process joins its cgroup in the forked child, before
its confinement and before any of its code runs (``confine.enter``); everything it starts inherits it.

Two kernel interfaces, the first that works here is used:
- cgroup v2, where the engine's cgroup can give its children the memory and pids controllers (the engine is in
  the root cgroup, or in a delegated one it can move itself down from into a leaf): memory.max, memory.swap.max,
  memory.oom.group (the kernel kills the whole job at the limit), pids.max; peak from memory.peak.
- cgroup v1 as root, memory and pids hierarchies: memory.limit_in_bytes (and memsw), pids.max; the limit's OOM
  kill is signalled on an eventfd (cgroup.event_control) that whoever watches the job polls to end all of it;
  peak from memory.max_usage_in_bytes.
Evolve's cgroups live under the engine's own (``evolve-<pid namespace>-<pid>``, a folder per job below), so
every limit the host puts on the engine still holds; a job's folder is removed when the job ends, Evolve's at
exit, and those of dead engines are swept at start. Where neither works (not root, no delegation), ``job``
gives None and the backends fall back to rlimits alone; ``describe`` (in each backend's describe(), hence
`evolve doctor` and the run's stored environment) states the gap.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from . import violation
from .api import Limits, Outcome

_MB = 1 << 20
_REMOVE_TIMEOUT_S = 5.0  # how long a job's processes may take to die before its folder is left behind


@dataclass(frozen=True)
class Usage:
    """What a job's cgroup saw: peak memory of the whole job, times reclaim could not keep it under its memory
    limit (each an OOM: the kernel's OOM killer ran, or on v1 the engine ended the job first), processes the
    OOM killer ended, forks its pids limit refused."""

    peak_mem_mb: float
    ooms: int
    oom_kills: int
    forks_refused: int


def _read(path: Path) -> str:
    return path.read_text()


def _write(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _keyed(path: Path, key: str) -> int:
    """The value of `key` in a flat-keyed cgroup file (memory.events, pids.events, memory.oom_control)."""
    with contextlib.suppress(OSError):
        for line in _read(path).splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    return 0


def _remove(folder: Path) -> None:
    """Kill what is left in `folder` (a job's cgroup) and remove it; a job whose processes do not die in time
    leaves its folder, to be swept later."""
    deadline = time.monotonic() + _REMOVE_TIMEOUT_S
    while True:
        with contextlib.suppress(OSError):
            for pid in _read(folder / "cgroup.procs").split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
        try:
            folder.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() > deadline:
                return
            time.sleep(0.01)


def _own_name() -> str:
    """`evolve-<pid namespace>-<pid>`: engines in other PID namespaces may share a hierarchy, and only this
    namespace's pids can be checked for being alive."""
    return f"evolve-{os.stat('/proc/self/ns/pid').st_ino}-{os.getpid()}"


def _sweep(parent: Path, own: str) -> None:
    """Remove the cgroups of engines of this PID namespace that died without cleaning up."""
    prefix = own.rpartition("-")[0] + "-"
    for stale in parent.glob(prefix + "*"):
        pid = stale.name.removeprefix(prefix)
        if stale.name == own or not pid.isdigit() or Path(f"/proc/{pid}").exists():
            continue
        for job in stale.glob("job-*"):
            _remove(job)
        with contextlib.suppress(OSError):
            stale.rmdir()


class JobCgroup:
    """One job's cgroup (one folder per hierarchy on v1). The engine creates it, the forked candidate joins it
    (`join`), the engine reads it when the job has ended (`usage`) and removes it (`close`)."""

    def __init__(self, version: int, folders: list[Path], memory: Path, pids: Path, alarm_fd: int | None) -> None:
        self.folders, self._version, self._memory, self._pids = folders, version, memory, pids
        # one fd per hierarchy, opened here: the forked child only writes to them (no path lookups after fork)
        self.procs_fds = [os.open(f / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC) for f in folders]
        self.alarm_fd = alarm_fd  # v1: readable once the memory limit OOM-killed a process; v2: None

    def usage(self) -> Usage:
        peak = self._memory / ("memory.peak" if self._version == 2 else "memory.max_usage_in_bytes")
        try:
            peak_mb = int(_read(peak)) / _MB
        except (OSError, ValueError):  # memory.peak is new in Linux 5.19: the rusage figure stays
            peak_mb = 0.0
        if self._version == 2:
            events = self._memory / "memory.events"
            ooms, kills = _keyed(events, "oom"), _keyed(events, "oom_kill")
        else:  # the alarm's count: nobody else reads it (the zygote's copy is only polled)
            ooms = _eventfd_count(self.alarm_fd) if self.alarm_fd is not None else 0
            kills = _keyed(self._memory / "memory.oom_control", "oom_kill")
        return Usage(peak_mb, ooms, kills, _keyed(self._pids / "pids.events", "max"))

    def close(self) -> None:
        for fd in [*self.procs_fds, *([self.alarm_fd] if self.alarm_fd is not None else [])]:
            os.close(fd)
        self.procs_fds, self.alarm_fd = [], None
        for folder in self.folders:
            _remove(folder)


def _eventfd_count(fd: int) -> int:
    try:
        return os.eventfd_read(fd)
    except BlockingIOError:  # never signalled
        return 0


def join(procs_fds: list[int]) -> None:
    """Move this process into its job's cgroup ("0" names the writer itself, in any PID namespace). Runs in the
    forked candidate before its confinement; raises OSError, so a job never runs outside its cgroup."""
    for fd in procs_fds:
        os.write(fd, b"0")


def account(outcome: Outcome, usage: Usage) -> Outcome:
    """The outcome with the job's own peak memory, and the cgroup's verdict where it saw the job hit a limit: an
    OOM at the job's memory limit is a memory violation even if the job's first process exited cleanly (its
    children paid), a refused fork that ended the job is a process-limit violation."""
    found = outcome.violation
    if usage.ooms or usage.oom_kills:
        found = violation.MEMORY_CGROUP
    elif usage.forks_refused and (outcome.returncode or found):
        found = violation.PROCESSES_CGROUP if found in (None, violation.PROCESSES) else found
    # the cgroup's peak, not the largest process's resident size (which also counts pages it shares with the
    # zygote or the engine, charged to them); the latter only where the kernel has no peak figure
    peak = usage.peak_mem_mb or outcome.peak_mem_mb
    return replace(outcome, peak_mem_mb=peak, violation=found)


class _Hierarchies:
    """Where this engine's own cgroup lives, per interface; creates and removes job cgroups."""

    def __init__(self, version: int, parents: dict[str, Path]) -> None:
        """`parents`: controller ("memory", "pids"; v2: one folder for both) -> the engine's own cgroup."""
        self.version = version
        self._own = _own_name()
        self._bases: dict[str, Path] = {}
        for controller, parent in parents.items():
            _sweep(parent, self._own)
            base = parent / self._own
            base.mkdir(exist_ok=True)
            if version == 2:
                _write(base / "cgroup.subtree_control", "+memory +pids")
            self._bases[controller] = base
        self._count = 0
        self._lock = threading.Lock()
        atexit.register(self.close)

    @property
    def label(self) -> str:
        return "cgroup v2 (memory, pids)" if self.version == 2 else "cgroup v1 (memory, pids)"

    def create(self, limits: Limits) -> JobCgroup:
        with self._lock:
            self._count += 1
            name = f"job-{self._count}"
        folders = []
        try:
            for base in dict.fromkeys(self._bases.values()):
                folder = base / name
                folder.mkdir()
                folders.append(folder)
            memory, pids = self._bases["memory"] / name, self._bases["pids"] / name
            limit = str(limits.memory_mb * _MB)
            _write(pids / "pids.max", str(limits.max_processes))
            if self.version == 2:
                _write(memory / "memory.max", limit)
                with contextlib.suppress(OSError):  # absent without swap accounting
                    _write(memory / "memory.swap.max", "0")
                _write(memory / "memory.oom.group", "1")
                return JobCgroup(2, folders, memory, pids, None)
            _write(memory / "memory.limit_in_bytes", limit)
            with contextlib.suppress(OSError):  # absent without swap accounting
                _write(memory / "memory.memsw.limit_in_bytes", limit)
            return JobCgroup(1, folders, memory, pids, _oom_eventfd(memory))
        except BaseException:
            for folder in folders:
                _remove(folder)
            raise

    def close(self) -> None:
        for base in self._bases.values():
            for job in base.glob("job-*"):
                _remove(job)
            with contextlib.suppress(OSError):
                base.rmdir()


def _oom_eventfd(memory: Path) -> int:
    """An eventfd the v1 memory controller signals when the job's limit makes it OOM-kill."""
    alarm = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
    control = os.open(memory / "memory.oom_control", os.O_RDONLY | os.O_CLOEXEC)
    try:
        _write(memory / "cgroup.event_control", f"{alarm} {control}")
    except BaseException:
        os.close(alarm)
        raise
    finally:
        os.close(control)
    return alarm


def _mounts() -> tuple[Path | None, dict[str, Path]]:
    """The cgroup2 mount point, and v1 mount points by controller, from /proc/self/mounts."""
    v2, v1 = None, {}
    with open("/proc/self/mounts") as f:
        for line in f:
            _, point, fstype, options, *_ = line.split()
            if fstype == "cgroup2" and v2 is None:
                v2 = Path(point)
            elif fstype == "cgroup":
                for option in options.split(","):
                    if option in ("memory", "pids"):
                        v1.setdefault(option, Path(point))
    return v2, v1


def _own_paths() -> dict[str, str]:
    """This process's cgroup path per v1 controller, and under "" its v2 path (/proc/self/cgroup)."""
    paths = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                paths[controller] = path
    return paths


def _v2(mount: Path, own: str) -> _Hierarchies:
    """The v2 interface, if the engine's cgroup can hand memory and pids to children. A cgroup with processes
    cannot (no internal processes), so an engine in a delegated non-root cgroup moves itself into a leaf first."""
    parent = mount / own.lstrip("/")
    if not {"memory", "pids"} <= set(_read(parent / "cgroup.controllers").split()):
        raise OSError(f"the memory and pids controllers are not available in {parent}")
    if parent != mount and "memory" not in _read(parent / "cgroup.subtree_control").split():
        leaf = parent / "evolve-engine"
        leaf.mkdir(exist_ok=True)
        _write(leaf / "cgroup.procs", "0")
        _write(parent / "cgroup.subtree_control", "+memory +pids")
    return _Hierarchies(2, {"memory": parent, "pids": parent})


def _v1(mounts: dict[str, Path], own: dict[str, str]) -> _Hierarchies:
    missing = {"memory", "pids"} - set(mounts)
    if missing:
        raise OSError(f"no cgroup v1 {' or '.join(sorted(missing))} hierarchy is mounted")
    return _Hierarchies(1, {c: mounts[c] / own.get(c, "/").lstrip("/") for c in ("memory", "pids")})


def _select() -> tuple[_Hierarchies | None, str]:
    """The first interface that works here, or None and why neither does."""
    reasons = []
    try:
        v2, v1 = _mounts()
        own = _own_paths()
    except OSError as exc:
        return None, f"cannot read this process's cgroups: {exc}"
    if v2 is not None and "" in own:
        try:
            return _v2(v2, own[""]), ""
        except OSError as exc:
            reasons.append(f"cgroup v2: {exc}")
    else:
        reasons.append("cgroup v2: not mounted")
    if os.geteuid() != 0:
        reasons.append("cgroup v1: needs root")
    else:
        try:
            return _v1(v1, own), ""
        except OSError as exc:
            reasons.append(f"cgroup v1: {exc}")
    return None, "; ".join(reasons)


_selected: tuple[_Hierarchies | None, str] | None = None
_select_lock = threading.Lock()


def hierarchies() -> _Hierarchies | None:
    """This engine's cgroups (set up on first use), or None where they cannot be used (`describe` says why)."""
    global _selected
    with _select_lock:
        if _selected is None:
            _selected = _select()
        return _selected[0]


def describe() -> str:
    """What bounds a whole job here, for describe() and the run's stored environment."""
    found = hierarchies()
    if found is not None:
        return f"{found.label}: memory_mb and max_processes bound the whole job"
    assert _selected is not None
    return (f"rlimits per process only ({_selected[1]}): memory spread over several processes or tmpfs files "
            f"is not bounded by memory_mb")


@contextlib.contextmanager
def job(limits: Limits) -> Iterator[JobCgroup | None]:
    """A cgroup for one job under `limits`, removed when the job ends; None where cgroups cannot be used here."""
    found = hierarchies()
    cgroup = None if found is None else found.create(limits)
    try:
        yield cgroup
    finally:
        if cgroup is not None:
            cgroup.close()
