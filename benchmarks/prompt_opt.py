"""Prompt optimization on the shipped prompt tasks: seed prompt vs best prompt on the held-out test split.

For each task and each of several seeds, one full `evolve run` (fresh SQLite store, so every figure is that
run's own): the optimizer model writes prompts, the task model answers the dev split during evolution, and the
seed and the best prompt are scored once on the test split at the end. Reported per task: test accuracy of the
seed and of the best prompt (mean, standard deviation and range over the seeds), the best's dev accuracy,
task-model calls made, calls saved (answers served from the cache, and dev examples the minibatch cascade
skipped), optimizer proposals and wall time.

Run: python benchmarks/prompt_opt.py [--iterations 8] [--seeds 0 1 2] [--tasks prompt_sentiment ...]
     [--model local] [--task-model local]   # any spec, e.g. 'openai:qwen2.5:7b@http://127.0.0.1:11434/v1'
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evolve.runner import new_run, settings_from_cli  # noqa: E402

TASKS = ("prompt_sentiment", "prompt_web_of_lies", "prompt_arithmetic")


def one_run(task: str, seed: int, iterations: int, model: str, task_model: str) -> dict[str, Any]:
    """One run in a fresh store; its figures."""
    with tempfile.TemporaryDirectory() as tmp:
        overrides = settings_from_cli([model], task_model, iterations=iterations, seed=seed, llm_concurrency=1,
                                      eval_concurrency=1)
        prepared = new_run(task, f"sqlite:///{tmp}/bench.db", overrides)
        start = time.perf_counter()
        reason = asyncio.run(prepared.controller.run())
        wall = time.perf_counter() - start
        stats = prepared.controller.stats
        scores = {(s.role, s.split): s.score for s in stats.split_scores}
        kids = [c for c in prepared.store.iter_candidates(prepared.run_id) if c.edit_kind != "seed"]
        prepared.store.close()
    return {
        "task": task, "seed": seed, "stop": reason, "wall_s": wall,
        "seed_dev": scores.get(("seed", "dev")), "seed_test": scores.get(("seed", "test")),
        "best_dev": scores.get(("best", "dev")), "best_test": scores.get(("best", "test")),
        "proposals": len(kids), "llm_failures": stats.llm_failures,
        "fully_scored": sum(c.score is not None for c in kids),
        "stopped_by_cascade": sum(c.status == "ok" and c.score is None for c in kids),
        "invalid": sum(c.status == "invalid" for c in kids),
        "duplicates": sum(c.status == "rejected-duplicate" for c in kids),
        "operators_that_improved": sorted({c.edit_kind for c in kids if c.id == stats.best_id}),
        "task_calls": int(stats.spend["task_calls"]), "cache_hits": int(stats.spend["cache_hits"]),
        "skipped_by_cascade": int(stats.spend["examples_skipped"]),
    }


def spread(values: list[float]) -> str:
    """mean ± standard deviation [min-max]."""
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.3f} ± {sd:.3f} [{min(values):.3f}-{max(values):.3f}]"


def report(task: str, runs: list[dict[str, Any]]) -> None:
    done = [r for r in runs if r["best_test"] is not None]
    if not done:
        print(f"\n{task}: no run reached its held-out scoring ({[r['stop'] for r in runs]})")
        return
    calls = [r["task_calls"] for r in done]
    saved = [r["cache_hits"] + r["skipped_by_cascade"] for r in done]
    print(f"\n{task} ({len(done)} seeds)")
    print(f"  test accuracy  seed prompt {spread([r['seed_test'] for r in done])}")
    print(f"                 best prompt {spread([r['best_test'] for r in done])}")
    print(f"  dev accuracy   seed prompt {spread([r['seed_dev'] for r in done])}")
    print(f"                 best prompt {spread([r['best_dev'] for r in done])}")
    print(f"  per run: {statistics.fmean(r['proposals'] for r in done):.1f} proposals "
          f"({statistics.fmean(r['fully_scored'] for r in done):.1f} fully scored, "
          f"{statistics.fmean(r['stopped_by_cascade'] for r in done):.1f} stopped by the cascade, "
          f"{statistics.fmean(r['invalid'] for r in done):.1f} invalid, "
          f"{statistics.fmean(r['duplicates'] for r in done):.1f} duplicates), "
          f"wall {statistics.fmean(r['wall_s'] for r in done):.0f} s")
    print(f"  task-model calls per run: {statistics.fmean(calls):.0f} made, {statistics.fmean(saved):.0f} saved "
          f"({statistics.fmean(r['cache_hits'] for r in done):.0f} cache hits + "
          f"{statistics.fmean(r['skipped_by_cascade'] for r in done):.0f} dev examples skipped by the cascade): "
          f"{statistics.fmean(s / (c + s) for c, s in zip(calls, saved, strict=True)):.0%} of the calls "
          f"without them")
    print(f"  improved on the seed (dev) in {sum(r['best_dev'] > r['seed_dev'] for r in done)} of {len(done)} "
          f"runs; best from: {[r['operators_that_improved'] or ['seed'] for r in done]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--iterations", type=int, default=8)
    parser.add_argument("--model", default="local", help="optimizer model spec (writes prompts)")
    parser.add_argument("--task-model", default="local", help="task model spec (answers with them)")
    parser.add_argument("--json", type=Path, help="also write every run's figures to this file")
    args = parser.parse_args()
    start = time.perf_counter()
    every: list[dict[str, Any]] = []
    for task in args.tasks:
        runs = []
        for seed in args.seeds:
            runs.append(one_run(task, seed, args.iterations, args.model, args.task_model))
            print(json.dumps(runs[-1]), flush=True)
        report(task, runs)
        every += runs
    print(f"\ntotal wall time {time.perf_counter() - start:.0f} s (optimizer {args.model}, task model "
          f"{args.task_model}, {args.iterations} iterations per run)")
    if args.json:
        args.json.write_text(json.dumps(every, indent=1))


if __name__ == "__main__":
    main()
