"""The store on a real SQLite file and a real PostgreSQL server: atomic candidate writes, ordering, usage sums,
id prefixes, reopen. Tests that take `store_url` run on both; the others are about SQLite files."""

import pytest

from evolve.candidate import Candidate
from evolve.store import EvaluationRecord, LLMCallRecord, Store


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    """An empty store's URL: a new SQLite file, or a new database on the session's PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'evolve.db'}"
    return request.getfixturevalue("postgres_url")


def make_store(url):
    return Store(url)


def new_run(store):
    return store.create_run(task_name="t", task_path="/t", kind="program", objective="score",
                            direction="maximize", config={"iterations": 3}, environment={"python": "3.11"})


def test_candidates_round_trip_with_calls_and_evaluation(store_url):
    store = make_store(store_url)
    run = new_run(store)
    call = LLMCallRecord(model="scripted", messages=[{"role": "user", "content": "hi"}], reply="x = 1",
                         prompt_tokens=3, completion_tokens=4, cost_usd=0.01, latency_s=0.2)
    cand = Candidate(run_id=run, source="x = 1", score=1.5, metrics={"score": 1.5}, artifacts={"stderr": "w"},
                     features={"code_length": 5.0}, code_hash="h1")
    ev = EvaluationRecord(status="ok", stage=0, returncode=0, stdout="", stderr="w", wall_s=0.1, cpu_s=0.05,
                          peak_mem_mb=12.0)
    store.add_candidate(cand, [call], ev)
    store.close()

    reopened = make_store(store_url)  # a new process would see the same
    [back] = list(reopened.iter_candidates(run))
    assert back == cand
    assert back.seq == 0
    assert reopened.llm_calls_for(cand.id)[0]["reply"] == "x = 1"
    assert reopened.usage(run).tokens == 7 and abs(reopened.usage(run).cost_usd - 0.01) < 1e-12


def test_seq_orders_candidates_and_best_respects_direction(store_url):
    store = make_store(store_url)
    run = new_run(store)
    for score in (1.0, 3.0, 2.0):
        store.add_candidate(Candidate(run_id=run, source=f"s{score}", score=score))
    store.add_candidate(Candidate(run_id=run, source="bad", status="crashed", score=None))
    assert [c.seq for c in store.iter_candidates(run)] == [0, 1, 2, 3]
    assert store.best_candidate(run, maximize=True).score == 3.0
    assert store.best_candidate(run, maximize=False).score == 1.0
    assert store.status_counts(run) == {"ok": 3, "crashed": 1}


def test_failed_llm_call_costs_tokens_but_is_no_candidate(store_url):
    store = make_store(store_url)
    run = new_run(store)
    store.add_failed_call(run, LLMCallRecord(model="m", messages=[], error="server: 500", prompt_tokens=10))
    assert store.count_candidates(run) == 0
    assert store.usage(run).tokens == 10


def test_run_lookup_by_unique_prefix_and_status(store_url):
    store = make_store(store_url)
    run = new_run(store)
    assert store.get_run(run[:6])["id"] == run
    assert store.get_run("zzzz") is None
    store.set_run_status(run, "stopped", "interrupted")
    assert store.get_run(run)["stop_reason"] == "interrupted"
    store.update_run_config(run, {"iterations": 9})
    assert store.get_run(run)["config"] == {"iterations": 9}


def test_sqlite_uses_wal(tmp_path):
    store = make_store(f"sqlite:///{tmp_path / 'evolve.db'}")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_plain_path_is_a_sqlite_file(tmp_path):
    store = Store(str(tmp_path / "plain.db"))
    new_run(store)
    assert (tmp_path / "plain.db").exists()


def test_children_are_counted_without_the_seeds(store_url):
    """A prompt task may have several seeds: run listings count children, not candidates minus one."""
    store = make_store(store_url)
    run_id = new_run(store)
    for i in range(2):
        store.add_candidate(Candidate(run_id=run_id, source=f"seed {i}", edit_kind="seed", score=1.0))
    for i in range(3):
        store.add_candidate(Candidate(run_id=run_id, source=f"child {i}", edit_kind="rewrite", score=2.0))
    assert store.count_candidates(run_id) == 5
    assert store.count_candidates(run_id, children_only=True) == 3
    [row] = store.list_runs()
    assert row["children"] == 3 and row["n"] == 5


def test_a_new_sqlite_file_is_readable_by_its_owner_only(tmp_path):
    """It holds every prompt, reply and score: no other user (e.g. a candidate's sandbox uid) may read it."""
    store = make_store(f"sqlite:///{tmp_path / 'evolve.db'}")
    new_run(store)
    store.close()
    files = sorted(tmp_path.glob("*.db*"))
    assert files and all(f.stat().st_mode & 0o777 == 0o600 for f in files), [oct(f.stat().st_mode) for f in files]
    existing = tmp_path / "shared.db"
    existing.touch(mode=0o644)
    existing.chmod(0o644)
    Store(str(existing)).close()
    assert existing.stat().st_mode & 0o777 == 0o644  # a file the user made keeps the mode they gave it


def test_hostile_text_and_odd_numbers_are_stored(store_url):
    """Candidate code, output and model replies are data: NUL bytes, escapes and non-finite metrics are kept
    (PostgreSQL's text and json types reject NUL and NaN as such, the store must not fail a child on them)."""
    store = make_store(store_url)
    run = new_run(store)
    nasty = "x = 1\x00\x1b[2J'; DROP TABLE runs; --\u202e"
    cand = Candidate(run_id=run, source=nasty, score=float("nan"), status="ok",
                     metrics={"score": float("inf"), "low": float("-inf"), "odd": float("nan"), "note": nasty},
                     artifacts={"stdout": nasty}, code_hash="h")
    ev = EvaluationRecord(status="ok", stage=0, returncode=0, stdout=nasty, stderr=nasty, wall_s=0.1, cpu_s=0.0,
                          peak_mem_mb=1.0)
    store.add_candidate(cand, [LLMCallRecord(model="m", messages=[{"role": "user", "content": nasty}],
                                             reply=nasty)], ev)
    [back] = list(store.iter_candidates(run))
    assert back.source == nasty and back.artifacts == {"stdout": nasty} and back.metrics["note"] == nasty
    assert back.metrics["score"] == float("inf") and back.metrics["low"] == float("-inf")
    assert back.metrics["odd"] != back.metrics["odd"]  # NaN
    assert store.llm_calls_for(cand.id)[0]["reply"] == nasty
    assert len(store.list_runs()) == 1
