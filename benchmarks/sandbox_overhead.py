"""What isolation costs: a bare `python -c pass` against the same run on each sandbox backend and path.

Usage: python benchmarks/sandbox_overhead.py [-n 50] [--docker-n 10]

For every backend that starts here (process = a cold, fresh interpreter per run; warm = a job forked from a
zygote inside the same isolation; docker = a container per run), prints
- the median wall time of `python -c pass` (and of `python -c "import numpy"`), interleaved with bare runs, as
  a ratio to the bare run;
- runs per second at concurrency 1 and 2;
- the median time of one whole evaluation of a trivial task (candidate and evaluator each in their own
  sandbox, one call between them), the unit the evolution loop pays per candidate.
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

from evaluators.program import ProgramEvaluator  # noqa: E402
from evolve.task import load_task  # noqa: E402
from sandbox import Limits, get_sandbox  # noqa: E402

PASS = [sys.executable, "-c", "pass"]
NUMPY = [sys.executable, "-c", "import numpy"]
LIMITS = Limits(wall_s=30, cpu_s=30)
TASK = {
    "task.yaml": "name: trivial\nseed: program.py\nevaluator: evaluate.py\nobjective: score\nlimits: {wall_s: 30}\n",
    "program.py": "# EVOLVE-BLOCK-START\ndef value():\n    return 1\n# EVOLVE-BLOCK-END\n",
    "evaluate.py": "def evaluate(candidate):\n    return {'score': float(candidate.call('value'))}\n",
}


def bare(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True)
    return time.perf_counter() - start


def boxed(backend: str, argv: list[str], root: Path) -> float:
    workdir = Path(tempfile.mkdtemp(dir=root))
    start = time.perf_counter()
    outcome = get_sandbox(backend).run(argv, workdir, LIMITS)
    elapsed = time.perf_counter() - start
    assert outcome.returncode == 0, outcome.stderr
    return elapsed


def median_ms(fn: Callable[[], float], n: int) -> float:
    return statistics.median(fn() for _ in range(n)) * 1e3


def rate(fn: Callable[[], float], n: int, workers: int) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda _: fn(), range(n)))
    return n / (time.perf_counter() - start)


def evaluation_ms(backend: str, root: Path, n: int) -> float:
    task_dir = root / f"task-{backend}"
    task_dir.mkdir()
    for name, text in TASK.items():
        (task_dir / name).write_text(text)
    task = load_task(task_dir)
    evaluator = ProgramEvaluator.for_task(task, get_sandbox(backend))

    def one() -> float:
        start = time.perf_counter()
        result = evaluator.evaluate(task.seed_source)
        assert result.status == "ok", result.reason
        return time.perf_counter() - start

    one()
    return median_ms(one, n)


def report(backend: str, root: Path, n: int) -> None:
    try:
        info = get_sandbox(backend).describe()  # starts, builds and probes outside the timings
    except RuntimeError as exc:
        print(f"{backend}: skipped ({exc})")
        return
    print(f"\n== {backend}: {info.get('mode') or info.get('image')}")
    for label, argv in (("python -c pass", PASS), ("python -c 'import numpy'", NUMPY)):
        pairs = [(bare(argv), boxed(backend, argv, root)) for _ in range(n)]  # interleaved: drift hits both
        plain, sandboxed = (statistics.median(x) * 1e3 for x in zip(*pairs))
        print(f"{label:26s} bare {plain:7.2f} ms  sandboxed {sandboxed:7.2f} ms  ratio {sandboxed / plain:5.2f}x")
    for workers in (1, 2):
        print(f"runs/s at concurrency {workers}: sandboxed {rate(lambda: boxed(backend, PASS, root), n, workers):6.1f}"
              f", bare {rate(lambda: bare(PASS), n, workers):6.1f}")
    print(f"one evaluation (candidate + evaluator sandboxes, one call): median {evaluation_ms(backend, root, n):.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=50, help="runs per measurement (default 50)")
    parser.add_argument("--docker-n", type=int, default=10, help="runs per docker measurement (0 skips docker)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="evolve-bench-") as tmp:
        root = Path(tmp)
        for backend in ("process", "warm"):
            report(backend, root, args.n)
        if args.docker_n:
            report("docker", root, args.docker_n)


if __name__ == "__main__":
    main()
