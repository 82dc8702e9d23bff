"""Where a command stores its runs when --storage is not given: EVOLVE_STORAGE, else evolve.db here.

Its own module, free of SQLAlchemy and the engine, because every command's option declarations use it and
`evolve --help` must not pay for the engine's imports."""

from __future__ import annotations

import os

DEFAULT_STORAGE = "sqlite:///evolve.db"


def default_storage() -> str:
    return os.environ.get("EVOLVE_STORAGE", DEFAULT_STORAGE)
