"""The ``docker`` backend: each run in a fresh container of a local Docker engine, removed afterwards.

The container has no network (``network_mode=none``), a read-only root, a private tmpfs /tmp, no capabilities,
no_new_privs, a non-root uid (the same per-run slot uid the process backend uses, or the engine's own uid when
the engine is not root), cgroup limits for memory (no swap), CPU rate and pids, and rlimits for cpu time, file
size, open files and core dumps. Only the work folder is writable: a tmpfs at its own path (so argv paths stay
valid) sized by the memory limit, into which the shim copies the caller's folder (bound read-only at
WORK_SOURCE) before the candidate starts, so a candidate cannot fill the host's disk and nothing it writes
there is kept; ``readonly_paths`` are bind-mounted read-only at their own paths. The environment is built
from nothing (``sandbox.env``), so the engine's API keys never reach the container.

Stdout, stderr, the result fd and ``pass_fds`` cross through Unix sockets (``sandbox.bridge``) that the
container's pid 1 (``sandbox.docker_shim``) plugs in as the candidate's fds; the shim also reports the exact
wait status, cpu time and peak memory. At the wall deadline the container is killed, which ends every process
in it; it is removed on every path out of ``run``.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import requests.exceptions
from docker.models.containers import Container
from docker.types import LogConfig, Mount, Ulimit

from . import docker_image, docker_shim, identity, probe, syscall_filter, violation
from .api import Limits, Outcome, resolve_paths
from .bridge import Bridge
from .capture import BoundedSink
from .env import minimal_env
from .runner import Exit, Sinks, join_drains

MEMORY = violation.MEMORY_CGROUP
PROCESSES = violation.PROCESSES_CGROUP
# the mechanism here is a cgroup
_RELABEL = {violation.MEMORY: MEMORY, violation.MEMORY_DATA: MEMORY, violation.PROCESSES: PROCESSES}
LABEL = "evolve.sandbox"  # every container this backend starts carries it, so leftovers can be found
BRIDGE_MOUNT = "/run/evolve-bridge"
WORK_SOURCE = "/run/evolve-work"  # the caller's work folder, read-only; the shim copies it into the tmpfs
_SHIM = Path(docker_shim.__file__).read_text()
_KILL_GRACE_S = 10.0
_MB = 1 << 20


def connect() -> docker.DockerClient:
    """A client for the local engine, or a RuntimeError that says why there is none and how to fix it."""
    where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        client = docker.from_env(max_pool_size=64)
        client.ping()
        return client
    except docker.errors.DockerException as exc:
        cause = "permission denied on the engine's socket" if "Permission denied" in str(exc) else str(exc)
        raise RuntimeError(
            f"docker sandbox: no Docker engine reachable at {where} ({cause}). Start the daemon "
            "(`sudo systemctl start docker`, or `sudo dockerd &`; install it with `apt-get install docker.io`), "
            "let this user use its socket (run as root or join the `docker` group), or set DOCKER_HOST to a "
            "running engine on this machine (the sandbox bind-mounts local paths). Or choose another "
            "backend: --sandbox process."
        ) from exc


@dataclass(frozen=True)
class _Channels:
    """The engine's ends of one run's bridge."""

    sinks: Sinks  # stdout, stderr, result: as every backend keeps them
    status: BoundedSink  # the shim's report on the candidate's exit
    drains: list[threading.Thread]


class DockerSandbox:
    """Connects at construction, so ``get_sandbox("docker")`` fails early and says why when there is no engine.

    ``image`` (else ``EVOLVE_DOCKER_IMAGE``) names a local image with its own Python; ``cpus`` is each run's
    CPU rate limit.
    """

    name = "docker"
    relays_fds = True  # pass_fds are pumped by engine threads from the moment a run starts

    def __init__(self, image: str | None = None, cpus: float = 1.0) -> None:
        self._client = connect()
        self._image = docker_image.resolve(self._client, image or os.environ.get(docker_image.IMAGE_ENV))
        self._cpus = cpus
        self._engine = self._client.version().get("Version", "?")
        self._lock = threading.Lock()
        self._observed: dict[str, object] | None = None

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
        as_root = os.geteuid() == 0
        slot = identity.uid_slot() if as_root else contextlib.nullcontext(os.getuid())
        with slot as uid:
            identity.prepare_workdir(workdir, uid if as_root else None)
            folder = Path(tempfile.mkdtemp(prefix="evolve-bridge-"))
            try:
                if as_root:
                    os.chown(folder, uid, uid)
                return self._run(argv, workdir, readonly, limits, env, pass_fds, uid, folder, hidden)
            finally:
                shutil.rmtree(folder, ignore_errors=True)

    def describe(self) -> dict[str, object]:
        with self._lock:
            if self._observed is None:
                self._observed = probe.observe(self.run)
        return {
            "backend": self.name,
            "unsafe": False,
            "engine": f"Docker {self._engine} at {self._client.api.base_url}",
            "image": self._image.tag,
            "image_source": self._image.source,
            "network": "none",
            "user": "per-run slot uid (non-root)" if os.geteuid() == 0 else f"the engine's uid {os.getuid()}",
            "capabilities": "all dropped",
            "limits": f"cgroup memory (no swap), {self._cpus:g} CPU (nano_cpus), pids cgroup; rlimits "
            "cpu, fsize, nofile, core=0",
            **self._observed,
            "pid_namespace": True,  # docker's own; the probe's test (candidate is pid 2) fits the process backend
            "env_scrubbed": True,
            "fd_bridge": "unix sockets, relayed by the engine",
            "kill_tree": "container kill (pid namespace)",
        }

    def _run(
        self,
        argv: list[str],
        workdir: Path,
        readonly: list[Path],
        limits: Limits,
        env: Mapping[str, str] | None,
        pass_fds: Sequence[int],
        uid: int,
        folder: Path,
        hidden: Sequence[Path] = (),
    ) -> Outcome:
        result_fd = max([2, *pass_fds]) + 1
        bridge = Bridge(folder, uid if os.geteuid() == 0 else None)
        try:
            channels = _open_channels(bridge, result_fd, limits)
            for fd in pass_fds:
                bridge.relay(fd)
            targets = ",".join(map(str, [1, 2, result_fd, *pass_fds]))
            syscalls = syscall_filter.build(limits.allowed_syscalls).code.hex()
            shim = [self._image.python, "-I", "-S", "-c", _SHIM, BRIDGE_MOUNT, WORK_SOURCE, targets, syscalls]
            container = self._client.containers.create(
                self._image.tag,
                entrypoint=[*shim, *self._candidate_argv(argv)],
                environment=minimal_env(workdir, result_fd, env),
                working_dir=str(workdir),
                user=f"{uid}:{uid}",
                mounts=self._mounts(workdir, readonly, folder),
                tmpfs={"/tmp": f"rw,nosuid,nodev,size={limits.memory_mb}m,mode=1777",
                       str(workdir): f"rw,nosuid,nodev,size={limits.memory_mb}m,mode=700,uid={uid},gid={uid}",
                       **{str(p): "ro,size=1m,mode=755" for p in hidden}},
                **_confinement(limits, self._cpus, result_fd),
            )
            try:
                return self._execute(container, channels, limits)
            finally:
                with contextlib.suppress(docker.errors.NotFound):
                    container.remove(force=True)
        finally:
            bridge.close()

    def _execute(self, container: Container, ch: _Channels, limits: Limits) -> Outcome:
        container.start()
        start = (
            time.monotonic()
        )  # the wall limit is the candidate's: docker's own set-up is not charged to it
        timed_out = not _wait(container, limits.wall_s)
        if timed_out:
            with contextlib.suppress(docker.errors.APIError):  # it may have exited just now; remove() forces
                container.kill()
            _wait(container, _KILL_GRACE_S)
        wall_s = time.monotonic() - start
        join_drains(ch.drains)
        container.reload()
        state = container.attrs["State"]
        if not ch.status.head() and not timed_out and not state["OOMKilled"]:
            _raise_if_shim_failed(container)
        outcome = ch.sinks.outcome(Exit(*_exit(ch.status.head(), state["ExitCode"])), timed_out, wall_s, limits)
        if not timed_out:  # the limits here are cgroups: name them so
            found = outcome.violation
            outcome.violation = MEMORY if state["OOMKilled"] else _RELABEL.get(found, found)
        return outcome

    def _candidate_argv(self, argv: list[str]) -> list[str]:
        """An image with its own Python runs what the caller meant by this engine's interpreter."""
        own = (sys.executable, os.path.realpath(sys.executable))
        if argv and self._image.python != sys.executable and argv[0] in own:
            return [self._image.python, *argv[1:]]
        return list(argv)

    def _mounts(self, workdir: Path, readonly: list[Path], folder: Path) -> list[Mount]:
        """Bind mounts at the hosts' own paths (the bridge at a fixed one); the first claim on a target wins."""
        # read-only still lets the shim connect (connect() needs only the socket's own write permission)
        wanted = [(Path(WORK_SOURCE), workdir, True), (Path(BRIDGE_MOUNT), folder, True)]
        wanted += [(p, p, True) for p in [*readonly, *self._image.mounts]]
        mounts: dict[Path, Mount] = {}
        for target, source, read_only in wanted:
            mounts.setdefault(target, Mount(str(target), str(source), type="bind", read_only=read_only))
        return list(mounts.values())


def _confinement(limits: Limits, cpus: float, highest_fd: int = 2) -> dict[str, object]:
    """Everything about a container that does not depend on the run's paths. The fd limit leaves room for the
    caller's fd numbers (pass_fds keep their numbers, which may lie above ``open_files``)."""
    cpu = max(1, math.ceil(limits.cpu_s))
    return {
        "name": f"evolve-sandbox-{uuid.uuid4().hex[:12]}",
        "labels": {LABEL: "docker"},
        "hostname": "sandbox",
        "network_mode": "none",
        "ipc_mode": "private",
        "read_only": True,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "mem_limit": limits.memory_mb * _MB,
        "memswap_limit": limits.memory_mb * _MB,
        "nano_cpus": int(cpus * 1e9),
        "pids_limit": limits.max_processes + 1,  # + the shim
        "ulimits": [
            Ulimit(name="cpu", soft=cpu, hard=cpu + 1),
            Ulimit(name="fsize", soft=limits.file_size_mb * _MB, hard=limits.file_size_mb * _MB),
            Ulimit(name="nofile", soft=max(limits.open_files, highest_fd + 16),
                   hard=max(limits.open_files, highest_fd + 16)),
            Ulimit(name="core", soft=0, hard=0),
        ],
        # only the shim's own errors land here (the candidate's output goes through the bridge): keep it small
        "log_config": LogConfig(type="json-file", config={"max-size": "64k", "max-file": "1"}),
    }


def _open_channels(bridge: Bridge, result_fd: int, limits: Limits) -> _Channels:
    sinks, status = Sinks(limits), BoundedSink(docker_shim.STATUS.size, 0)
    drains = [
        bridge.collect("1", sinks.stdout),
        bridge.collect("2", sinks.stderr),
        bridge.collect(str(result_fd), sinks.result),
        bridge.collect("status", status),
    ]
    return _Channels(sinks, status, drains)


def _wait(container: Container, timeout_s: float) -> bool:
    """Whether the container exited within ``timeout_s``."""
    try:
        container.wait(timeout=max(0.001, timeout_s))
        return True
    except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
        return False


def _exit(status: bytes, container_exit: int) -> tuple[int, float, float]:
    """(returncode, cpu_s, peak_mem_mb) from the shim's report, else from the container's exit code alone."""
    if len(status) == docker_shim.STATUS.size:
        wait_status, cpu_s, maxrss_kb = docker_shim.STATUS.unpack(status)
        return os.waitstatus_to_exitcode(wait_status), cpu_s, maxrss_kb / 1024
    return (128 - container_exit if container_exit > 128 else container_exit), 0.0, 0.0


def _raise_if_shim_failed(container: Container) -> None:
    """The shim died before reporting and said why: an engine-side fault, not the candidate's outcome."""
    logs = container.logs(stdout=True, stderr=True).decode(errors="replace").strip()
    if logs:
        raise RuntimeError(f"docker sandbox: the container's shim failed: {logs[-2000:]}")
