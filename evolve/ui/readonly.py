"""A read-only connection to a study's database: the dashboard must never be able to change what it shows.

SQLite is opened through a `mode=ro` URI, so a write fails inside SQLite itself; PostgreSQL sessions start with
`default_transaction_read_only`, so a write fails on the server. Neither creates tables or rows, unlike
`evolve.store.Store`, which prepares a database for writing.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from evolve.errors import EvolveError
from evolve.store import SCHEMA_VERSION, meta, normalize_url


def open_readonly(storage: str) -> Engine:
    """An engine that can only read `storage` (a SQLAlchemy URL or a SQLite file path); checks it is an Evolve
    store of this schema version and says clearly when it is not."""
    url = make_url(normalize_url(storage))
    if url.get_backend_name() == "sqlite":
        engine = _sqlite_readonly(url.database)
    elif url.get_backend_name() == "postgresql":
        engine = create_engine(url, connect_args={"options": "-c default_transaction_read_only=on"})
    else:
        raise EvolveError(f"{url.render_as_string(hide_password=True)}: the dashboard reads SQLite or PostgreSQL")
    try:
        with engine.connect() as conn:
            row = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).first()
    except SQLAlchemyError as exc:
        raise EvolveError(f"{url.render_as_string(hide_password=True)}: not a readable Evolve store "
                          f"({type(exc.orig or exc).__name__}: {str(exc.orig or exc).splitlines()[0]})") from None
    if row is None or int(row[0]) != SCHEMA_VERSION:
        raise EvolveError(f"{url.render_as_string(hide_password=True)}: schema version "
                          f"{None if row is None else row[0]}, this dashboard reads {SCHEMA_VERSION}")
    return engine


def _sqlite_readonly(database: str | None) -> Engine:
    if not database or database == ":memory:":
        raise EvolveError("the dashboard needs a database file, not an in-memory database")
    path = Path(database).expanduser().resolve()
    if not path.is_file():
        raise EvolveError(f"{path}: no such database file (start a run first, or pass --storage)")
    uri = f"file:{quote(str(path))}?mode=ro"

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=30)

    engine = create_engine("sqlite://", creator=connect)
    event.listen(engine, "connect", _busy_timeout)
    return engine


def _busy_timeout(dbapi_conn: Any, _record: Any) -> None:
    """Wait for the run's writer instead of failing while it commits (WAL readers rarely have to)."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA query_only=ON")
    cur.close()
