"""The default backend: Linux namespaces, an unprivileged uid per run and rlimits, with no extra interpreter.

Process chain of one run (all forked from the engine; only the last execs):

    engine
    └─ S supervisor (the Popen child, a new session): unshare(net, mount, pid, ipc, uts[, user]), builds
       │  the filesystem view (``sandbox.mounts``), forks, tells the engine the init's pid, then only waits.
       └─ I init, pid 1 of the new PID namespace: mounts a fresh /proc, forks, reaps orphans, and sends
          │  the candidate's wait status and rusage to the engine over a control pipe. When I exits, the
          │  kernel kills whatever is left in the namespace: that is what ends setsid/double-fork survivors.
          └─ C candidate, pid 2: rlimits, drops to the slot uid (no groups, no_new_privs), execs argv.

On timeout the engine SIGKILLs I by pidfd and returns only after S has reaped it, i.e. once the namespace is
empty. The session's process group is SIGKILLed as a second line if that takes too long.

Which of these layers the machine allows is probed once (``sandbox.probe``): root gets everything; a non-root
engine uses a user namespace instead of a uid drop; without namespaces only rlimits, a process group and (as
root) the uid drop remain. ``describe()`` reports what the probe observed from inside.
"""

from __future__ import annotations

import contextlib
import functools
import os
import resource
import signal
import struct
import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import cgroups, confine, identity, mounts, probe, rlimits, syscall_filter
from . import linux as L
from .api import Limits, Outcome, resolve_paths
from .runner import Exit, execute, rusage_exit

_PID = struct.Struct("<i")
_STATUS = struct.Struct("<idd")  # candidate wait status, cpu seconds, ru_maxrss KiB
_MAX_FD = 0x7FFFFFFF


@dataclass(frozen=True)
class Isolation:
    """One isolation mode; ``modes()`` lists them strongest first."""

    namespaces: bool
    user_namespace: bool
    drop_uid: bool

    @property
    def label(self) -> str:
        parts = ["namespaces" if self.namespaces else "no namespaces"]
        parts += ["user namespace"] * self.user_namespace + ["uid drop"] * self.drop_uid
        return " + ".join(parts)


UNSAFE = Isolation(namespaces=False, user_namespace=False, drop_uid=False)


def modes() -> list[Isolation]:
    root = os.geteuid() == 0
    candidates = [
        Isolation(True, False, True) if root else None,
        Isolation(True, True, False),
        Isolation(False, False, True) if root else None,
        UNSAFE,
    ]
    return [m for m in candidates if m]


class _Chain:
    """The per-run plan (``runner.ChildPlan``) for one isolation mode."""

    def __init__(self, iso: Isolation, workdir: Path, readonly: list[Path], uid: int | None, limits: Limits,
                 hide_untraversable: bool | None = None, hidden: Sequence[Path] = (), copy_workdir: bool = True,
                 cgroup: cgroups.JobCgroup | None = None):
        """``hide_untraversable`` defaults to "a uid is dropped to"; the warm zygote stays root but plans the
        view its unprivileged children will need, and sees its work folder live (``copy_workdir=False``).
        ``cgroup``: the job's, which the candidate joins (None: no cgroup here, or the zygote, which is no job)."""
        self._iso, self._workdir, self._uid = iso, workdir, uid
        self._rlimits = rlimits.table(limits, pids_cgroup=cgroup is not None)
        self._cgroup_fds = cgroup.procs_fds if cgroup is not None else []
        self._syscalls = syscall_filter.build(limits.allowed_syscalls)
        self._memory_mb = limits.memory_mb
        hide = uid is not None if hide_untraversable is None else hide_untraversable
        self._mounts = (
            mounts.plan(workdir, [*readonly, *mounts.python_paths()], limits.memory_mb, hide_untraversable=hide,
                        hidden=hidden, copy_workdir=copy_workdir)
            if iso.namespaces
            else None
        )
        self._ctl_r, self._ctl_w = os.pipe() if iso.namespaces else (-1, -1)
        self._id_maps = (os.getuid(), os.getgid())
        self._pgid = 0
        self._init_fd: int | None = None

    # -- in the forked child ---------------------------------------------------------------------------------
    def preexec(self) -> None:
        if self._mounts is not None:
            flags = L.CLONE_NEWNS | L.CLONE_NEWNET | L.CLONE_NEWPID | L.CLONE_NEWIPC | L.CLONE_NEWUTS
            L.unshare(flags | (L.CLONE_NEWUSER if self._iso.user_namespace else 0))
            if self._iso.user_namespace:
                self._map_ids()
            mounts.apply(self._mounts)
            init = os.fork()
            if init:
                self._supervise(init)
            self._init()
        self._become_candidate()

    def _map_ids(self) -> None:
        """Map our uid/gid to themselves: the exec'd candidate keeps no capability in the namespace."""
        uid, gid = self._id_maps
        for name, text in (
            ("setgroups", "deny"),
            ("uid_map", f"{uid} {uid} 1"),
            ("gid_map", f"{gid} {gid} 1"),
        ):
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)

    def _supervise(self, init: int) -> None:
        try:
            os.write(self._ctl_w, b"P" + _PID.pack(init))
            os.closerange(0, _MAX_FD)
            os.waitpid(init, 0)
        finally:
            os._exit(0)

    def _init(self) -> None:
        """Become pid 1; returns only in the forked candidate."""
        try:
            L.prctl(L.PR_SET_PDEATHSIG, signal.SIGKILL)
            L.prctl(L.PR_SET_DUMPABLE, 0)  # the candidate may share our uid (user namespace mode): no ptrace
            mounts.mount_proc()
            candidate = os.fork()
        except BaseException:
            os.write(self._ctl_w, b"F")
            os._exit(1)
        if candidate == 0:
            return
        try:
            os.closerange(0, self._ctl_w)
            os.closerange(self._ctl_w + 1, _MAX_FD)
            while True:
                pid, status, usage = os.wait4(-1, 0)
                if pid == candidate:
                    cpu = usage.ru_utime + usage.ru_stime
                    os.write(self._ctl_w, b"S" + _STATUS.pack(status, cpu, usage.ru_maxrss))
                    break
        finally:
            os._exit(0)

    def _become_candidate(self) -> None:
        if self._mounts is not None:
            os.chdir(self._workdir)  # re-enter: the folder is now the run's own tmpfs copy
        confine.enter(self._rlimits, self._uid, self._memory_mb if self._mounts is not None else None,
                      self._cgroup_fds, self._syscalls)

    # -- in the engine ---------------------------------------------------------------------------------------
    def started(self, popen: subprocess.Popen[bytes]) -> None:
        self._pgid = popen.pid
        if self._mounts is None:
            return
        self._close_write_end()
        header = os.read(self._ctl_r, 1 + _PID.size)
        with contextlib.suppress(ProcessLookupError):  # already gone: the run is over
            self._init_fd = os.pidfd_open(_PID.unpack(header[1:])[0])

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            if self._init_fd is not None:
                signal.pidfd_send_signal(self._init_fd, signal.SIGKILL)
            else:
                os.killpg(self._pgid, signal.SIGKILL)

    def exit(self, wait_status: int, rusage: resource.struct_rusage) -> Exit:
        fallback = rusage_exit(wait_status, rusage)
        if self._mounts is None:
            return fallback
        record = b"".join(iter(functools.partial(os.read, self._ctl_r, 64), b""))
        if record[:1] == b"F":
            raise RuntimeError("sandbox init failed to set up the PID namespace")
        if record[:1] != b"S":  # init was killed (timeout or an outside SIGKILL)
            return Exit(-signal.SIGKILL, fallback.cpu_s, fallback.peak_mem_mb)
        status, cpu_s, maxrss_kb = _STATUS.unpack(record[1 : 1 + _STATUS.size])
        return Exit(os.waitstatus_to_exitcode(status), cpu_s, maxrss_kb / 1024)

    def close(self) -> None:
        self._close_write_end()
        for fd in (self._ctl_r, self._init_fd):
            if fd is not None and fd >= 0:
                os.close(fd)

    def _close_write_end(self) -> None:
        if self._ctl_w >= 0:
            os.close(self._ctl_w)
            self._ctl_w = -1


def run_in_mode(
    iso: Isolation,
    argv: list[str],
    workdir: Path,
    limits: Limits,
    readonly_paths: Sequence[Path] = (),
    env: Mapping[str, str] | None = None,
    pass_fds: Sequence[int] = (),
    hidden_paths: Sequence[Path] = (),
) -> Outcome:
    """One run under ``iso``: claim a uid slot if needed, hand the workdir to it, give it a cgroup where this
    machine allows, execute."""
    workdir, readonly, hidden = resolve_paths(workdir, readonly_paths, hidden_paths)
    slot = identity.uid_slot() if iso.drop_uid else contextlib.nullcontext(None)
    with slot as uid, cgroups.job(limits) as cgroup:
        identity.prepare_workdir(workdir, uid)
        chain = _Chain(iso, workdir, readonly, uid, limits, hidden=hidden, cgroup=cgroup)
        try:
            outcome = execute(argv, workdir, limits, env, chain, pass_fds,
                              alarm_fd=cgroup.alarm_fd if cgroup is not None else None)
        finally:
            chain.close()
        return outcome if cgroup is None else cgroups.account(outcome, cgroup.usage())


class ProcessSandbox:
    """The ``process`` backend: the strongest isolation mode this machine allows (probed once, then fixed)."""

    name = "process"
    relays_fds = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._selected: tuple[Isolation, dict[str, object]] | None = None

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
        iso, _ = self._select()
        return run_in_mode(iso, argv, workdir, limits, readonly_paths, env, pass_fds, hidden_paths)

    def isolation(self) -> Isolation:
        """The mode this machine allows (probed once)."""
        return self._select()[0]

    def describe(self) -> dict[str, object]:
        iso, seen = self._select()
        return {
            "backend": self.name,
            "unsafe": False,
            "mode": iso.label,
            "user_namespace": iso.user_namespace,
            "uid_drop": iso.drop_uid,
            "uid_per_run": iso.drop_uid,
            **seen,
            "env_scrubbed": True,
            "kill_tree": "pid namespace + process group" if seen["pid_namespace"] else "process group",
            "job_limits": cgroups.describe(),
        }

    def _select(self) -> tuple[Isolation, dict[str, object]]:
        with self._lock:
            if self._selected is None:
                failures = []
                for iso in modes():
                    try:
                        self._selected = iso, probe.observe(functools.partial(run_in_mode, iso))
                        break
                    except (OSError, subprocess.SubprocessError, probe.ProbeFailed) as exc:
                        failures.append(f"{iso.label}: {exc}")
                else:
                    raise RuntimeError("no sandbox isolation mode works here: " + "; ".join(failures))
            return self._selected
