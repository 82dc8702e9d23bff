"""Does a batch run its runs side by side? Aggregate candidates/s of a batch of 8 runs vs one run alone.

Both go through the same path a user's batch takes: a sweep expanded into stored runs, the local executor, a
worker process per run (its own event loop and sandbox zygotes), the real sandbox and one SQLite file. The model
is the instant OpenAI-compatible stub server on 127.0.0.1 (tests/support/chat_server.py; each reply a distinct
full rewrite, so every child is one model call and one sandboxed evaluation) and the task is loop_throughput's
trivial one. Each run uses llm_concurrency = eval_concurrency = 1, so one run alone keeps about one core busy
and a batch on C cores should reach C times its rate; the target is at least 0.8 x C x the single run's rate.

Two rates per measurement:
- steady: children / (last child stored - first seed stored) over the measurement's runs: the first worker's
  start-up is left out (a batch's later start-ups fall inside the span, as they do for its users);
- end to end: children / the batch's whole wall time, from its first worker's start to its last worker's end.

Run: python benchmarks/batch_scale.py [--iterations 150] [--runs 8] [--max-concurrent 0 (: default)] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from loop_throughput import TASK

from evolve.batch.driver import BatchDriver, BatchSettings, create_batch, default_max_concurrent
from evolve.batch.sweep import parse_sweep
from evolve.store import Store
from tests.support.chat_server import ChatServer


def distinct_rewrites(body: dict, index: int) -> str:
    return f"```python\ndef value():\n    return {index + 1}\n```"


def measure(task: Path, url: str, runs: int, iterations: int, max_concurrent: int, db: str) -> dict[str, float]:
    """One batch of `runs` runs, `max_concurrent` at a time (0: the batch's default)."""
    sweep = parse_sweep({
        "name": f"scale-{runs}", "tasks": [str(task)], "models": [f"openai:stub@{url}"],
        "settings": {"iterations": iterations, "llm_concurrency": 1, "eval_concurrency": 1, "islands": 2},
        "seeds": runs,
    }, task.parent / "sweep.yaml")
    store = Store(db)
    settings = BatchSettings(max_concurrent=max_concurrent or default_max_concurrent(sweep), retries=0)
    batch_id = create_batch(store, sweep, settings)
    start = time.perf_counter()
    final = BatchDriver(store, batch_id, settings).run()
    wall = time.perf_counter() - start
    assert final["status"] == "finished", final
    children, first, last = 0, float("inf"), 0.0
    for run in store.list_runs(batch_id=batch_id):
        stamps = [c.created_at for c in store.iter_candidates(run["id"])]
        children += len(stamps) - 1
        first, last = min(first, stamps[0]), max(last, stamps[-1])
    assert children == runs * iterations, children
    return {"steady": children / (last - first), "end_to_end": children / wall,
            "concurrent": settings.max_concurrent}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=150, help="children per run")
    parser.add_argument("--runs", type=int, default=8, help="runs in the batch")
    parser.add_argument("--max-concurrent", type=int, default=0, help="runs at once (0: the batch's default)")
    parser.add_argument("--repeats", type=int, default=3, help="alternating single/batch measurements (median)")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    ones, manys = [], []
    with tempfile.TemporaryDirectory() as tmp, ChatServer(replies=distinct_rewrites) as server:
        task = Path(tmp) / "trivial"
        task.mkdir()
        for name, text in TASK.items():
            (task / name).write_text(text)
        for i in range(args.repeats):  # alternating, so a change in the machine's load hits both alike
            db = f"sqlite:///{tmp}/bench-{i}.db"
            ones.append(measure(task, server.openai_base_url, 1, args.iterations, 1, db))
            manys.append(measure(task, server.openai_base_url, args.runs, args.iterations, args.max_concurrent, db))
    print(f"machine: {cores} cores usable, load average {os.getloadavg()[0]:.1f} at the end")
    for kind in ("steady", "end_to_end"):
        one = statistics.median(m[kind] for m in ones)
        many = statistics.median(m[kind] for m in manys)
        ratios = [b[kind] / a[kind] for a, b in zip(ones, manys)]
        print(f"{kind}: one run alone {one:.1f} candidates/s ({_list(ones, kind)}); batch of {args.runs} runs, "
              f"{manys[0]['concurrent']} at a time: {many:.1f} candidates/s ({_list(manys, kind)}); batch / one run: "
              f"{statistics.median(ratios):.2f} (each pair: {', '.join(f'{r:.2f}' for r in ratios)}; target >= "
              f"{0.8 * cores:.1f} = 0.8 x {cores} cores)")


def _list(measurements: list[dict[str, float]], kind: str) -> str:
    return ", ".join(f"{m[kind]:.1f}" for m in measurements)


if __name__ == "__main__":
    main()
