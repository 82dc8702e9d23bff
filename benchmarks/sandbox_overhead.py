"""What isolation costs: a bare `python -c pass` against the same run on each sandbox backend and path.

Usage: python benchmarks/sandbox_overhead.py [-n 50] [--docker-n 10] [--backend none ...]

For every backend that starts here (process = a cold, fresh interpreter per run; warm = a job forked from a
zygote inside the same isolation; docker = a container per run; with --backend none, the unsafe backend: a
job forked from a zygote with no isolation), prints
- the median wall time of `python -c pass` (and of `python -c "import numpy"`), interleaved with bare runs, as
  a ratio to the bare run;
- runs per second at concurrency 1 and 2;
- the median time of one whole evaluation of a trivial task (the candidate in a fresh sandbox, the evaluator
  in its own: a fork of a long-lived evaluator server on process and warm, a fresh run on docker; one call
  between them), the unit the evolution loop pays per candidate, and how many of them run per second two at a
  time (the most a loop at concurrency 2 could score with no model, prompt or storage at all); and the same with
  an evaluator whose import takes 250 ms (as scipy.optimize's 0.3-0.7 s does here), which an evaluator server
  pays once, not per candidate;
- on process and warm, what the job's cgroup costs (``sandbox.cgroups``): the same run with and without one,
  interleaved, and the engine's own time to create and remove a job cgroup.
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
from sandbox import Limits, cgroups, get_sandbox  # noqa: E402

PASS = [sys.executable, "-c", "pass"]
NUMPY = [sys.executable, "-c", "import numpy"]
LIMITS = Limits(wall_s=30, cpu_s=30)
TASK = {
    "task.yaml": "name: trivial\nseed: program.py\nevaluator: evaluate.py\nobjective: score\nlimits: {wall_s: 30}\n",
    "program.py": "# EVOLVE-BLOCK-START\ndef value():\n    return 1\n# EVOLVE-BLOCK-END\n",
    "evaluate.py": "def evaluate(candidate):\n    return {'score': float(candidate.call('value'))}\n",
}
SLOW_IMPORT = "import time\ntime.sleep(0.25)  # stands for heavy imports or reference data loaded at import\n"


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


def evaluation(backend: str, root: Path, prelude: str = "") -> Callable[[], float]:
    """A function that evaluates the trivial task's seed once on `backend` and returns the seconds it took
    (after one evaluation outside the timings, which starts the evaluator's server)."""
    task_dir = Path(tempfile.mkdtemp(prefix=f"task-{backend}-", dir=root))
    task_dir.chmod(0o755)  # readable by the sandbox's uid, like an installed task
    for name, text in TASK.items():
        (task_dir / name).write_text(prelude + text if name == "evaluate.py" else text)
    task = load_task(task_dir)
    evaluator = ProgramEvaluator.for_task(task, get_sandbox(backend))

    def one() -> float:
        start = time.perf_counter()
        result = evaluator.evaluate(task.seed_source)
        assert result.status == "ok", result.reason
        return time.perf_counter() - start

    one()
    return one


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
    one = evaluation(backend, root)
    print(f"one evaluation (candidate + evaluator sandboxes, one call): median {median_ms(one, n):.1f} ms; "
          f"evaluations/s at concurrency 2: {rate(one, 2 * n, 2):.1f}")
    slow = median_ms(evaluation(backend, root, SLOW_IMPORT), max(3, n // 5))
    print(f"the same, the evaluator's import taking 250 ms: median {slow:.1f} ms")


def cgroup_cost(backend: str, root: Path, n: int) -> None:
    """`python -c pass` on `backend` with a job cgroup and without one (as on a machine where none can be used),
    interleaved; and the create-and-remove time of a job cgroup alone."""
    used = cgroups.hierarchies()
    if used is None:
        print(f"job cgroup: none here ({cgroups.describe()})")
        return
    with_cgroup = cgroups._selected
    without = (None, "switched off to measure what a job cgroup costs")

    def run_with(selected: tuple) -> float:
        cgroups._selected = selected
        try:
            return boxed(backend, PASS, root)
        finally:
            cgroups._selected = with_cgroup

    pairs = [(run_with(without), run_with(with_cgroup)) for _ in range(n)]
    off, on = (statistics.median(x) * 1e3 for x in zip(*pairs))

    def create_remove() -> float:
        start = time.perf_counter()
        with cgroups.job(LIMITS):
            pass
        return time.perf_counter() - start

    print(f"job cgroup ({used.label}): python -c pass {off:.2f} ms without, {on:.2f} ms with "
          f"(+{on - off:.2f} ms, {on / off:.2f}x); create + remove alone {median_ms(create_remove, n):.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=50, help="runs per measurement (default 50)")
    parser.add_argument("--docker-n", type=int, default=10, help="runs per docker measurement (0 skips docker)")
    parser.add_argument("--backend", action="append", choices=("process", "warm", "none"),
                        help="measure only these backends besides docker (repeatable; default: process and warm)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="evolve-bench-") as tmp:
        root = Path(tmp)
        for backend in args.backend or ("process", "warm"):
            report(backend, root, args.n)
            if backend != "none":
                cgroup_cost(backend, root, args.n)
        if args.docker_n:
            report("docker", root, args.docker_n)


if __name__ == "__main__":
    main()
