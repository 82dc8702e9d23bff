"""What each built-in program task costs to evaluate, and how many evaluations functional hashing saves.

Usage: python benchmarks/evaluator_cost.py [-n 20] [--sandboxed-n 5] [--hash-task bin_packing]
                                           [--iterations 100] [--model local]

1. Per task: the seed's score, the best known value, the median wall time of the task's evaluator on the seed
   in-process (the evaluator's own logic and the candidate's work, through the same value codec as the sandbox)
   and of one whole sandboxed evaluation (candidate and evaluator each in their own sandbox).
2. A run of --iterations children on --hash-task with --model (default: the embedded model): how many children
   were functional twins of an earlier candidate (same answers on the task's probes), i.e. evaluations saved.
   `--iterations 0` skips it (the embedded model writes ~1 child per 30-60 s on 2 cores).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evaluators.candidate_channel import InProcessCandidate  # noqa: E402
from evaluators.program import ProgramEvaluator  # noqa: E402
from evolve.resources import builtin_task_dirs  # noqa: E402
from evolve.runner import new_run, settings_from_cli  # noqa: E402
from evolve.task import load_task  # noqa: E402
from sandbox import get_sandbox  # noqa: E402
from tests.support.tasks import load_evaluator  # noqa: E402


def median_ms(fn, n: int) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def task_table(n: int, sandboxed_n: int) -> None:
    sandbox = get_sandbox("auto")
    print(f"{'task':22s} {'objective':24s} {'dir':4s} {'seed':>12s} {'best known':>12s} "
          f"{'in-process':>11s} {'sandboxed':>10s}  best known by")
    for name, path in sorted(builtin_task_dirs().items()):
        task = load_task(path)
        spec = task.spec
        if spec.kind != "program" or spec.interface != "call":
            continue
        module = load_evaluator(path)

        def in_process() -> dict:
            return module.evaluate(InProcessCandidate(task.seed_source, task_dir=path))

        seed = in_process()[spec.objective]
        local_ms = median_ms(in_process, n)
        evaluator = ProgramEvaluator.for_task(task, sandbox)
        evaluator.evaluate(task.seed_source)  # starts the warm zygotes outside the timing
        boxed_ms = median_ms(lambda: evaluator.evaluate(task.seed_source), sandboxed_n)
        best = "" if spec.best_known is None else f"{spec.best_known:.6g}"
        print(f"{name:22s} {spec.objective:24s} {spec.direction[:3]:4s} {seed:12.6g} {best:>12s} "
              f"{local_ms:9.1f}ms {boxed_ms:8.1f}ms  {spec.best_known_by}")
    print(f"(in-process: median of {n}; sandboxed: median of {sandboxed_n} on the {sandbox.name} backend)")


def hashing_run(task: str, iterations: int, model: str) -> None:
    with tempfile.TemporaryDirectory(prefix="evolve-hash-") as tmp:
        prepared = new_run(task, f"sqlite:///{tmp}/bench.db",
                           settings_from_cli([model], iterations=iterations, seed=0))
        start = time.perf_counter()
        asyncio.run(prepared.controller.run())
        stats = prepared.controller.stats
        elapsed = time.perf_counter() - start
    behaved = sum(1 for c in prepared.store.iter_candidates(prepared.run_id) if c.behaviour_hash)
    print(f"\nfunctional hashing on {task} with {model}: {stats.completed} children in {elapsed:.0f} s, "
          f"by status {dict(stats.by_status)}")
    print(f"children that reached the probes: {behaved}; functional twins (evaluations saved): {stats.twins} "
          f"= {stats.twins / max(1, stats.completed):.1%} of children, {stats.twins / max(1, behaved):.1%} of "
          "those probed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=20, help="in-process evaluations per task (median)")
    parser.add_argument("--sandboxed-n", type=int, default=5, help="sandboxed evaluations per task (median)")
    parser.add_argument("--hash-task", default="bin_packing", help="task of the functional-hashing run")
    parser.add_argument("--iterations", type=int, default=100, help="children in that run (0 skips it)")
    parser.add_argument("--model", default="local", help="model spec for that run (default: embedded model)")
    args = parser.parse_args()
    task_table(args.n, args.sandboxed_n)
    if args.iterations:
        hashing_run(args.hash_task, args.iterations, args.model)


if __name__ == "__main__":
    main()
