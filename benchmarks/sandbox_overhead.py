"""What isolation costs: a bare `python -c pass` against the same run in the process sandbox.

Usage: python benchmarks/sandbox_overhead.py [-n 50] [--docker-n 10]
Prints median wall times, their ratio, and evaluations per second (sandboxed and bare) at concurrency 1 and 2,
then the same median for the docker backend (a container per run) when a Docker engine is reachable.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox import Limits, get_sandbox  # noqa: E402

ARGV = [sys.executable, "-c", "pass"]
LIMITS = Limits(wall_s=30, cpu_s=30)


def bare(_: Path | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(ARGV, check=True)
    return time.perf_counter() - start


def sandboxed(workdir: Path, backend: str = "process") -> float:
    start = time.perf_counter()
    outcome = get_sandbox(backend).run(ARGV, workdir, LIMITS)
    assert outcome.returncode == 0, outcome.stderr
    return time.perf_counter() - start


def throughput(run: Callable[[Path], float], root: Path, n: int, workers: int) -> float:
    dirs = [Path(tempfile.mkdtemp(dir=root)) for _ in range(n)]
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(run, dirs))
    return n / (time.perf_counter() - start)


def docker_row(root: Path, n: int) -> None:
    """Median of ``n`` docker runs against bare runs interleaved with them, or why there is no engine."""
    try:
        image = get_sandbox("docker").describe()["image"]  # builds the image and probes, outside the timings
    except RuntimeError as exc:
        print(f"docker: skipped ({exc})")
        return
    bare_times, docker_times = [], []
    for _ in range(n):
        bare_times.append(bare())
        docker_times.append(sandboxed(Path(tempfile.mkdtemp(dir=root)), "docker"))
    bare_ms, docker_ms = statistics.median(bare_times) * 1e3, statistics.median(docker_times) * 1e3
    print(f"docker python -c pass:    median {docker_ms:7.2f} ms  (n={n}, image {image})")
    print(f"docker overhead: {docker_ms - bare_ms:+.2f} ms, ratio {docker_ms / bare_ms:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=50, help="runs per measurement (default 50)")
    parser.add_argument("--docker-n", type=int, default=10, help="docker runs (default 10; 0 skips them)")
    args = parser.parse_args()
    n = args.n
    print(f"sandbox: {get_sandbox('process').describe()['mode']}")  # probes once, outside the timings
    with tempfile.TemporaryDirectory(prefix="evolve-bench-") as tmp:
        root = Path(tmp)
        bare_times, boxed_times = [], []
        for _ in range(n):  # interleaved, so drift in machine load hits both alike
            bare_times.append(bare())
            boxed_times.append(sandboxed(Path(tempfile.mkdtemp(dir=root))))
        bare_ms, boxed_ms = statistics.median(bare_times) * 1e3, statistics.median(boxed_times) * 1e3
        print(f"bare python -c pass:      median {bare_ms:7.2f} ms  (n={n})")
        print(f"sandboxed python -c pass: median {boxed_ms:7.2f} ms  (n={n})")
        print(f"overhead: {boxed_ms - bare_ms:+.2f} ms, ratio {boxed_ms / bare_ms:.2f}x")
        for workers in (1, 2):
            boxed, plain = throughput(sandboxed, root, n, workers), throughput(bare, root, n, workers)
            print(f"evaluations/s at concurrency {workers}: sandboxed {boxed:6.1f}, bare {plain:6.1f}")
        if args.docker_n:
            docker_row(root, args.docker_n)


if __name__ == "__main__":
    main()
