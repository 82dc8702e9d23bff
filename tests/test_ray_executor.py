"""The Ray executor on a real two-node Ray cluster on 127.0.0.1 (tests/support/ray_cluster.py).

Runs are created `pending` in the store, as a batch creates them; their model is a stub HTTP server in this process
that the Ray workers reach over 127.0.0.1. About a minute in all, most of it the cluster's start.
"""

import logging
import os
import signal
import threading
import time

import psutil
import pytest

from evolve.batch.executors.ray import RayExecutor
from evolve.batch.job import JobOutcome, RunJob, execute_job
from evolve.errors import EvolveError
from evolve.store import Store

try:
    from tests.conftest import make_toy_task
    from tests.support.chat_server import ChatServer
    from tests.support.pending_runs import create_pending_runs, toy_reply
except ImportError:
    from conftest import make_toy_task
    from support.chat_server import ChatServer
    from support.pending_runs import create_pending_runs, toy_reply

pytestmark = pytest.mark.slow


def _children_in_order(store: Store, run_id: str):
    kids = [c for c in store.iter_candidates(run_id) if c.edit_kind != "seed"]
    assert [c.seq for c in store.iter_candidates(run_id)] == list(range(len(kids) + 1))  # one seed, no gaps
    assert len({c.id for c in kids}) == len(kids) and len({c.source for c in kids}) == len(kids)
    return kids


def test_jobs_run_as_ray_tasks_and_finish_their_runs(ray_cluster, tmp_path, postgres_url):
    storage = postgres_url  # the store a cluster's nodes share
    with ChatServer(replies=toy_reply) as srv:
        run_ids = create_pending_runs(storage, make_toy_task(tmp_path / "toy"), srv.openai_base_url, 3, 3)
        outcomes: list[JobOutcome] = []
        RayExecutor(ray_cluster.address).run([RunJob(r, storage) for r in run_ids], outcomes.append, lambda: False)
        requests = len(srv.chat_requests)
    assert sorted(o.run_id for o in outcomes) == sorted(run_ids)
    assert {(o.status, o.reason) for o in outcomes} == {("finished", "iterations")}
    store = Store(storage)
    for run_id in run_ids:
        assert store.get_run(run_id)["status"] == "finished"
        assert len(_children_in_order(store, run_id)) == 3
    assert requests == 9
    store.close()


def test_a_job_needing_a_gpu_the_cluster_lacks_fails_at_once(ray_cluster, tmp_path):
    """Kernel runs declare num_gpus=1 (two never time on one GPU); on a cluster without one they would queue
    forever, so they are reported failed, and the other jobs still run."""
    storage = f"sqlite:///{tmp_path / 'evolve.db'}"
    with ChatServer(replies=toy_reply) as srv:
        gpu_run, cpu_run = create_pending_runs(storage, make_toy_task(tmp_path / "toy"), srv.openai_base_url, 2, 1)
        outcomes: list[JobOutcome] = []
        RayExecutor(ray_cluster.address).run([RunJob(gpu_run, storage, gpus=1), RunJob(cpu_run, storage)],
                                             outcomes.append, lambda: False)
    assert [(o.run_id, o.status) for o in outcomes] == [(gpu_run, "failed"), (cpu_run, "finished")]
    assert outcomes[0].reason == f"the run needs 1 GPU(s); the Ray cluster at '{ray_cluster.address}' has 0"
    assert Store(storage).get_run(gpu_run)["status"] == "pending"  # untouched: resumable where a GPU is


def test_should_stop_holds_back_jobs_not_yet_started(ray_cluster, tmp_path):
    storage = f"sqlite:///{tmp_path / 'evolve.db'}"
    with ChatServer(replies=toy_reply) as srv:
        run_ids = create_pending_runs(storage, make_toy_task(tmp_path / "toy"), srv.openai_base_url, 4, 1)
        outcomes: list[JobOutcome] = []
        RayExecutor(ray_cluster.address).run([RunJob(r, storage) for r in run_ids], outcomes.append,
                                             lambda: len(outcomes) >= 1)
    store = Store(storage)
    # the cluster has two CPUs: two jobs were placed before the first ended, the other two never started
    assert len(outcomes) == 2
    assert sorted(store.get_run(r)["status"] for r in run_ids) == ["finished", "finished", "pending", "pending"]


def _run_and_kill_its_worker(address: str, storage: str, run_id: str, attempts: int) -> list[JobOutcome]:
    """Execute the run's job on the cluster and SIGKILL its worker once the run has stored three children."""
    outcomes: list[JobOutcome] = []
    executor = RayExecutor(address, attempts=attempts, poll_s=0.2)
    driver = threading.Thread(target=executor.run, args=([RunJob(run_id, storage)], outcomes.append, lambda: False))
    driver.start()
    store = Store(storage)
    deadline = time.monotonic() + 120
    while store.count_candidates(run_id, children_only=True) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert 3 <= store.count_candidates(run_id, children_only=True) < 10
    os.kill(_worker_running(run_id), signal.SIGKILL)
    driver.join(timeout=180)
    assert not driver.is_alive()
    store.close()
    return outcomes


def test_a_killed_worker_leaves_the_run_resumable_and_the_job_is_resubmitted(ray_cluster, tmp_path, caplog):
    """SIGKILL the worker process mid-run: the executor submits the job again, the new worker resumes the run,
    and the store ends with exactly the run's children, numbered without gap or repeat."""
    storage = f"sqlite:///{tmp_path / 'evolve.db'}"
    with ChatServer(replies=toy_reply, latency_s=0.3) as srv:
        [run_id] = create_pending_runs(storage, make_toy_task(tmp_path / "toy"), srv.openai_base_url, 1, 10)
        with caplog.at_level(logging.WARNING, logger="evolve.batch.ray"):
            outcomes = _run_and_kill_its_worker(ray_cluster.address, storage, run_id, attempts=3)
    assert [(o.run_id, o.status) for o in outcomes] == [(run_id, "finished")]
    assert "its Ray worker was lost" in caplog.text and "attempt 2 of 3" in caplog.text
    store = Store(storage)
    kids = _children_in_order(store, run_id)
    assert len(kids) == 10 and store.get_run(run_id)["status"] == "finished"


def test_a_job_out_of_attempts_is_reported_lost_and_its_run_still_resumes(ray_cluster, tmp_path):
    storage = f"sqlite:///{tmp_path / 'evolve.db'}"
    with ChatServer(replies=toy_reply, latency_s=0.3) as srv:
        [run_id] = create_pending_runs(storage, make_toy_task(tmp_path / "toy"), srv.openai_base_url, 1, 10)
        [outcome] = _run_and_kill_its_worker(ray_cluster.address, storage, run_id, attempts=1)
        assert outcome.status == "lost" and "its Ray worker was lost 1 times; the run is resumable" in outcome.reason
        stored = [c.id for c in Store(storage).iter_candidates(run_id)]
        assert execute_job(RunJob(run_id, storage)).status == "finished"  # e.g. `evolve batch resume`, here
    store = Store(storage)
    kids = _children_in_order(store, run_id)
    assert len(kids) == 10 and [c.id for c in store.iter_candidates(run_id)][:len(stored)] == stored


def _worker_running(run_id: str) -> int:
    """The Ray worker process executing the run's task (titled after the task; its sandboxes inherit the title,
    so it is the one whose parent is not titled so)."""
    titled = {p.pid: p for p in psutil.process_iter(["cmdline", "ppid"])
              if any(f"evolve-run-{run_id}" in part for part in (p.info["cmdline"] or []))}
    [worker] = [pid for pid, p in titled.items() if p.info["ppid"] not in titled]
    return worker


def test_an_unreachable_cluster_is_one_clear_error(tmp_path):
    with pytest.raises(EvolveError, match="cannot reach the Ray cluster at 'ray://127.0.0.1:1'"):
        RayExecutor("ray://127.0.0.1:1").run([RunJob("x", "sqlite://")], lambda o: None, lambda: False)
