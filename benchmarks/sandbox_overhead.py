"""What isolation costs: a bare `python -c pass` against the same run in the process sandbox.

Usage: python benchmarks/sandbox_overhead.py [-n 50]
Prints median wall times, their ratio, and evaluations per second (sandboxed and bare) at concurrency 1 and 2.
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


def sandboxed(workdir: Path) -> float:
    start = time.perf_counter()
    outcome = get_sandbox("process").run(ARGV, workdir, LIMITS)
    assert outcome.returncode == 0, outcome.stderr
    return time.perf_counter() - start


def throughput(run: Callable[[Path], float], root: Path, n: int, workers: int) -> float:
    dirs = [Path(tempfile.mkdtemp(dir=root)) for _ in range(n)]
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(run, dirs))
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=50, help="runs per measurement (default 50)")
    n = parser.parse_args().n
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


if __name__ == "__main__":
    main()
