"""A batch on a Ray cluster vs the same jobs run locally, with 1 and 2 workers.

The same sweep each time: RUNS stored runs of the toy task (created `pending`, as a batch creates them), ITER
children each, against an instant OpenAI-compatible stub on 127.0.0.1 (tests/support/chat_server.py), in one
SQLite store. Locally, W spawned processes execute the jobs (`execute_job`, what a local executor runs);
on Ray, a cluster on this machine with W one-CPU nodes (a head, then `ray start --address` nodes;
tests/support/ray_cluster.py) executes them through RayExecutor, connection to the cluster included.

Reported: total wall from dispatch to the last job's end, and start-up per run: from dispatch to the run's seed
being stored, over the first wave (the W runs placed at once; later runs also wait for a free worker). The
cluster's own start is reported apart: a batch pays it once, or never on a cluster that is already up.

    python benchmarks/ray_scale.py                    # 4 runs x 5 children, W = 1 and 2
    python benchmarks/ray_scale.py --runs 8 --iterations 10
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evolve.batch.executors.ray import RayExecutor  # noqa: E402
from evolve.batch.job import RunJob, execute_job  # noqa: E402
from evolve.store import Store  # noqa: E402
from tests.conftest import make_toy_task  # noqa: E402
from tests.support.chat_server import ChatServer  # noqa: E402
from tests.support.pending_runs import create_pending_runs, toy_reply  # noqa: E402
from tests.support.ray_cluster import RayCluster  # noqa: E402


def run_local(jobs: list[RunJob], workers: int) -> None:
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        outcomes = pool.map(execute_job, jobs, chunksize=1)
    assert all(o.status == "finished" for o in outcomes), outcomes


def run_ray(jobs: list[RunJob], address: str) -> None:
    outcomes = []
    RayExecutor(address, poll_s=0.1).run(jobs, outcomes.append, lambda: False)
    assert len(outcomes) == len(jobs) and all(o.status == "finished" for o in outcomes), outcomes


def measure(execute, storage: str, task: Path, url: str, runs: int, iterations: int, workers: int) -> dict:
    run_ids = create_pending_runs(storage, task, url, runs, iterations)
    jobs = [RunJob(r, storage) for r in run_ids]
    start = time.time()
    execute(jobs, workers)
    wall = time.time() - start
    store = Store(storage)
    seeds = sorted(min(c.created_at for c in store.iter_candidates(r)) - start for r in run_ids)
    assert all(store.count_candidates(r, children_only=True) == iterations for r in run_ids)
    store.close()
    first_wave = seeds[:workers]
    return {"wall_s": wall, "startup_median_s": statistics.median(first_wave), "startup_max_s": max(first_wave)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--iterations", type=int, default=5)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp, ChatServer(replies=toy_reply) as srv:
        task = make_toy_task(Path(tmp) / "toy")
        storage = f"sqlite:///{tmp}/evolve.db"
        for workers in (1, 2):
            rows.append(("local", workers, measure(lambda jobs, w: run_local(jobs, w), storage, task,
                                                   srv.openai_base_url, args.runs, args.iterations, workers)))
        cluster = RayCluster()
        try:
            began = time.time()
            cluster.start_head()
            cluster.wait_for_nodes(1)
            print(f"Ray head started in {time.time() - began:.1f} s")
            for workers in (1, 2):
                if workers == 2:
                    began = time.time()
                    cluster.add_worker_node()
                    print(f"second Ray node joined in {time.time() - began:.1f} s")
                rows.append(("ray", workers, measure(lambda jobs, w: run_ray(jobs, cluster.address), storage, task,
                                                     srv.openai_base_url, args.runs, args.iterations, workers)))
        finally:
            cluster.stop()
    print(f"{args.runs} runs x {args.iterations} children")
    print(f"{'executor':<9} {'workers':>7} {'wall s':>7} {'start-up s (median, max)':>26}")
    for name, workers, f in rows:
        print(f"{name:<9} {workers:>7} {f['wall_s']:>7.1f} {f['startup_median_s']:>14.2f} {f['startup_max_s']:>10.2f}")


if __name__ == "__main__":
    main()
