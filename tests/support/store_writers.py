"""Processes that write children into one store at once, as a batch's runs do: for tests and benchmarks.

Each writer is a separate process with its own Store (its own connections), writing each child the way the
controller does (one transaction with its LLM call and evaluation) and timing every write.
"""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass

from evolve.candidate import Candidate
from evolve.store import EvaluationRecord, LLMCallRecord, Store


@dataclass(frozen=True)
class WriterJob:
    url: str
    writer: int
    run_ids: tuple[str, ...]  # children go to these runs in turn
    children: int
    start_at: float = 0.0  # time.time() to start writing at, so that writers spawned one by one start together


@dataclass(frozen=True)
class WriterResult:
    latencies: list[float]  # seconds per child's write
    started: float  # time.time() of the first write and after the last
    ended: float


def write_children(job: WriterJob) -> WriterResult:
    """Write `job.children` children, timing each write."""
    store = Store(job.url)
    latencies = []
    time.sleep(max(0.0, job.start_at - time.time()))
    started = time.time()
    try:
        for i in range(job.children):
            run_id = job.run_ids[i % len(job.run_ids)]
            cand = Candidate(run_id=run_id, source=f"def value():\n    return {job.writer * 10_000 + i}\n",
                             score=float(i), metrics={"score": float(i)}, code_hash=f"w{job.writer}-{i}",
                             edit_kind="rewrite", model="stub")
            call = LLMCallRecord(model="stub", messages=[{"role": "user", "content": "improve"}],
                                 reply=cand.source, prompt_tokens=100, completion_tokens=20)
            ev = EvaluationRecord(status="ok", stage=0, returncode=0, stdout="", stderr="", wall_s=0.01,
                                  cpu_s=0.01, peak_mem_mb=10.0)
            start = time.perf_counter()
            store.add_candidate(cand, [call], ev)
            latencies.append(time.perf_counter() - start)
    finally:
        store.close()
    return WriterResult(latencies, started, time.time())


def new_run(store: Store) -> str:
    return store.create_run(task_name="toy", task_path="/toy", kind="program", objective="score",
                            direction="maximize", config={}, environment={})


def open_store(url: str) -> int:
    """Open (and so create, if empty) the store; returns its run count."""
    store = Store(url)
    try:
        return len(store.list_runs())
    finally:
        store.close()


def open_at_once(url: str, processes: int) -> list[int]:
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        return pool.map(open_store, [url] * processes)


def run_writers(jobs: list[WriterJob]) -> list[WriterResult]:
    """Run every job in its own process at once (spawned: no connection is shared through a fork)."""
    with multiprocessing.get_context("spawn").Pool(len(jobs)) as pool:
        return pool.map(write_children, jobs)
