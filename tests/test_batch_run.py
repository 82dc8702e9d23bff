"""`evolve batch` end to end as a user runs it: the real CLI in a subprocess, worker processes per run, the real
sandbox, a real SQLite file and a real HTTP model server on 127.0.0.1 (instant, scripted replies)."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest
from conftest import make_toy_task
from test_cli import counting_replies, evolve

from evolve.store import Store
from tests.support.chat_server import ChatServer

SWEEP = """\
name: {name}
tasks: [./toy]
models: ["openai:stub@{url}"]
settings: {{iterations: {iterations}, llm_concurrency: 1, eval_concurrency: 1}}
grid: {{islands: {islands}}}
seeds: {seeds}
{extra}
"""


def sweep_file(tmp_path: Path, url: str, name: str = "toy-islands", iterations: int = 3, seeds: str = "2",
               islands: str = "[1, 2]", extra: str = "") -> Path:
    if not (tmp_path / "toy").exists():
        make_toy_task(tmp_path / "toy")
    path = tmp_path / f"{name}.yaml"
    path.write_text(SWEEP.format(name=name, url=url, iterations=iterations, seeds=seeds, islands=islands,
                                 extra=extra))
    return path


def children(store: Store, run_id: str) -> list[tuple[int, str]]:
    return [(c.seq, c.id) for c in store.iter_candidates(run_id)]


def wait_for(condition, timeout: float = 120.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_batch_runs_every_cell_and_seed_then_reports_and_exports(tmp_path, storage):
    with ChatServer(replies=counting_replies) as srv:
        path = sweep_file(tmp_path, srv.openai_base_url)
        proc = evolve("batch", "run", str(path), "--storage", storage, "-q")
        assert proc.returncode == 0, proc.stderr
        again = evolve("batch", "run", str(path), "--storage", storage, "-q", "-j", "4")
        assert again.returncode == 0, again.stderr
    store = Store(storage)
    first, second = store.list_batches()
    assert first["status"] == "finished" and first["name"] == "toy-islands"
    runs = store.list_runs(batch_id=first["id"])
    assert len(runs) == 4 and {r["status"] for r in runs} == {"finished"}
    # in the sweep's order (the order they are dispatched in)
    assert [(r["params"]["islands"], r["params"]["seed"]) for r in runs] == [(1, 0), (1, 1), (2, 0), (2, 1)]
    assert all(r["children"] == 3 and r["config"]["islands"] == r["params"]["islands"] for r in runs)
    assert len({r["cell"] for r in runs}) == 2
    env = runs[0]["environment"]
    assert env["task_folder_sha256"] and env["evolve"] and "git_commit" in env and "git_dirty" in env

    # the same sweep again makes the same runs: params, cells and settings
    def made(batch_id):
        return sorted((str(r["params"]), r["cell"], str(r["config"])) for r in store.list_runs(batch_id=batch_id))
    assert made(first["id"]) == made(second["id"])

    # each run is an ordinary run
    listing = evolve("status", "--storage", storage)
    assert first["id"] in listing.stdout
    best = evolve("best", runs[0]["id"], "--storage", storage)
    assert best.returncode == 0 and "def value" in best.stdout

    status = evolve("batch", "status", first["id"][:6], "--storage", storage)
    assert status.returncode == 0, status.stderr
    assert "4 runs: 4 finished" in status.stdout and "median best" in status.stdout
    listed = evolve("batch", "status", "--storage", storage)
    assert first["id"] in listed.stdout and second["id"] in listed.stdout

    out = tmp_path / "tables"
    export = evolve("batch", "export", first["id"], "--out", str(out), "--storage", storage)
    assert export.returncode == 0, export.stderr
    run_table = pd.read_parquet(out / "runs.parquet")
    assert len(run_table) == 4 and set(run_table["islands"]) == {1, 2}
    assert (run_table["children"] == 3).all() and run_table["best_score"].notna().all()
    cands = pd.read_csv(out / "candidates.csv")
    assert len(cands) == 4 * (1 + 3)  # a seed and three children per run
    for _, rows in cands.groupby("run_id"):
        rows = rows.sort_values("seq")
        assert list(rows["seq"]) == [0, 1, 2, 3]
        assert rows["best_so_far"].is_monotonic_increasing and rows["tokens_cum"].is_monotonic_increasing
        assert rows["best_so_far"].iloc[-1] == rows["score"].max()
    assert pd.read_parquet(out / "candidates.parquet").shape == cands.shape


@pytest.mark.slow
def test_killed_worker_and_killed_batch_lose_nothing_and_rerun_nothing(tmp_path, storage):
    """SIGKILL a run's worker (its run is marked lost and started again), then SIGKILL the batch process (the
    workers stop cleanly), then `batch resume`: runs finished before are untouched and every run ends with
    exactly its children, none lost or stored twice."""
    with ChatServer(replies=counting_replies, latency_s=0.25) as srv:
        path = sweep_file(tmp_path, srv.openai_base_url, iterations=6, seeds="[0, 1]", islands="[1]")
        driver = subprocess.Popen([sys.executable, "-m", "evolve", "batch", "run", str(path), "--storage",
                                   storage, "-q", "-j", "1", "--retries", "1"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        store = Store(storage)
        wait_for(lambda: store.list_batches(), what="the batch")
        [batch] = store.list_batches()

        def runs():
            return {r["id"]: r for r in store.list_runs(batch_id=batch["id"])}

        def worker_of(run_id):
            for child in psutil.Process(driver.pid).children():
                try:
                    if run_id in child.cmdline():
                        return child
                except psutil.Error:
                    pass
            return None

        first_id = next(iter(runs()))
        wait_for(lambda: store.count_candidates(first_id, children_only=True) >= 2, what="two children")
        worker_of(first_id).send_signal(signal.SIGKILL)
        wait_for(lambda: runs()[first_id]["status"] == "lost", what="the run marked lost")
        kept_at_kill = children(store, first_id)
        # with one run at a time the other run goes next, then the lost one is started again
        other_id = next(r for r in runs() if r != first_id)
        wait_for(lambda: runs()[other_id]["status"] == "finished", what="the other run")
        finished_before = {other_id: (children(store, other_id), runs()[other_id]["updated_at"])}
        wait_for(lambda: runs()[first_id]["status"] == "running"
                 and store.count_candidates(first_id) > len(kept_at_kill), what="the lost run restarted")
        driver.send_signal(signal.SIGKILL)
        driver.wait(timeout=10)
        wait_for(lambda: runs()[first_id]["status"] != "running", what="the orphan worker to stop")
        assert runs()[first_id]["status"] == "stopped"  # the worker saw its batch die and stopped cleanly
        assert children(store, first_id)[:len(kept_at_kill)] == kept_at_kill

        resumed = evolve("batch", "resume", "toy-islands", "--storage", storage, "-q")
        assert resumed.returncode == 0, resumed.stderr
    final = runs()
    assert {r["status"] for r in final.values()} == {"finished"}
    for run_id in final:
        stored = children(store, run_id)
        assert [seq for seq, _ in stored] == list(range(7))  # the seed and exactly 6 children
        assert len({cid for _, cid in stored}) == 7
    assert children(store, first_id)[:len(kept_at_kill)] == kept_at_kill
    assert {other_id: (children(store, other_id), final[other_id]["updated_at"])} == finished_before
    assert store.get_batch(batch["id"])["status"] == "finished"


@pytest.mark.slow
@pytest.mark.parametrize("budget, reason", [("max_tokens: 300", "token budget ("),
                                            ("max_cost_usd: 0.05", "cost budget ($")])
def test_a_batch_budget_stops_running_runs_and_starts_no_more(tmp_path, storage, budget, reason):
    with ChatServer(replies=counting_replies, latency_s=0.2) as srv:
        path = sweep_file(tmp_path, srv.openai_base_url, name="budgeted", iterations=40,
                          extra=f"budget: {{{budget}}}")
        # a priced model (the stub's list price: $100 per million tokens either way), as a mapping with settings
        priced = f"{{spec: 'openai:stub@{srv.openai_base_url}', price_in_per_mtok: 100, price_out_per_mtok: 100}}"
        path.write_text(path.read_text().replace(f'"openai:stub@{srv.openai_base_url}"', priced))
        proc = evolve("batch", "run", str(path), "--storage", storage, "-q", "-j", "1")
    assert proc.returncode == 0, proc.stderr
    store = Store(storage)
    [batch] = store.list_batches()
    assert batch["status"] == "stopped" and batch["stop_reason"].startswith(reason)
    usage = store.batch_usage(batch["id"])
    assert usage.tokens >= 300 if "tokens" in budget else usage.cost_usd >= 0.05
    runs = store.list_runs(batch_id=batch["id"])
    started = [r for r in runs if r["status"] != "pending"]
    assert len(started) == 1 and len(runs) == 4  # one at a time: the others never started
    assert started[0]["status"] == "stopped"
    assert started[0]["stop_reason"].startswith(f"batch stopped: {reason}")
    assert 0 < started[0]["children"] < 40


@pytest.mark.slow
def test_ctrl_c_stops_the_batch_cleanly_and_resume_finishes_it(tmp_path, storage):
    with ChatServer(replies=counting_replies, latency_s=0.2) as srv:
        path = sweep_file(tmp_path, srv.openai_base_url, name="interrupted", iterations=25, seeds="1",
                          islands="[1]")
        driver = subprocess.Popen([sys.executable, "-m", "evolve", "batch", "run", str(path), "--storage",
                                   storage, "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        store = Store(storage)
        wait_for(lambda: any((r["children"] or 0) >= 1 for r in store.list_runs()), what="a child")
        second = evolve("batch", "resume", "interrupted", "--storage", storage, "-q")
        assert second.returncode == 2 and "is being run by process" in second.stderr  # one driver per batch
        driver.send_signal(signal.SIGINT)
        out, err = driver.communicate(timeout=60)
        assert driver.returncode == 0, err
        [batch] = store.list_batches()
        assert batch["status"] == "stopped" and batch["stop_reason"] == "interrupted"
        assert "batch resume" in out
        [run] = store.list_runs()
        assert run["status"] == "stopped" and run["stop_reason"] == "batch stopped: interrupted"
        assert 0 < run["children"] < 25
        resumed = evolve("batch", "resume", batch["id"][:5], "--storage", storage, "-q")
        assert resumed.returncode == 0, resumed.stderr
    assert all(r["status"] == "finished" and r["children"] == 25 for r in store.list_runs())


def test_a_batch_whose_runs_cannot_start_fails_with_the_reason(tmp_path, storage):
    with ChatServer(replies=counting_replies) as srv:
        path = sweep_file(tmp_path, srv.openai_base_url, name="broken", seeds="1", islands="[1]")
        (tmp_path / "toy" / "evaluate.py").write_text("def evaluate(candidate):\n    raise ValueError('no')\n")
        proc = evolve("batch", "run", str(path), "--storage", storage, "-q")
    assert proc.returncode == 1, proc.stderr
    store = Store(storage)
    [batch] = store.list_batches()
    [run] = store.list_runs(batch_id=batch["id"])
    assert run["status"] == "failed" and "seed program did not evaluate" in run["stop_reason"]
    assert batch["status"] == "failed" and "1 of 1 runs did not finish (1 failed)" in batch["stop_reason"]
    assert "seed program did not evaluate" in batch["stop_reason"]


def test_a_sweep_name_with_console_markup_is_printed_as_written(tmp_path, storage):
    """A name like `x[/bold]y` was read as markup: the command died after storing the batch, leaving it 'running'."""
    make_toy_task(tmp_path / "toy")
    path = tmp_path / "s.yaml"
    path.write_text('name: "x[/bold]y [red]z"\ntasks: [./toy]\nmodels: [scripted]\nsettings: {iterations: 1}\n')
    proc = evolve("batch", "run", str(path), "--storage", storage, "-q")
    assert proc.returncode == 0, proc.stderr
    assert "x[/bold]y [red]z" in proc.stdout
    [batch] = Store(storage).list_batches()
    assert batch["status"] == "finished"
