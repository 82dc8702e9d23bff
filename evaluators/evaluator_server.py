"""Runs INSIDE the sandbox: a task's evaluator, loaded once, judging one candidate after another, each in a
fresh fork of this process (the evaluator's side of the warm path; the engine's side is evaluator_pool.py).

Usage: python -I evaluator_server.py EVALUATOR_PY SOCKET_FD SPEC_JSON
SPEC_JSON: {"objective": str, "thresholds": [float, ...]}

Why: loading the evaluator (its module, its imports, its reference data) and starting a sandboxed process for
it cost more than most evaluations; here both are paid once per server, and a candidate costs one fork.

Protocol on the SEQPACKET socket (the engine holds the other end):
- the server says {"ready": true} once the evaluator is loaded (or failed to load: each child then reports
  that error, as harness.py would);
- each request is {"deadline_s": float, "wall_s": float, "cpu_s": float} with the fds [source, request,
  reply, result, stdout, stderr]: the candidate's source (a memfd), its channel (the other ends are in the
  candidate's own sandbox), where the report goes, and the child's output;
- the server forks a child that judges the candidate exactly as harness.py does, in a fresh folder, under its
  own CPU limit, and writes the report to the result fd; past wall_s the server kills the child's process
  group; then it answers {"status", "cpu_s", "maxrss_kb", "timed_out"} for the child.

Only for the `call` interface: no candidate code ever runs in these processes (the candidate answers over the
channel from its own sandbox), so a child cannot tamper with the server or with another candidate's report.
A task whose evaluator imports the candidate (`path`) gets a fresh sandbox per candidate instead.
"""

import ctypes
import json
import math
import os
import resource
import select
import shutil
import signal
import socket
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # -I leaves the script's folder off sys.path
import candidate_channel  # noqa: E402
import harness  # noqa: E402

_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None)
_FDS = 6  # source, request, reply, result, stdout, stderr


def main():
    evaluator_path, socket_fd, spec_json = sys.argv[1:4]
    spec = {**json.loads(spec_json), "interface": "call"}
    control = socket.socket(fileno=int(socket_fd))
    try:
        module, failure = harness.load(evaluator_path), None
    except BaseException as exc:  # noqa: BLE001 - every candidate's report will carry it
        module, failure = None, exc

    def get_module():
        if failure is not None:
            raise failure
        return module

    control.send(b'{"ready": true}')
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(control, 1 << 16, _FDS)
        except InterruptedError:
            continue
        if not data:
            return  # the engine is done with this server
        request = json.loads(data)
        if len(fds) != _FDS:
            for fd in fds:
                os.close(fd)
            control.send(json.dumps({"error": f"expected {_FDS} fds with a request, got {len(fds)}"}).encode())
            continue
        control.send(json.dumps(_judge(request, fds, get_module, spec, control)).encode())


def _judge(request, fds, get_module, spec, control):
    """Fork a child to judge one candidate, enforce its deadline, and say how it ended."""
    try:
        pid = os.fork()
    except OSError as exc:  # e.g. the process limit: this candidate fails, the server goes on
        for fd in fds:
            os.close(fd)
        return {"error": f"could not fork a judge: {exc}"}
    if pid == 0:
        try:
            control.close()
            _child(request, fds, get_module, spec)
        finally:
            os._exit(1)
    try:
        os.setpgid(pid, pid)  # also done by the child: whichever runs first, the group exists before a kill
    except OSError:
        pass  # the child already did it (or has already exited)
    for fd in fds:
        os.close(fd)
    pidfd = os.pidfd_open(pid)
    try:
        timed_out = not select.select([pidfd], [], [], float(request["wall_s"]))[0]
        if timed_out:
            _kill_group(pid)
        _, status, usage = os.wait4(pid, 0)
    finally:
        os.close(pidfd)
    _kill_group(pid)  # whatever the child left running dies with it
    _reap_orphans()
    return {"status": status, "cpu_s": usage.ru_utime + usage.ru_stime, "maxrss_kb": usage.ru_maxrss,
            "timed_out": timed_out}


def _reap_orphans():
    """The server may be its PID namespace's init (warm backend): what a child left behind is reparented here
    and must be reaped, or zombies would pile up against the process limit."""
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                return
        except ChildProcessError:
            return


def _kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _child(request, fds, get_module, spec):
    """Judge one candidate in a fresh folder and write the report; never returns."""
    source_fd, request_fd, reply_fd, result_fd, out_fd, err_fd = fds
    os.setpgid(0, 0)
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # a dead server takes its child along
    os.dup2(out_fd, 1)
    os.dup2(err_fd, 2)
    cpu, hard = math.ceil(float(request["cpu_s"])), resource.getrlimit(resource.RLIMIT_CPU)[1]
    cpu = cpu if hard == resource.RLIM_INFINITY else min(cpu, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))  # this fork's own CPU time starts at zero
    folder = tempfile.mkdtemp(prefix="evaluation-", dir=os.getcwd())
    os.chdir(folder)
    os.environ["TMPDIR"] = tempfile.tempdir = folder  # tempfile's files too; /tmp itself is the server's
    code = 1
    try:
        source = _read_all(source_fd).decode("utf-8", errors="replace")
        deadline = time.monotonic() + float(request["deadline_s"])
        report = harness.judge(get_module, spec, lambda: candidate_channel.Candidate(source, request_fd,
                                                                                    reply_fd, deadline))
        os.close(request_fd)  # the candidate's worker reads EOF and ends while this report is written
        os.close(reply_fd)
        candidate_channel.write_all(result_fd, json.dumps(report, default=repr).encode())
        code = 0
    except BaseException:  # noqa: BLE001 - shown on the child's stderr; no report means a crash to the engine
        traceback.print_exc()
    finally:
        os.chdir("..")
        shutil.rmtree(folder, ignore_errors=True)
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # noqa: BLE001 - a closed stream must not keep the child alive
                pass
        os._exit(code)


def _read_all(fd):
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


if __name__ == "__main__":
    main()
