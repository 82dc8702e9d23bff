"""The warm path's server: runs INSIDE a sandbox (namespaces, read-only root, no network) and forks a fresh,
fully confined child per job, so a job skips the interpreter start and the heavy imports.

Usage: python -I zygote.py CONTROL_FD

The zygote stays root inside its namespaces (it is our code, never a candidate's) so that each job can get
what a cold run gets: its own mount namespace (private /tmp and /dev/shm, a sized tmpfs copy of its work folder
at the path the caller gave), its own PID namespace (whatever it starts dies with it), its own IPC, network and
UTS namespaces, its own uid slot, rlimits, no_new_privs and the syscall filter. One fork per job:

    zygote (supervises every job: deadline, wait, report) ─ C (pid 1 of the job's namespace: mounts its view,
                                                              drops to its uid, runs argv)

The zygote points the PID namespace of its next child at a fresh one before each fork, so C is that
namespace's init: when it ends the kernel kills everything it started (double forks and setsid included), and
the zygote reads its exit status and resource use straight from wait4. On these machines a fork of the zygote
and the exit of that copy cost 1-2 ms of CPU, most of a job; a supervisor process per job cost one more of each.

A job arrives as one SEQPACKET message: JSON plus the fds [stdout, stderr, result, report, *cgroup.procs files,
alarm (if any), *pass_fds]; C joins the job's cgroup first thing, and the zygote kills the job when the alarm
(the cgroup's OOM eventfd) turns readable. The zygote writes one JSON report (wait status, cpu, peak memory,
timed out) to the report fd when the job ends.
The unsafe backend (`none`) uses the same server started with no isolation at all: its jobs (`"isolate":
false`) are plain forks that keep the zygote's uid and view and lead a process group, killed as a group.
C runs a Python argv in-process (`python [-flags] script args` or `-c code`) because this interpreter is
already warm; the script is compiled once by the zygote and the code object reused by every later job (the
harness and the candidate channel otherwise cost a compile each); anything else is exec'd.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import runpy
import selectors
import signal
import socket
import sys
import time
import traceback
import types

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from sandbox import cgroups, confine, mounts, syscall_filter  # noqa: E402
from sandbox import linux as L  # noqa: E402

_MAX_MESSAGE = 1 << 20


def preload() -> None:
    """numpy, which most jobs import and which takes ~0.1 s (the standard modules jobs use are imported above
    already); an interpreter without it simply goes without."""
    try:
        import numpy  # noqa: F401
    except ImportError:
        pass


class _Job:
    """A running job as the zygote sees it: C's pid and pidfd, its deadline, its cgroup's alarm (or None) and
    where its report goes."""

    def __init__(self, pid: int, report_fd: int, deadline: float, alarm_fd: int | None, isolated: bool) -> None:
        self.pid, self.report_fd, self.deadline, self.alarm_fd = pid, report_fd, deadline, alarm_fd
        self.pidfd = os.pidfd_open(pid)
        self.isolated = isolated
        self.timed_out = False

    def kill(self) -> None:
        """The whole job: C is pid 1 of its namespace when isolated; otherwise (the unsafe backend) C leads a
        process group, as a cold run on that backend does, and the group is killed."""
        if not self.isolated:
            try:
                os.killpg(self.pid, signal.SIGKILL)
                return
            except (ProcessLookupError, PermissionError):
                pass  # C has not called setsid() yet: it is alone
        signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)


def serve(control: socket.socket) -> None:
    """Start each job the engine sends and report on it when it ends, until the engine closes the socket."""
    own_pid_ns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    selector = selectors.DefaultSelector()
    selector.register(control, selectors.EVENT_READ)
    jobs: dict[int, _Job] = {}  # pidfd -> job
    alarms: dict[int, _Job] = {}  # alarm fd -> job
    while True:
        now = time.monotonic()
        for job in jobs.values():
            if not job.timed_out and job.deadline <= now:
                job.timed_out = True
                job.kill()
        waiting = [job.deadline - now for job in jobs.values() if not job.timed_out]
        for key, _ in selector.select(max(0.0, min(waiting)) if waiting else None):
            if key.fd in alarms:  # its cgroup's memory limit was hit: the whole job ends
                selector.unregister(key.fd)
                alarms.pop(key.fd).kill()
                continue
            if key.fd in jobs:
                job = jobs.pop(key.fd)
                if alarms.pop(job.alarm_fd, None) is not None:
                    selector.unregister(job.alarm_fd)
                _finish(job, selector)
                continue
            if key.fileobj is not control:  # an alarm of a job that ended in this same round
                continue
            try:
                data, fds, _, _ = socket.recv_fds(control, _MAX_MESSAGE, 64)
            except InterruptedError:
                continue
            if not data:
                return  # each job has PDEATHSIG: none outlives the zygote
            job = _start(json.loads(data), fds, own_pid_ns)
            if job is not None:
                jobs[job.pidfd] = job
                selector.register(job.pidfd, selectors.EVENT_READ)
                if job.alarm_fd is not None:
                    alarms[job.alarm_fd] = job
                    selector.register(job.alarm_fd, selectors.EVENT_READ)


def _start(spec: dict, fds: list[int], own_pid_ns: int) -> _Job | None:
    """Fork C as the init of a fresh PID namespace (or, unisolated, as a plain child); the zygote keeps only
    the report fd and the alarm."""
    report_fd = fds[3]
    alarm_fd = fds[4 + int(spec["cgroup_fds"])] if spec["alarm"] else None
    job = None
    try:
        _compile_script(spec["argv"])
        _preload_modules(spec.get("preload", []))
        syscall_filter.build(frozenset(spec["syscalls"]))  # built here once per set, so C only installs it
        isolated = spec.get("isolate", True)
        if isolated:
            L.setns(own_pid_ns, L.CLONE_NEWPID)  # the last job's namespace is no longer the one children get
            L.unshare(L.CLONE_NEWPID)
        pid = os.fork()
        if pid == 0:
            _candidate(spec, fds)
        try:
            job = _Job(pid, report_fd, time.monotonic() + float(spec["wall_s"]), alarm_fd, isolated)
        except BaseException:  # e.g. out of fds for its pidfd: a job nobody watches must not run
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise
    except BaseException as exc:  # noqa: BLE001 - reported to the engine, which fails the run clearly
        _report(report_fd, {"error": f"warm sandbox job failed to start: {type(exc).__name__}: {exc}"})
    finally:
        for fd in fds:  # only the job holds its pipes: their ends see EOF when it ends
            if fd != report_fd and (fd != alarm_fd or job is None):
                os.close(fd)
    return job


def _finish(job: _Job, selector: selectors.BaseSelector) -> None:
    """C has ended: reap it and report. Unisolated, what it left running in its process group ends first (its
    pid, not yet reaped, still names the group)."""
    if not job.isolated:
        job.kill()
    selector.unregister(job.pidfd)
    os.close(job.pidfd)
    if job.alarm_fd is not None:
        os.close(job.alarm_fd)
    _, status, usage = os.wait4(job.pid, 0)
    _report(job.report_fd, {"status": status, "cpu_s": usage.ru_utime + usage.ru_stime,
                            "maxrss_kb": usage.ru_maxrss, "timed_out": job.timed_out})


def _report(fd: int, report: dict) -> None:
    try:
        os.write(fd, json.dumps(report).encode())
    except OSError:
        pass  # the engine gave up on this job
    finally:
        os.close(fd)


def _mount_job_view(job: dict) -> None:
    """In C's own mount namespace: private /tmp and /dev/shm for this job only, a sized tmpfs copy of its
    folder at the caller's path, the zygote's read-only paths that lived under /tmp or /dev/shm bound again on
    top, and a /proc for its PID namespace. Also its own IPC, network and UTS namespaces: no System V object,
    abstract socket or hostname of one job reaches another, beside it or after it."""
    L.unshare(L.CLONE_NEWNS | L.CLONE_NEWIPC | L.CLONE_NEWNET | L.CLONE_NEWUTS)
    L.mount(None, b"/", None, L.MS_REC | L.MS_PRIVATE)
    binds = [(os.fsencode(job["workdir"]), job["jobdir"], True)] + [
        (os.fsencode(p), p, False) for p in job["rebind"]]
    handles = [os.open(source, os.O_PATH | os.O_CLOEXEC) for _, source, _ in binds]  # before /tmp is replaced
    for scratch in mounts.SCRATCH:
        if scratch.is_dir():
            L.mount(b"tmpfs", bytes(scratch), b"tmpfs", L.MS_NOSUID | L.MS_NODEV,
                    mounts.scratch_options(int(job["tmp_mb"])))
    for (target, _, writable), handle in zip(binds, handles, strict=True):
        mounts.make_mountpoint(target, os.path.isdir(b"/proc/self/fd/%d" % handle))
        if writable:  # the work folder: a sized tmpfs holding a copy, as on the process backend
            mounts.scratch_copy(handle, target, int(job["tmp_mb"]))
        else:
            mounts.bind(handle, target, writable)
        os.close(handle)
    mounts.mount_proc()


def _candidate(job: dict, fds: list[int]) -> None:
    """C: pid 1 of the job's namespace; mount its view, move the fds into place, drop to the job's uid under
    its rlimits, run argv. Never returns."""
    code = 1
    try:
        out, err, result, _report, *rest = fds
        cgroup_fds, passed = rest[:int(job["cgroup_fds"])], rest[int(job["cgroup_fds"]) + bool(job["alarm"]):]
        cgroups.join(cgroup_fds)  # first: all the job does, its work folder's copy included, counts in it
        L.prctl(L.PR_SET_PDEATHSIG, signal.SIGKILL)
        L.prctl(L.PR_SET_DUMPABLE, 0)
        os.setsid()
        isolated = job.get("isolate", True)
        if isolated:
            _mount_job_view(job)
        targets = [int(t) for t in job["targets"]]  # result fd number, then one per passed fd
        # park every fd above both the received numbers and the targets, so no dup2 clobbers a pending one
        base = max([2, *targets, *fds]) + 1
        parked = [fcntl.fcntl(fd, fcntl.F_DUPFD, base) for fd in (out, err, result, *passed)]
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(parked[0], 1)
        os.dup2(parked[1], 2)
        for fd, target in zip(parked[2:], targets, strict=True):
            os.dup2(fd, target, inheritable=True)
        keep = {0, 1, 2, *targets}
        for name in os.listdir("/proc/self/fd"):
            if int(name) not in keep:
                try:
                    os.close(int(name))
                except OSError:
                    pass
        os.chdir(job["workdir"])
        os.environ.clear()
        os.environ.update(job["env"])
        confine.enter([tuple(r) for r in job["rlimits"]], int(job["uid"]) if isolated else None,
                      int(job["tmp_mb"]) if isolated else None, [], syscall_filter.build(frozenset(job["syscalls"])))
        code = _run(job["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - the job's own failure, shown on its stderr like a Python crash
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # noqa: BLE001 - a closed or broken stream must not keep us alive
                pass
        os._exit(code)


_SCRIPTS: dict[str, tuple[tuple[int, int, int], types.CodeType]] = {}  # path -> (stat key, code)
_MAX_SCRIPTS = 64  # the harness and the channel in practice; a caller with a script per job evicts the oldest


_PYTHON = os.path.realpath(sys.executable)


def _is_python(argv: list[str]) -> bool:
    """Whether argv runs this interpreter (then it runs in-process; anything else is exec'd)."""
    return os.path.realpath(argv[0]) == _PYTHON


def _python_script(argv: list[str]) -> str | None:
    """The absolute script path of a `python [-flags] script args` argv for this interpreter, else None (a
    relative path means the job's folder, which the zygote does not see)."""
    if not _is_python(argv):
        return None
    rest = _python_args(argv)
    return rest[0] if rest and os.path.isabs(rest[0]) else None


def _python_args(argv: list[str]) -> list[str]:
    rest = argv[1:]
    while rest and rest[0].startswith("-") and rest[0] != "-c" and len(rest[0]) == 2:
        rest = rest[1:]  # -I, -S, -u, -B...: this interpreter already runs isolated
    return rest


def _compile_script(argv: list[str]) -> None:
    """In the zygote, before the fork: compile the job's script unless the cached code is still that file's.
    Compiling runs nothing; a script that does not compile is left for the job to report."""
    path = _python_script(argv)
    if path is None:
        return
    try:
        st = os.stat(path)
        key = (st.st_ino, st.st_size, st.st_mtime_ns)
        if _SCRIPTS.get(path, (None,))[0] != key:
            with open(path, "rb") as handle:
                code = compile(handle.read(), path, "exec")
            _SCRIPTS.pop(path, None)
            while len(_SCRIPTS) >= _MAX_SCRIPTS:
                _SCRIPTS.pop(next(iter(_SCRIPTS)))
            _SCRIPTS[path] = (key, code)
    except (OSError, SyntaxError, ValueError):
        _SCRIPTS.pop(path, None)


_HERE = os.path.dirname(os.path.realpath(__file__))
_OWN_FOLDERS = (_HERE, os.path.join(os.path.dirname(_HERE), "evaluators"))  # Evolve's sandbox and evaluators
_MODULES: dict[str, tuple[str, tuple[int, int, int]]] = {}  # module name -> (path, stat key) imported here


def _preload_modules(paths: list[str]) -> None:
    """In the zygote, before the fork: import each module a job's script will import by name, unless the one
    in sys.modules is already that file as it is now, so every job finds it imported (the harness's import of
    the candidate channel cost ~5 ms a job). Only files of Evolve's sandbox and evaluators packages: a
    module's code runs here, in the zygote, outside any job's confinement. One that fails to import is left
    for the job to import and report.
    """
    for path in paths:
        real = os.path.realpath(path)
        name = os.path.splitext(os.path.basename(real))[0]
        if os.path.dirname(real) not in _OWN_FOLDERS or not name.isidentifier():
            continue
        try:
            st = os.stat(real)
            key = (st.st_ino, st.st_size, st.st_mtime_ns)
            if _MODULES.get(name) == (real, key) and name in sys.modules:
                continue
            _MODULES.pop(name, None)
            spec = importlib.util.spec_from_file_location(name, real)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
            _MODULES[name] = (real, key)
        except Exception:  # noqa: BLE001 - the job imports it itself and shows the error
            sys.modules.pop(name, None)


def _run(argv: list[str]) -> int:
    """Run a Python argv in this warm interpreter; a non-Python argv is exec'd."""
    if not _is_python(argv):
        os.execvpe(argv[0], argv, os.environ)
    rest = _python_args(argv)
    if rest and rest[0] == "-c":
        sys.argv = ["-c", *rest[2:]]
        exec(compile(rest[1], "<string>", "exec"), {"__name__": "__main__"})
        return 0
    sys.argv = list(rest)
    sys.path[0] = os.path.dirname(os.path.abspath(rest[0]))
    cached = _SCRIPTS.get(rest[0])
    if cached is None:
        runpy.run_path(rest[0], run_name="__main__")
        return 0
    main = types.ModuleType("__main__")
    main.__file__ = rest[0]
    sys.modules["__main__"] = main
    exec(cached[1], main.__dict__)
    return 0


if __name__ == "__main__":
    preload()
    serve(socket.socket(fileno=int(sys.argv[1])))
