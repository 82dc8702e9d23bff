"""The engine's side of the evaluator servers (evaluator_server.py): for a `call` task, one long-lived sandboxed
evaluator per evaluation in flight, which judges each candidate in a fresh fork of itself.

A server is one run of the task's sandbox (same backend, read-only paths and limits as a one-off evaluator
run, only without the wall and CPU limits, which each judged child gets instead), so the evaluator keeps every
guarantee it had; what is saved per candidate is a sandboxed process start and the evaluator's import. Servers
are started on demand, reused while they live, and stopped by `close()` (they exit when their socket closes).
A server that dies is replaced; a candidate whose judge died with it is reported, never retried (its channel
has been used).
"""

from __future__ import annotations

import dataclasses
import json
import os
import select
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from evaluators.background import Background
from evaluators.candidate_channel import write_all
from sandbox import Limits, Outcome, Sandbox
from sandbox.capture import pump
from sandbox.runner import DRAIN_GRACE_S, Exit, Sinks

SERVER = Path(__file__).resolve().with_name("evaluator_server.py")
_HARNESS = SERVER.with_name("harness.py")
_CHANNEL = SERVER.with_name("candidate_channel.py")
_LIFETIME_S = 7 * 86400.0  # a server's own wall and CPU limits: it lives as long as the run
_START_S = 120.0  # how long a server may take to load the evaluator and say it is ready (or the wall limit)
_STATUS_GRACE_S = 10.0  # beyond a judge's wall limit, how long to wait for the server's word on it
_MESSAGE_MAX = 1 << 16


class ServerFailed(RuntimeError):
    """The evaluator server died or misbehaved while judging; the message says how."""


class ServerDidNotStart(RuntimeError):
    """The server ended before saying it was ready; `outcome` is its sandbox run's (its stderr says why)."""

    def __init__(self, outcome: Outcome | None, reason: str) -> None:
        super().__init__(reason)
        self.outcome = outcome


class EvaluatorPool:
    """Evaluator servers for one task; `judge` is safe to call from several threads at once."""

    def __init__(self, sandbox: Sandbox, evaluator_path: Path, spec: dict, readonly_paths: Sequence[Path],
                 limits: Limits, grace_s: float) -> None:
        """`limits` are each evaluation's; a judge outlives their deadline by `grace_s` so it can still report."""
        self._sandbox, self._readonly, self.limits, self._grace_s = sandbox, list(readonly_paths), limits, grace_s
        self._argv = [sys.executable, "-I", str(SERVER), str(evaluator_path)]
        self._spec = json.dumps(spec)
        self._idle: list[_Server] = []
        self._lock = threading.Lock()
        self._closed = False

    def judge(self, source: str, channel: list[int]) -> Outcome:
        """Judge one candidate whose channel ends are `channel` ([request_w, reply_r]); the outcome is that of
        the child that judged it (its report in `result`), as a one-off evaluator run would give. The fds are
        closed (and removed from the list) once the server holds its copies, so the candidate's worker ends
        as soon as the judge does; the caller closes whatever is left in the list."""
        server = self._take()
        try:
            try:
                outcome = server.judge(source, channel, self.limits, self._grace_s)
            except _NotSent:  # it died since its last candidate: this one is untouched, so once more
                server.close()
                server = self._take()
                outcome = server.judge(source, channel, self.limits, self._grace_s)
        except BaseException:
            server.close()
            raise
        self._give_back(server)
        return outcome

    def close(self) -> None:
        """Stop every idle server; a server still judging stops when its judge ends."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for server in idle:
            server.close()

    def _take(self) -> _Server:
        with self._lock:
            if self._closed:
                raise ServerFailed("the evaluator's servers were stopped (the run is ending)")
            while self._idle:
                server = self._idle.pop()
                if server.alive():
                    return server
                server.close()
        return _Server(self._sandbox, self._argv, self._spec, self._readonly, self.limits)

    def _give_back(self, server: _Server) -> None:
        with self._lock:
            if not self._closed and server.alive():
                self._idle.append(server)
                return
        server.close()


class _NotSent(OSError):
    """The request could not be sent (the server is gone): the candidate has not been touched."""


class _Server:
    """One server: its sandbox run on a background thread and the engine's end of its socket."""

    def __init__(self, sandbox: Sandbox, argv: list[str], spec: str, readonly: list[Path], limits: Limits) -> None:
        self._socket, server_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._workdir = Path(tempfile.mkdtemp(prefix="evolve-evaluator-"))
        life = dataclasses.replace(limits, wall_s=_LIFETIME_S, cpu_s=_LIFETIME_S)
        full = [*argv, str(server_end.fileno()), spec]
        self._run = Background(lambda: sandbox.run(full, self._workdir, life, readonly_paths=readonly,
                                                   pass_fds=(server_end.fileno(),), preload=(_CHANNEL, _HARNESS)))
        try:
            ready = self._await_ready(max(_START_S, limits.wall_s))
        finally:
            server_end.close()  # the server has its own copy now (or is gone): EOF on ours means it ended
        if not ready:
            outcome, reason = None, "the evaluator's server did not start"
            if self._run.done():
                try:
                    outcome = self._run.join()
                except Exception as exc:  # noqa: BLE001 - the sandbox could not run it: say why
                    reason = f"{reason}: {exc}"
            self.close()
            raise ServerDidNotStart(outcome, reason)

    def _await_ready(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not self._run.done():
            if select.select([self._socket], [], [], 0.05)[0]:
                return _loads(self._socket.recv(_MESSAGE_MAX)).get("ready") is True
        return False

    def alive(self) -> bool:
        return not self._run.done()

    def judge(self, source: str, channel: list[int], limits: Limits, grace_s: float) -> Outcome:
        source_fd = os.memfd_create("candidate-source", os.MFD_CLOEXEC)
        pipes = [os.pipe() for _ in range(3)]  # result, stdout, stderr
        (res_r, res_w), (out_r, out_w), (err_r, err_w) = pipes
        extended = limits.extended(grace_s)
        request = {"deadline_s": limits.wall_s, "wall_s": extended.wall_s, "cpu_s": extended.cpu_s}
        try:
            write_all(source_fd, source.encode())
            os.lseek(source_fd, 0, os.SEEK_SET)
            start = time.monotonic()
            try:
                socket.send_fds(self._socket, [json.dumps(request).encode()],
                                [source_fd, *channel, res_w, out_w, err_w])
            except OSError as exc:
                for fd in (res_r, out_r, err_r):
                    os.close(fd)
                raise _NotSent(str(exc)) from exc
            while channel:
                os.close(channel.pop())
        finally:
            for fd in (source_fd, res_w, out_w, err_w):
                os.close(fd)
        sinks = Sinks(extended)
        deadline = start + extended.wall_s + _STATUS_GRACE_S
        left = pump({res_r: sinks.result.feed, out_r: sinks.stdout.feed, err_r: sinks.stderr.feed}, deadline)
        for fd in left:
            os.close(fd)
        status = self._status(max(deadline, time.monotonic() + DRAIN_GRACE_S))
        exit_ = Exit(os.waitstatus_to_exitcode(int(status["status"])), float(status["cpu_s"]),
                     float(status["maxrss_kb"]) / 1024)
        return sinks.outcome(exit_, bool(status["timed_out"]), time.monotonic() - start, extended)

    def _status(self, deadline: float) -> dict:
        """The server's word on the child that just ended."""
        if not select.select([self._socket], [], [], max(0.0, deadline - time.monotonic()))[0]:
            raise ServerFailed("the evaluator's server said nothing about a finished judge")
        status = _loads(self._socket.recv(_MESSAGE_MAX))
        if not status:
            raise ServerFailed("the evaluator's server ended while judging")
        if "error" in status or "status" not in status:
            raise ServerFailed(f"the evaluator's server failed: {status.get('error', status)}")
        return status

    def close(self) -> None:
        """Close the socket (the server exits at EOF), wait for its run and remove its folder."""
        self._socket.close()
        try:
            self._run.join(_STATUS_GRACE_S)
        except BaseException:  # noqa: BLE001 - a server's own end is not a candidate's concern
            pass
        shutil.rmtree(self._workdir, ignore_errors=True)


def _loads(raw: bytes) -> dict:
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        return {"error": f"unreadable message {raw[:200]!r}"}
    return value if isinstance(value, dict) else {"error": f"unexpected message {raw[:200]!r}"}
