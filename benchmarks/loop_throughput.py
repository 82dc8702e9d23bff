"""Throughput of the whole loop against its limit, and archive cost at scale.

1. The loop: an instant scripted provider (ScriptedProvider) and a trivial evaluator, real sandbox, real SQLite
   file, at concurrency 2. Its rate is printed beside the rate of bare sandboxed `python -c pass` runs at the same
   concurrency (the most any sandboxed loop could do here), as a ratio.
2. The archive: time per insert+sample with 100k candidates stored (target below 100 microseconds).

Run: python benchmarks/loop_throughput.py [--iterations 100] [--concurrency 2] [--loop-only none]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evolve.archive import Archive  # noqa: E402
from evolve.candidate import Candidate  # noqa: E402
from evolve.features import FeatureDim  # noqa: E402
from evolve.llm import LLMEnsemble, ScriptedProvider  # noqa: E402
from evolve.runner import new_run  # noqa: E402
from sandbox import Limits, get_sandbox  # noqa: E402

TASK = {
    "task.yaml": "name: trivial\nseed: program.py\nevaluator: evaluate.py\nobjective: score\n"
                 "features: [{name: code_length, bins: 10}]\nlimits: {wall_s: 10}\n",
    "program.py": "# EVOLVE-BLOCK-START\ndef value():\n    return 0\n# EVOLVE-BLOCK-END\n",
    # the candidate runs in its own sandbox and answers one call (the default `call` interface)
    "evaluate.py": "def evaluate(candidate):\n    return {'score': float(candidate.call('value'))}\n",
}


def sandbox_limit_rate(n: int, concurrency: int, backend: str) -> float:
    """Sandboxed `python -c pass` runs per second at `concurrency` on `backend`."""
    sandbox = get_sandbox(backend)

    def one(_: int) -> None:
        with tempfile.TemporaryDirectory() as work:
            out = sandbox.run([sys.executable, "-c", "pass"], Path(work), Limits(wall_s=10))
            assert out.returncode == 0, out.stderr

    one(0)  # warm caches
    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(n)))
    return n / (time.perf_counter() - start)


def loop_rate(iterations: int, concurrency: int, sandbox: str = "auto") -> float:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "trivial"
        root.mkdir()
        for name, text in TASK.items():
            (root / name).write_text(text)
        provider = ScriptedProvider(lambda messages, i: f"```python\ndef value():\n    return {i + 1}\n```")
        prepared = new_run(root, f"sqlite:///{tmp}/bench.db",
                           {"iterations": iterations, "llm_concurrency": concurrency,
                            "eval_concurrency": concurrency, "islands": 2, "sandbox": sandbox},
                           ensemble=LLMEnsemble([(provider, 1.0)]))
        asyncio.run(prepared.controller.run())
        stats = prepared.controller.stats
        assert stats.by_status["ok"] == iterations + 1, stats.by_status
        return stats.rate


def archive_cost(stored: int, probes: int = 20000) -> float:
    """Mean microseconds per insert+sample once `stored` candidates have gone through the archive."""
    dims = [FeatureDim("code_length", 10, 0, 1000), FeatureDim("edit_distance", 10, 0, 1)]
    archive = Archive(dims, islands=4, migration_interval=50)
    rng = random.Random(0)

    def make(i: int) -> Candidate:
        return Candidate(run_id="r", source="", id=f"{i:012d}", island=i % 4, score=rng.random(),
                         features={"code_length": rng.uniform(0, 1000), "edit_distance": rng.random()})

    for i in range(stored):
        archive.tell(make(i))
    batch = [make(stored + i) for i in range(probes)]
    start = time.perf_counter()
    for cand in batch:
        archive.tell(cand)
        archive.sample(cand.island, rng)
    return (time.perf_counter() - start) / probes * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--loop-only", metavar="SANDBOX",
                        help="only the whole loop's rate on this backend (e.g. none), median of 3")
    args = parser.parse_args()
    if args.loop_only:
        rates = [loop_rate(args.iterations, args.concurrency, args.loop_only) for _ in range(3)]
        print(f"whole loop on {args.loop_only} at concurrency {args.concurrency} ({args.iterations} children): "
              f"{statistics.median(rates):.1f} candidates/s (runs {', '.join(f'{r:.1f}' for r in rates)})")
        return
    auto = get_sandbox("auto")
    print(f"sandbox used by the loop: {auto.name} ({auto.describe()['mode']})")
    cold = sandbox_limit_rate(args.iterations, args.concurrency, "process")
    warm = sandbox_limit_rate(args.iterations, args.concurrency, auto.name) if auto.name != "process" else cold
    rates = [loop_rate(args.iterations, args.concurrency) for _ in range(2)]
    loop = statistics.median(rates)
    print(f"cold sandboxed `python -c pass` (process backend) at concurrency {args.concurrency}: {cold:.1f} runs/s "
          "(the limit)")
    print(f"the same on the {auto.name} backend: {warm:.1f} runs/s")
    print(f"whole loop at concurrency {args.concurrency} ({args.iterations} children, each evaluated in two "
          f"sandboxes: candidate and evaluator): {loop:.1f} candidates/s")
    print(f"loop / cold limit: {loop / cold:.2f} (target >= 0.70); loop / {auto.name} runs: {loop / warm:.2f}")
    print(f"archive insert+sample at 100k stored: {archive_cost(100_000):.1f} us per candidate (target < 100)")


if __name__ == "__main__":
    main()
