"""The `evolve ui` command and the `--ui` flag of `evolve run`: imported lazily, so the CLI works without the
`ui` extra and says how to install it when the dashboard is asked for."""

from __future__ import annotations

from types import ModuleType
from typing import Annotated

import typer

from evolve.errors import EvolveError
from evolve.storage_default import default_storage

_MISSING = "the dashboard needs the `ui` extra: pip install 'evolve-lab[ui]'"


def _server() -> ModuleType:
    """The server module, imported only when the dashboard is asked for."""
    try:
        from evolve.ui import server
    except ImportError as exc:
        raise EvolveError(f"{_MISSING} ({exc.name} is missing)") from None
    return server


def ui(
    storage: Annotated[str, typer.Option("--storage", "-s", help="Database URL (SQLAlchemy) or SQLite file path. "
                                         "Env: EVOLVE_STORAGE.", default_factory=default_storage,
                                         show_default="sqlite:///evolve.db")],
    host: Annotated[str, typer.Option(help="Address to listen on. Any address other than 127.0.0.1 / localhost "
                                      "requires the token printed at start.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free port).")] = 8765,
) -> None:
    """Serve a live, read-only dashboard of the store: runs, scores, MAP-Elites grids, lineage, candidates."""
    server = _server()
    dashboard = server.prepare(storage, host, port)
    typer.echo(f"Evolve dashboard on {dashboard.address}  (read-only; Ctrl-C stops it)")
    if "token=" in dashboard.address:
        typer.echo("listening beyond this machine: open that address with this machine's name or IP in place of "
                   "the host; every request needs the token in it (anyone with the token can read every run)")
    server.serve(dashboard)


def start_beside_run(storage: str) -> str:
    """Start the dashboard on a thread for `evolve run --ui`; returns its address."""
    return _server().start_beside(storage).address
