"""Schema versions and opening a store, on a real SQLite file and a real PostgreSQL server.

tests/fixtures/store_v1.db was written by Evolve's schema-1 store (a finished run: a seed and two children with
their LLM calls and evaluations, a failed call, a cached task-model answer and a split score).
"""

import shutil
import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, insert, select, text

from evolve.cli import app
from evolve.errors import EvolveError
from evolve.store import SCHEMA_VERSION, Store, metadata
from evolve.store_cli import upgrade_store

V1_STORE = Path(__file__).parent / "fixtures" / "store_v1.db"
V1_RUN = "b52ece6b43fc"


def _v1_rows() -> dict[str, list[dict]]:
    with sqlite3.connect(V1_STORE) as conn:
        conn.row_factory = sqlite3.Row
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {name: [dict(r) for r in conn.execute(f"SELECT * FROM {name}")] for name in names}


def _copy_v1_to(url: str) -> None:
    """A schema-1 store on `url`: the fixture's own tables (reflected) and rows, as Evolve's schema-1 code made."""
    source, target = create_engine(f"sqlite:///{V1_STORE}"), create_engine(url)
    old = MetaData()
    old.reflect(source)
    old.create_all(target)
    with source.connect() as src, target.begin() as dst:
        for table in old.sorted_tables:
            rows = [dict(r) for r in src.execute(select(table)).mappings()]
            if rows:
                dst.execute(insert(table), rows)
    source.dispose()
    target.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def v1_store(request, tmp_path) -> str:
    if request.param == "sqlite":
        shutil.copy(V1_STORE, tmp_path / "v1.db")
        return f"sqlite:///{tmp_path / 'v1.db'}"
    url = request.getfixturevalue("postgres_url")
    _copy_v1_to(url)
    return url


def test_an_old_store_is_refused_until_upgraded_and_keeps_every_row(v1_store):
    before = _v1_rows()
    with pytest.raises(EvolveError, match=r"schema version 1; this Evolve uses version 2\. .*evolve store upgrade"):
        Store(v1_store)
    assert upgrade_store(v1_store).endswith("schema version 1 -> 2")
    assert upgrade_store(v1_store).endswith(f"already at schema version {SCHEMA_VERSION}")

    store = Store(v1_store)
    run = store.get_run(V1_RUN)
    assert run["status"] == "finished" and run["config"] == {"iterations": 3, "islands": 1}
    assert run["batch_id"] is None and run["params"] is None and run["cell"] is None
    cands = list(store.iter_candidates(V1_RUN))
    old = sorted(before["candidates"], key=lambda r: r["seq"])
    assert [(c.id, c.seq, c.source, c.score, c.status) for c in cands] == \
        [(r["id"], r["seq"], r["source"], r["score"], r["status"]) for r in old]
    assert cands[1].artifacts == {"stderr": "é ünïcode ✓"} and cands[1].features == {"code_length": 21.0}
    assert store.usage(V1_RUN).tokens == sum(r["prompt_tokens"] + r["completion_tokens"] for r in before["llm_calls"])
    assert store.llm_calls_for(cands[1].id)[0]["reply"] == "reply 1"
    assert store.task_outputs(["k1"])["k1"].output == "answer"
    assert [s.score for s in store.split_scores(V1_RUN)] == [2.5]
    # the upgraded store is exactly the schema a new store gets, and takes new children after the old ones
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    from evolve.candidate import Candidate

    assert store.add_candidate(Candidate(run_id=V1_RUN, source="new", score=3.0)).seq == len(cands)


def test_a_new_store_is_made_by_the_migrations_and_matches_the_tables(tmp_path, postgres_url):
    for url in (f"sqlite:///{tmp_path / 'new.db'}", postgres_url):
        store = Store(url)
        with store.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
            assert MigrationContext.configure(conn).get_current_revision() == f"{SCHEMA_VERSION:04d}"
        store.close()


def test_a_store_from_a_newer_evolve_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'future.db'}"
    Store(url).close()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE evolve_meta SET value = '99' WHERE key = 'schema_version'"))
    engine.dispose()
    with pytest.raises(EvolveError, match="schema version 99, made by a newer Evolve; this Evolve reads version 2"):
        Store(url)
    with pytest.raises(EvolveError, match="cannot be downgraded"):
        upgrade_store(url)


def test_a_database_with_foreign_tables_is_not_taken_for_a_store(tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE runs (id TEXT, miles REAL)")
    with pytest.raises(EvolveError, match="has a 'runs' table but no Evolve schema version"):
        Store(str(path))


def _one_line_error(runner, storage: str) -> str:
    result = runner.invoke(app, ["status", "--storage", storage])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert "Traceback" not in result.output
    return lines[0]


def test_bad_storage_urls_are_one_clear_line(tmp_path, monkeypatch, postgres_server):
    from typer.testing import CliRunner

    runner = CliRunner()
    down = f"postgresql+psycopg://evolve:s3cret@127.0.0.1:{_closed_port()}/evolve"
    line = _one_line_error(runner, down)
    assert "cannot open the store" in line and "Connection refused" in line and "s3cret" not in line
    line = _one_line_error(runner, postgres_server.url("no_such_database"))
    assert 'database "no_such_database" does not exist' in line
    assert "unknown database 'postgres'" in _one_line_error(runner, "postgres://u@127.0.0.1/db")
    assert "is not a database URL" in _one_line_error(runner, "postgresql+psycopg://u@127.0.0.1:port/db")
    assert "unable to open database file" in _one_line_error(runner, f"sqlite:///{tmp_path}/no/such/dir/x.db")
    monkeypatch.setitem(__import__("sys").modules, "psycopg", None)  # as if the `postgres` extra were missing
    line = _one_line_error(runner, "postgresql+psycopg://u@127.0.0.1/db")
    assert "needs the database driver 'psycopg', which is not installed: pip install 'evolve-lab[postgres]'" in line


def test_store_commands_report_and_upgrade(tmp_path):
    from typer.testing import CliRunner

    shutil.copy(V1_STORE, tmp_path / "v1.db")
    storage = str(tmp_path / "v1.db")
    runner = CliRunner()
    assert "schema version 1; this Evolve uses schema version 2" in \
        runner.invoke(app, ["store", "version", "--storage", storage]).output
    result = runner.invoke(app, ["store", "upgrade", "--storage", storage])
    assert result.exit_code == 0 and "schema version 1 -> 2" in result.output
    assert V1_RUN in runner.invoke(app, ["status", "--storage", storage]).output


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
