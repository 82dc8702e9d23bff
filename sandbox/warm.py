"""The ``warm`` backend: the ``process`` backend's isolation without an interpreter start per run.

A zygote (``sandbox/zygote.py``) is started once per view of the filesystem (readonly and hidden paths) inside
the same namespaces a cold run gets, with numpy and the standard library already imported. Each run is one
message to it: the zygote forks a job that gets its own mount, PID, IPC, network and UTS namespaces, private
/tmp and /dev/shm, its own uid slot, rlimits, no_new_privs and the syscall filter, then runs argv in the warm
interpreter. So a run costs one fork instead of an exec and imports, and nothing a job does survives it or
reaches the next job: each is a fresh fork of a zygote that never runs candidate code.

Needs root (the zygote must be able to give each job its own uid); elsewhere ``auto`` stays on ``process``.
The job sees a copy of the work folder (copied into the zygote's jobs folder, then into the job's own tmpfs;
what it writes there is not copied back, which no caller needs).
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from . import cgroups, identity, mounts, probe, rlimits, syscall_filter
from .api import Limits, Outcome, resolve_paths
from .capture import BoundedSink, pump
from .env import minimal_env
from .process import UNSAFE, Isolation, _Chain
from .runner import DRAIN_GRACE_S, Exit, Sinks, execute

ZYGOTE = Path(__file__).resolve().with_name("zygote.py")
# what the zygote imports of Evolve (its jobs run the evaluators' harness and channel): these two folders, not
# the folder holding them, which in a checkout is the whole repository with its tests and history
OWN_CODE = (ZYGOTE.parent, ZYGOTE.parent.with_name("evaluators"))
# address_space=False: the zygote keeps the engine's address space limit (none, normally), so that a job that
# caps only data memory (CUDA, see Limits) is not held to the zygote's cap, which it could not raise. Every
# syscall group open: the zygote mounts each job's view, and each job installs its own filter on top (filters
# stack, the strictest wins), so a task's opt-in holds on this backend too.
_ZYGOTE_LIMITS = Limits(wall_s=7 * 86400, cpu_s=365 * 86400, memory_mb=1 << 20, address_space=False,
                        max_processes=1 << 16, file_size_mb=1 << 20, open_files=4096,
                        allowed_syscalls=frozenset(syscall_filter.GROUPS))
_MAX_ZYGOTES = 8
_REPORT_GRACE_S = 10.0  # beyond the job's wall limit, how long to wait for the zygote's report
_REPORT_CAP = 1 << 16  # bytes; a report is a few dozen
_ROOT_NAMESPACES = Isolation(namespaces=True, user_namespace=False, drop_uid=True)


class _ZygoteGone(OSError):
    """The zygote's socket is broken (it died): the run is retried on a fresh zygote."""


class WarmUnavailable(RuntimeError):
    """This machine cannot run the warm path (it needs root for per-job uids)."""


class _Zygote:
    """One running zygote and the folder its jobs' work folders are copied into."""

    def __init__(self, readonly: list[Path], hidden: list[Path], isolation: Isolation) -> None:
        # a job's fresh /tmp and /dev/shm would hide what the zygote's view exposes under them (the caller's
        # read-only paths, this code, the interpreter: a venv in /tmp): the job binds those again
        exposed = [*readonly, *OWN_CODE, *mounts.python_paths()]
        self.rebind = [str(p) for p in mounts.outermost(exposed) if mounts.inside(p, mounts.SCRATCH)]
        self.jobs_root = Path(tempfile.mkdtemp(prefix="evolve-warm-"))
        self.jobs_root.chmod(0o711)
        self._engine_end, zygote_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._send_lock = threading.Lock()
        chain = _Chain(isolation, self.jobs_root, exposed, None, _ZYGOTE_LIMITS,
                       hide_untraversable=True, hidden=hidden, copy_workdir=False)
        argv = [sys.executable, "-I", str(ZYGOTE), str(zygote_end.fileno())]

        plan = _ClosingAfterStart(chain, zygote_end)

        def run() -> None:
            try:
                execute(argv, self.jobs_root, _ZYGOTE_LIMITS, None, plan, (zygote_end.fileno(),))
            finally:
                chain.close()

        self._thread = threading.Thread(target=run, name="evolve-zygote", daemon=True)
        self._thread.start()
        self._zygote_end = zygote_end

    def alive(self) -> bool:
        return self._thread.is_alive()

    def submit(self, job: dict, fds: list[int]) -> None:
        with self._send_lock:
            try:
                socket.send_fds(self._engine_end, [json.dumps(job).encode()], fds)
            except OSError as exc:
                raise _ZygoteGone(str(exc)) from exc

    def job_dir(self) -> Path:
        return Path(tempfile.mkdtemp(prefix="job-", dir=self.jobs_root))

    def close(self) -> None:
        self._engine_end.close()
        self._zygote_end.close()
        shutil.rmtree(self.jobs_root, ignore_errors=True)


class _ClosingAfterStart:
    """The zygote's ChildPlan, plus: once the zygote runs, the engine drops its copy of the zygote's socket end,
    so a zygote that dies shows up as a broken socket rather than a job that never reports."""

    def __init__(self, plan: _Chain, zygote_end: socket.socket) -> None:
        self._plan, self._zygote_end = plan, zygote_end

    def started(self, popen) -> None:  # noqa: ANN001 - subprocess.Popen[bytes]
        self._plan.started(popen)
        self._zygote_end.close()

    def __getattr__(self, name: str):  # preexec, kill, exit, close: the chain's own
        return getattr(self._plan, name)


class WarmSandbox:
    name = "warm"
    relays_fds = False

    def __init__(self, *, isolated: bool = True) -> None:
        """`isolated=False` is the unsafe backend's engine (sandbox/unsafe.py): the same zygote and jobs with no
        namespaces, no uid change and no copy of the work folder, for any user."""
        self.isolated = isolated
        self._lock = threading.Lock()
        self._zygotes: dict[tuple[tuple[Path, ...], tuple[Path, ...]], _Zygote] = {}
        self._observed: dict[str, object] | None = None
        atexit.register(self.close)  # each zygote's jobs folder would otherwise stay in /tmp
        if not isolated:
            return
        if os.geteuid() != 0:
            raise WarmUnavailable("the warm sandbox needs root (a uid per job); use the process backend")
        from .registry import get_sandbox

        mode = get_sandbox("process").isolation()  # type: ignore[attr-defined]
        if mode != _ROOT_NAMESPACES:
            raise WarmUnavailable(f"the warm sandbox needs namespaces and a uid drop; this machine allows "
                                  f"only: {mode.label}")

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
        workdir, readonly, hidden = resolve_paths(workdir, readonly_paths, hidden_paths)
        job = {"argv": argv, "workdir": str(workdir), "preload": [os.path.abspath(p) for p in preload]}
        zygote = self._zygote(readonly, hidden)
        try:
            return self._run_on(zygote, job, limits, env, pass_fds)
        except _ZygoteGone:  # it died (e.g. killed from outside): once more on a new one
            return self._run_on(self._zygote(readonly, hidden, dead=zygote), job, limits, env, pass_fds)

    def _run_on(self, zygote: _Zygote, job: dict, limits: Limits, env: Mapping[str, str] | None,
                pass_fds: Sequence[int]) -> Outcome:
        if not self.isolated:  # in the caller's folder, as the engine's user
            with cgroups.job(limits) as cgroup:
                outcome = self._run(zygote, {**job, "isolate": False, "jobdir": job["workdir"], "uid": None},
                                    limits, env, pass_fds, cgroup)
                return outcome if cgroup is None else cgroups.account(outcome, cgroup.usage())
        with identity.uid_slot() as uid, cgroups.job(limits) as cgroup:
            folder = zygote.job_dir()
            try:
                shutil.copytree(job["workdir"], folder, dirs_exist_ok=True, symlinks=True)
                identity.prepare_workdir(folder, uid)
                outcome = self._run(zygote, {**job, "jobdir": str(folder), "uid": uid}, limits, env, pass_fds,
                                    cgroup)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            return outcome if cgroup is None else cgroups.account(outcome, cgroup.usage())

    def _run(self, zygote: _Zygote, job: dict, limits: Limits, env: Mapping[str, str] | None,
             pass_fds: Sequence[int], cgroup: cgroups.JobCgroup | None) -> Outcome:
        result_target = max([2, *pass_fds]) + 1
        pipes = [os.pipe() for _ in range(4)]  # stdout, stderr, result, report
        (out_r, out_w), (err_r, err_w), (res_r, res_w), (rep_r, rep_w) = pipes
        cgroup_fds = cgroup.procs_fds if cgroup is not None else []
        alarm = [cgroup.alarm_fd] if cgroup is not None and cgroup.alarm_fd is not None else []
        job = {
            **job, "rlimits": rlimits.table(limits, pids_cgroup=cgroup is not None), "wall_s": limits.wall_s, "tmp_mb": limits.memory_mb,
            "env": minimal_env(Path(job["workdir"]), result_target, env),
            "targets": [result_target, *pass_fds],
            "rebind": zygote.rebind,
            "cgroup_fds": len(cgroup_fds), "alarm": bool(alarm), "syscalls": sorted(limits.allowed_syscalls),
        }
        start = time.monotonic()
        try:
            zygote.submit(job, [out_w, err_w, res_w, rep_w, *cgroup_fds, *alarm, *pass_fds])
        except OSError:
            for fd in (out_r, out_w, err_r, err_w, res_r, res_w, rep_r, rep_w):
                os.close(fd)
            raise
        for fd in (out_w, err_w, res_w, rep_w):
            os.close(fd)
        sinks, report = Sinks(limits), BoundedSink(_REPORT_CAP, 0)
        feeds = {out_r: sinks.stdout.feed, err_r: sinks.stderr.feed, res_r: sinks.result.feed, rep_r: report.feed}
        left = pump(feeds, start + limits.wall_s + _REPORT_GRACE_S, until_closed=[rep_r])
        wall_s = time.monotonic() - start
        if left:  # pipes not at EOF yet: the last output, or the report of a job that overran
            left = pump({fd: feeds[fd] for fd in left}, time.monotonic() + DRAIN_GRACE_S)
        for fd in left:
            os.close(fd)
        parsed = _parse_report(report.head(), timed_out=rep_r in left)
        if "error" in parsed:
            raise RuntimeError(parsed["error"])
        returncode = os.waitstatus_to_exitcode(int(parsed["status"]))
        exit_ = Exit(returncode, float(parsed["cpu_s"]), float(parsed["maxrss_kb"]) / 1024)
        return sinks.outcome(exit_, bool(parsed["timed_out"]), wall_s, limits)

    def _zygote(self, readonly: list[Path], hidden: list[Path], dead: _Zygote | None = None) -> _Zygote:
        key = (tuple(sorted(readonly)), tuple(sorted(hidden)))
        with self._lock:
            zygote = self._zygotes.pop(key, None)  # re-inserted last: the dict is kept in LRU order
            if zygote is None or zygote is dead or not zygote.alive():
                if zygote is not None:
                    zygote.close()
                zygote = _Zygote(readonly, hidden, _ROOT_NAMESPACES if self.isolated else UNSAFE)
            self._zygotes[key] = zygote
            while len(self._zygotes) > _MAX_ZYGOTES:  # a run needs two (candidate and evaluator views)
                self._zygotes.pop(next(iter(self._zygotes))).close()
            return zygote

    def describe(self) -> dict[str, object]:
        with self._lock:
            observed = self._observed
        if observed is None:
            observed = probe.observe(self.run)
            with self._lock:
                self._observed = observed
        return {
            "backend": self.name,
            "unsafe": False,
            "mode": "namespaces + uid drop, forked from a warm zygote",
            "uid_per_run": True,
            **observed,
            "env_scrubbed": True,
            "kill_tree": "pid namespace per job",
            "job_limits": cgroups.describe(),
        }

    def close(self) -> None:
        """Stop the zygotes (they exit when their socket closes) and remove their folders."""
        with self._lock:
            for zygote in self._zygotes.values():
                zygote.close()
            self._zygotes.clear()


def _parse_report(raw: bytes, timed_out: bool) -> dict:
    """The zygote's JSON report on a job, or an error saying why there is none."""
    if timed_out:
        return {"error": "the warm sandbox's zygote did not report on a job (it may have died)"}
    try:
        report = json.loads(raw or b'{"error": "the warm sandbox job ended without a report"}')
    except ValueError:
        return {"error": f"the warm sandbox's zygote sent an unreadable report: {raw[:200]!r}"}
    return report if isinstance(report, dict) else {"error": "the warm sandbox's zygote sent a bad report"}
