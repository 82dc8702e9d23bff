"""A real Docker engine for the docker sandbox tests: use the running one, or (as root) install and start one.

No mocks: the backend's isolation claims are only worth testing against a real engine. Set-up is idempotent and
serialized by a lock file, so parallel test processes start at most one daemon. A test is skipped only when an
engine truly cannot run here, and the reason says exactly which step failed (with dockerd's log tail).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from sandbox import Sandbox, get_sandbox

DOCKERD_LOG = Path(tempfile.gettempdir()) / "evolve-dockerd.log"
_LOCK = Path(tempfile.gettempdir()) / "evolve-dockerd.lock"
_START_WAIT_S = 30.0
_INSTALL = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "docker.io"]
_started: list[subprocess.Popen[bytes]] = []  # the daemon outlives the tests on purpose; held, not leaked


def ensure_engine() -> str | None:
    """None once an engine answers; otherwise why none can run on this machine."""
    if _answers():
        return None
    with _locked():
        if _answers():  # another process started it while we waited for the lock
            return None
        if os.geteuid() != 0:
            return "no Docker engine is running, and starting one needs root (start dockerd, or run as root)"
        if shutil.which("dockerd") is None and (reason := _install()):
            return reason
        return _start()


@pytest.fixture(scope="session")
def docker_sandbox() -> Iterator[Sandbox]:
    """The ``docker`` sandbox backend on a real engine, or a skip that names the failed set-up step."""
    reason = ensure_engine()
    if reason:
        pytest.skip(f"docker sandbox tests need a Docker engine: {reason}")
    yield get_sandbox("docker")


def _answers() -> bool:
    try:
        client = docker.from_env(timeout=5)  # negotiates the API version: fails without an engine
    except docker.errors.DockerException:
        return False
    try:
        return bool(client.ping())
    except docker.errors.DockerException:
        return False
    finally:
        client.close()


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    with open(_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _install() -> str | None:
    if shutil.which("apt-get") is None:
        return "dockerd is not installed and apt-get is not available to install docker.io"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = _apt(_INSTALL, env)
    if done.returncode != 0:  # the package lists may be missing or stale
        _apt(["apt-get", "update", "-q"], env)
        done = _apt(_INSTALL, env)
    if done.returncode != 0 or shutil.which("dockerd") is None:
        return f"`{' '.join(_INSTALL)}` failed ({done.returncode}): {_tail(done.stdout + done.stderr)}"
    return None


def _apt(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600, check=False
    )


def _start() -> str | None:
    """Start dockerd in its own session with its own log file and wait for it to answer."""
    with open(DOCKERD_LOG, "ab") as log:
        offset = log.tell()  # the reason quotes this attempt's lines only
        daemon = subprocess.Popen(
            ["dockerd"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _started.append(daemon)
    deadline = time.monotonic() + _START_WAIT_S
    while time.monotonic() < deadline and daemon.poll() is None:
        if _answers():
            return None
        time.sleep(0.5)
    state = (
        f"exited with {daemon.returncode}"
        if daemon.poll() is not None
        else f"no answer in {_START_WAIT_S:g} s"
    )
    with open(DOCKERD_LOG, "rb") as log:
        log.seek(offset)
        lines = log.read().decode(errors="replace")
    return f"dockerd did not come up ({state}); {DOCKERD_LOG} ends with: {_tail(lines)}"


def _tail(text: str, lines: int = 15) -> str:
    return " | ".join(text.strip().splitlines()[-lines:])
