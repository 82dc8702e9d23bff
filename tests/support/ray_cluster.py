"""A real Ray cluster on this machine for the Ray executor's tests and benchmark: a head and worker nodes.

Each node is a `ray start` of its own (as on a real cluster: the head, then `ray start --address HEAD` per
machine), advertised on 127.0.0.1 with one CPU and the smallest object store Ray accepts, no dashboard and no
usage reporting, in a temporary folder of its own. Every node runs in its own process group, so the cluster is
stopped by signalling exactly those groups: never `ray stop`, which would stop every Ray process on the machine.
The nodes inherit this process's environment (PYTHONPATH included), so their workers import the same Evolve.

Ray (2.x on Linux) would replace 127.0.0.1 with the machine's own address; tests/support/ray_loopback.py keeps
every node, its workers and this test process on the loopback.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.ports import free_port
from tests.support.ray_loopback import keep_on_loopback

_OBJECT_STORE_BYTES = 80 * 1024 * 1024  # Ray's minimum is 75 MiB
_START_TIMEOUT_S = 180
_REPO = Path(__file__).resolve().parents[2]  # workers import this checkout's Evolve and tests.support


class RayCluster:
    """A head node and the worker nodes added to it; `address` is what ray.init / RayExecutor take."""

    def __init__(self) -> None:
        keep_on_loopback()  # this process connects to the cluster too (the executor under test, the fixtures)
        self.root = Path(tempfile.mkdtemp(prefix="evray-"))  # short: Ray's socket paths live under it
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self._groups: list[int] = []
        self.env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_DISABLE_DOCKER_CPU_WARNING": "1",
                    "PYTHONPATH": os.pathsep.join(p for p in [str(_REPO), os.environ.get("PYTHONPATH", "")] if p)}

    def start_head(self, num_cpus: int = 1) -> None:
        self._start(["--head", "--port", str(self.port), "--temp-dir", str(self.root),
                     "--include-dashboard", "false"], num_cpus)

    def add_worker_node(self, num_cpus: int = 1) -> None:
        """Another node (raylet) joining the head: a second machine's worth of workers, on 127.0.0.1."""
        self._start(["--address", self.address], num_cpus)
        self.wait_for_nodes(len(self._groups))

    def wait_for_nodes(self, count: int) -> None:
        import ray

        deadline = time.monotonic() + _START_TIMEOUT_S
        with _connected(self.address):
            while time.monotonic() < deadline:
                if sum(1 for n in ray.nodes() if n["Alive"]) >= count:
                    return
                time.sleep(0.5)
        raise RuntimeError(f"the Ray cluster at {self.address} did not reach {count} nodes")

    def stop(self) -> None:
        for sig, wait_s in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            for group in self._groups:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(group, sig)
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline and any(_group_alive(g) for g in self._groups):
                time.sleep(0.2)
        shutil.rmtree(self.root, ignore_errors=True)

    def _start(self, args: list[str], num_cpus: int) -> None:
        argv = [sys.executable, "-m", "tests.support.ray_loopback", "start", *args, "--node-ip-address", "127.0.0.1",
                "--num-cpus", str(num_cpus), "--num-gpus", "0", "--object-store-memory", str(_OBJECT_STORE_BYTES),
                "--disable-usage-stats"]
        proc = subprocess.Popen(argv, env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self._groups.append(proc.pid)  # its daemons stay in the group after `ray start` returns
        out, _ = proc.communicate(timeout=_START_TIMEOUT_S)
        if proc.returncode != 0:
            raise RuntimeError(f"`ray start {' '.join(args)}` failed ({proc.returncode}): "
                               + " | ".join(out.strip().splitlines()[-15:]))


@contextlib.contextmanager
def running_cluster(worker_nodes: int = 1) -> Iterator[RayCluster]:
    """A head with one CPU plus `worker_nodes` nodes of one CPU each; stopped and deleted afterwards."""
    cluster = RayCluster()
    try:
        cluster.start_head()
        for _ in range(worker_nodes):
            cluster.add_worker_node()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[RayCluster]:
    """A two-node Ray cluster (head + one worker node, one CPU each) for the whole test session."""
    with running_cluster(worker_nodes=1) as cluster:
        yield cluster


@contextlib.contextmanager
def _connected(address: str) -> Iterator[None]:
    import ray

    ray.init(address=address, log_to_driver=False, logging_level="WARNING")
    try:
        yield
    finally:
        ray.shutdown()


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
