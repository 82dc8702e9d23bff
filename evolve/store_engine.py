"""Open a store's database engine from a URL, turning every way that can fail into one line the user can act on.

A storage URL is user input (`--storage`, EVOLVE_STORAGE): a typo in the scheme, a PostgreSQL URL without its
driver installed, a server that is down or a wrong password must each say so in one line (EvolveError), never as a
driver's traceback. Passwords never appear in those lines.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from evolve.errors import EvolveError
from evolve.store_types import json_dumps, json_loads, plain_json_dumps

# The database drivers Evolve knows how to get, by SQLAlchemy dialect+driver name: what to install.
_DRIVER_HINTS = {
    "psycopg": "pip install 'evolve-lab[postgres]'",
    "psycopg2": "pip install psycopg2-binary, or use postgresql+psycopg:// with pip install 'evolve-lab[postgres]'",
}
_CONNECT_TIMEOUT_S = 10  # a server that does not answer is reported, not waited on forever


def open_engine(url: str) -> Engine:
    """An engine for `url` (nothing is connected yet); EvolveError if the URL or its driver is unusable."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise EvolveError(f"storage URL '{url}' is not a database URL: expected e.g. sqlite:///evolve.db or "
                          "postgresql+psycopg://USER:PASSWORD@HOST:5432/DATABASE") from None
    shown = shown_url(url)
    kwargs: dict = {"future": True, "json_serializer": plain_json_dumps}
    if parsed.get_backend_name() == "postgresql":
        # One client per process is idle most of the time; a connection the server dropped is replaced.
        kwargs["pool_pre_ping"] = True
        kwargs["json_serializer"], kwargs["json_deserializer"] = json_dumps, json_loads
        if "connect_timeout" not in parsed.query:
            kwargs["connect_args"] = {"connect_timeout": _CONNECT_TIMEOUT_S}
    try:
        return create_engine(parsed, **kwargs)
    except NoSuchModuleError:
        raise EvolveError(f"storage URL '{shown}': unknown database '{parsed.drivername}' (Evolve stores in "
                          "sqlite:///FILE or postgresql+psycopg://USER@HOST/DATABASE)") from None
    except ImportError as exc:
        driver = parsed.get_driver_name()
        hint = _DRIVER_HINTS.get(driver, f"install the Python package for '{parsed.drivername}'")
        raise EvolveError(f"storage URL '{shown}' needs the database driver '{exc.name or driver}', which is "
                          f"not installed: {hint}") from None


@contextlib.contextmanager
def reported_as(url: str, doing: str) -> Iterator[None]:
    """Report a failure to reach or use the database while `doing` as one EvolveError line."""
    try:
        yield
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        raise EvolveError(f"cannot {doing} {shown_url(url)}: {reason}") from None


def shown_url(url: str) -> str:
    """The URL as it may be printed: its password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return url
