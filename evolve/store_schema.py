"""The store's schema version: create a new store at this Evolve's version, refuse any other, upgrade on request.

A store records its schema version in `evolve_meta` (which every Evolve since version 1 reads) and, from version 2
on, its Alembic revision. Opening never changes an existing store: a store older than this Evolve is refused with
the command that upgrades it (`evolve store upgrade`), because on a shared server the first process to open it
must not rewrite the schema under runs of an older Evolve still writing there; a store newer than this Evolve is
refused outright. Creation and upgrades hold a lock (PostgreSQL: an advisory lock; SQLite: the write lock), so
many workers opening one new store at once create it once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from importlib import resources

from sqlalchemy import Connection, Engine, inspect, select, text

from evolve.errors import EvolveError
from evolve.store import SCHEMA_VERSION, meta
from evolve.store_engine import reported_as, shown_url

_LOCK_KEY = 0x45766F6C7665  # "Evolve": PostgreSQL advisory lock of schema changes


def ensure_current(engine: Engine, url: str) -> None:
    """Create the schema in an empty database; otherwise check it is this Evolve's version (EvolveError if not)."""
    with reported_as(url, "open the store"):
        with engine.connect() as conn:
            version = stored_version(conn)
        if version is None:
            with _locked(engine) as conn:
                if stored_version(conn) is None:
                    _refuse_foreign(conn, url)
                    _migrate(conn, "head")
            return
    if version > SCHEMA_VERSION:
        raise EvolveError(f"the store {shown_url(url)} has schema version {version}, made by a newer Evolve; this "
                          f"Evolve reads version {SCHEMA_VERSION}: upgrade Evolve (pip install -U evolve-lab)")
    if version < SCHEMA_VERSION:
        raise EvolveError(f"the store {shown_url(url)} has schema version {version}; this Evolve uses version "
                          f"{SCHEMA_VERSION}. Back it up, then run: evolve store upgrade --storage '{shown_url(url)}'")


def upgrade(engine: Engine, url: str) -> tuple[int | None, int]:
    """Bring the store to this Evolve's schema version; returns (version before, version after)."""
    with reported_as(url, "upgrade the store"), _locked(engine) as conn:
        before = stored_version(conn)
        if before is None:
            _refuse_foreign(conn, url)
        elif before > SCHEMA_VERSION:
            raise EvolveError(f"the store {shown_url(url)} has schema version {before}, newer than this Evolve "
                              f"({SCHEMA_VERSION}): it cannot be downgraded")
        elif _alembic_revision(conn) is None:
            _migrate(conn, _revision(before), stamp=True)  # made before Alembic kept the store's revision
        _migrate(conn, "head")
    return before, SCHEMA_VERSION


def stored_version(conn: Connection) -> int | None:
    """The schema version recorded in the store; None for a database with no Evolve store in it."""
    if not inspect(conn).has_table(meta.name):
        return None
    value = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
    return None if value is None else int(value)


def _refuse_foreign(conn: Connection, url: str) -> None:
    """A database that has Evolve's tables but no version was not made by any released Evolve: never guess."""
    if inspect(conn).has_table("runs"):
        raise EvolveError(f"{shown_url(url)} has a 'runs' table but no Evolve schema version: it is not an Evolve "
                          "store (use another database or file)")


def _revision(version: int) -> str:
    return f"{version:04d}"


def _alembic_revision(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def _migrate(conn: Connection, target: str, stamp: bool = False) -> None:
    # Alembic (and its templates) loads only when the schema changes: opening a current store, what every run
    # and command but the first does, checks the version with one query and skips its import (~0.1-0.2 s)
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(resources.files("evolve") / "migrations"))
    config.attributes["connection"] = conn
    if stamp:
        command.stamp(config, target)
    else:
        command.upgrade(config, target)


@contextlib.contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that holds the database's schema lock until it commits."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        elif engine.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        yield conn
        conn.commit()
