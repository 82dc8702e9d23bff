"""What `evolve store version` and `evolve store upgrade` do (the commands themselves are declared in cli.py)."""

from __future__ import annotations

from evolve.store import SCHEMA_VERSION, normalize_url
from evolve.store_engine import open_engine, reported_as, shown_url
from evolve.store_schema import stored_version, upgrade


def describe_version(storage: str) -> str:
    """One line: the store's schema version and the one this Evolve uses."""
    url = normalize_url(storage)
    engine = open_engine(url)
    try:
        with reported_as(url, "open the store"), engine.connect() as conn:
            found = stored_version(conn)
    finally:
        engine.dispose()
    state = "no Evolve store yet" if found is None else f"schema version {found}"
    return f"{shown_url(url)}: {state}; this Evolve uses schema version {SCHEMA_VERSION}"


def upgrade_store(storage: str) -> str:
    """Upgrade the store in one transaction; one line saying from which version to which."""
    url = normalize_url(storage)
    engine = open_engine(url)
    try:
        before, after = upgrade(engine, url)
    finally:
        engine.dispose()
    if before == after:
        return f"{shown_url(url)}: already at schema version {after}"
    return f"{shown_url(url)}: schema version {'(new store)' if before is None else before} -> {after}"
