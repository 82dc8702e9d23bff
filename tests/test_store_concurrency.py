"""Eight processes writing into one store at once lose nothing and duplicate nothing, on SQLite and PostgreSQL.

Each writer writes children to its own run and, in turn, to a run all eight share (as two workers of one resumed
run would): every run's children must be numbered 0..n-1 exactly once, with every LLM call and evaluation kept.
"""

import pytest
from sqlalchemy import func, select, text

from evolve.store import Store, evaluations, llm_calls

try:
    from tests.support.store_writers import WriterJob, new_run, open_at_once, run_writers
except ImportError:
    from support.store_writers import WriterJob, new_run, open_at_once, run_writers

WRITERS, CHILDREN = 8, 30


def _url(backend: str, request, tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'evolve.db'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_eight_concurrent_writers_lose_and_duplicate_nothing(backend, request, tmp_path):
    url = _url(backend, request, tmp_path)
    store = Store(url)
    shared = new_run(store)
    own = [new_run(store) for _ in range(WRITERS)]
    results = run_writers([WriterJob(url, w, (own[w], shared), CHILDREN) for w in range(WRITERS)])
    assert [len(r.latencies) for r in results] == [CHILDREN] * WRITERS

    for run_id, expected in [(shared, WRITERS * CHILDREN // 2)] + [(r, CHILDREN // 2) for r in own]:
        cands = list(store.iter_candidates(run_id))
        assert [c.seq for c in cands] == list(range(expected)), run_id
        assert len({c.code_hash for c in cands}) == expected  # each written child exactly once
    own_hashes = {c.code_hash for c in store.iter_candidates(own[3])}
    assert own_hashes == {f"w3-{i}" for i in range(0, CHILDREN, 2)}
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(llm_calls)).scalar_one() == WRITERS * CHILDREN
        assert conn.execute(select(func.count()).select_from(evaluations)).scalar_one() == WRITERS * CHILDREN
    assert store.usage(shared).tokens == WRITERS * CHILDREN // 2 * 120
    store.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_eight_processes_opening_a_new_store_at_once_create_it_once(backend, request, tmp_path):
    """The workers of a batch may be first to open an empty database: the schema lock makes one create it."""
    url = _url(backend, request, tmp_path)
    assert open_at_once(url, WRITERS) == [0] * WRITERS
    store = Store(url)
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
        assert conn.execute(text("SELECT value FROM evolve_meta")).scalars().all() == ["2"]
    store.close()
