"""`evolve report`: a batch's or some runs' results as a self-contained HTML page, PNG/SVG figures and CSV tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from evolve.storage_default import default_storage

console = Console()


def report(
    targets: Annotated[list[str], typer.Argument(
        metavar="BATCH_OR_RUN...", help="A batch (id, id prefix or name), or one or more run ids (or prefixes).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write report.html, figures/ and *.csv into.")],
    storage: Annotated[str, typer.Option("--storage", "-s", help="Database URL (SQLAlchemy) or SQLite file path. "
                                         "Env: EVOLVE_STORAGE.", default_factory=default_storage,
                                         show_default="sqlite:///evolve.db")],
    baseline: Annotated[Optional[str], typer.Option(
        help="Compare each configuration with this one (its label as the report shows it, or a cell id prefix) "
             "instead of every pair.")] = None,
) -> None:
    """Write a report: best score so far vs evaluations, tokens and cost (median and 95% interval across seeds),
    final scores against the seed program and the best-known value, outcome rates, spend per run, and a bootstrap
    comparison of configurations on each task. The page opens offline (figures and tables inside)."""
    from evolve.report.build import write_report  # matplotlib loads only for this command
    from evolve.store import open_existing

    store = open_existing(storage)
    try:
        with console.status("reading the store and drawing figures..."):
            files = write_report(store, targets, out, baseline)
    finally:
        store.close()
    console.print(f"wrote {files.page} ({len(files.figures) // 2} figures as PNG and SVG in {out / 'figures'}, "
                  f"{len(files.tables)} CSV tables)", markup=False, highlight=False)

