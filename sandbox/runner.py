"""Runs one child under a backend's plan: spawn, drain output, enforce the wall clock, reap, measure.

Backends differ only in how the forked child becomes the candidate and how the tree is killed (``ChildPlan``);
everything else, including the output caps and the result channel, is shared here.
"""

from __future__ import annotations

import math
import os
import resource
import select
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from . import violation
from .api import Limits, Outcome
from .capture import BoundedSink, drain
from .env import minimal_env

RESULT_CAP = 16 << 20  # bytes kept from the result channel
_KILL_GRACE_S = 5.0  # after the plan's kill, how long before the process group is SIGKILLed as a second line
DRAIN_GRACE_S = 2.0  # how long to wait for pipe EOF once the child is reaped (a leaked holder must not hang us)


@dataclass(frozen=True)
class Exit:
    """The candidate's own exit, as distinct from any helper process between it and the engine."""

    returncode: int
    cpu_s: float
    peak_mem_mb: float


class ChildPlan(Protocol):
    def preexec(self) -> None:
        """Runs in the forked child before exec: isolate, limit, drop privileges."""

    def started(self, popen: subprocess.Popen[bytes]) -> None:
        """Runs in the engine right after the spawn succeeded."""

    def kill(self) -> None:
        """Kills the whole candidate tree (at the wall deadline)."""

    def exit(self, wait_status: int, rusage: resource.struct_rusage) -> Exit:
        """The candidate's exit and measurements, given the reaped direct child's."""

    def close(self) -> None:
        """Releases the plan's engine-side resources."""


def rusage_exit(wait_status: int, rusage: resource.struct_rusage) -> Exit:
    """An Exit straight from ``os.wait4`` (ru_maxrss is in KiB on Linux)."""
    return Exit(
        os.waitstatus_to_exitcode(wait_status), rusage.ru_utime + rusage.ru_stime, rusage.ru_maxrss / 1024
    )


def execute(
    argv: list[str],
    workdir: Path,
    limits: Limits,
    env: Mapping[str, str] | None,
    plan: ChildPlan,
    pass_fds: Sequence[int] = (),
    alarm_fd: int | None = None,
) -> Outcome:
    """Run ``argv`` in ``workdir`` under ``plan`` and ``limits``; thread-safe (all state is local). The tree is
    killed when ``alarm_fd`` turns readable (the job's cgroup reached its memory limit)."""
    (out_r, out_w), (err_r, err_w), (res_r, res_w) = os.pipe(), os.pipe(), os.pipe()
    start = time.monotonic()
    try:
        popen = subprocess.Popen(
            argv,
            cwd=workdir,
            env=minimal_env(workdir, res_w, env),
            stdin=subprocess.DEVNULL,
            stdout=out_w,
            stderr=err_w,
            pass_fds=(res_w, *pass_fds),
            start_new_session=True,
            preexec_fn=plan.preexec,
        )
    except BaseException:
        for fd in (out_r, err_r, res_r):
            os.close(fd)
        raise
    finally:
        for fd in (out_w, err_w, res_w):
            os.close(fd)
    sinks = Sinks(limits)
    drains = sinks.drain(out_r, err_r, res_r)
    plan.started(popen)
    timed_out, wait_status, rusage = _wait(popen, limits.wall_s, plan, alarm_fd)
    wall_s = time.monotonic() - start
    join_drains(drains)
    return sinks.outcome(plan.exit(wait_status, rusage), timed_out, wall_s, limits)


def join_drains(drains: list[threading.Thread]) -> None:
    """Wait for the drain threads to reach EOF, at most DRAIN_GRACE_S in all."""
    deadline = time.monotonic() + DRAIN_GRACE_S
    for thread in drains:
        thread.join(max(0.0, deadline - time.monotonic()))


class Sinks:
    """The bounded captures of one run's stdout, stderr and result channel, and the Outcome they make."""

    def __init__(self, limits: Limits) -> None:
        half = limits.output_bytes // 2
        self.stdout = BoundedSink(half, limits.output_bytes - half)
        self.stderr = BoundedSink(half, limits.output_bytes - half)
        self.result = BoundedSink(RESULT_CAP, 0)

    def drain(self, out_r: int, err_r: int, res_r: int) -> list:
        """Start draining the three read ends (each thread closes its fd at EOF)."""
        return [drain(out_r, self.stdout), drain(err_r, self.stderr), drain(res_r, self.result)]

    def outcome(self, exit_: Exit, timed_out: bool, wall_s: float, limits: Limits) -> Outcome:
        stderr_text = self.stderr.text()
        found = violation.classify(
            exit_.returncode, timed_out, stderr_text, exit_.cpu_s, exit_.peak_mem_mb, limits
        )
        if self.result.dropped and not found:
            found = f"result larger than {RESULT_CAP} bytes (truncated)"
        return Outcome(
            returncode=None if timed_out else exit_.returncode,
            stdout=self.stdout.text(),
            stderr=stderr_text,
            wall_s=wall_s,
            cpu_s=exit_.cpu_s,
            peak_mem_mb=exit_.peak_mem_mb,
            timed_out=timed_out,
            violation=found,
            result=self.result.head() or None,
        )


def _wait(
    popen: subprocess.Popen[bytes], wall_s: float, plan: ChildPlan, alarm_fd: int | None
) -> tuple[bool, int, resource.struct_rusage]:
    """Wait for the direct child until the deadline (pidfd: no polling), killing the tree if it passes or the
    alarm goes off."""
    pidfd = os.pidfd_open(popen.pid)
    try:
        fired = _first_readable([pidfd] if alarm_fd is None else [pidfd, alarm_fd], wall_s)
        timed_out = fired is None
        if fired != pidfd:
            plan.kill()
            if not _readable(pidfd, _KILL_GRACE_S):
                os.killpg(popen.pid, signal.SIGKILL)
        _, wait_status, rusage = os.wait4(popen.pid, 0)
    finally:
        os.close(pidfd)
    # Reaped here, so tell Popen: otherwise its finalizer could later waitpid() a recycled pid of another run.
    popen.returncode = os.waitstatus_to_exitcode(wait_status)
    return timed_out, wait_status, rusage


def _readable(fd: int, timeout_s: float) -> bool:
    return _first_readable([fd], timeout_s) is not None


def _first_readable(fds: list[int], timeout_s: float) -> int | None:
    """The first of `fds` to turn readable within `timeout_s`, or None."""
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    ready = poller.poll(math.ceil(max(0.0, timeout_s) * 1000))
    return ready[0][0] if ready else None
