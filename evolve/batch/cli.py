"""`evolve batch run | status | resume | export`: sweeps of tasks x models x settings x seeds as one job."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from evolve.batch.executors import EXECUTORS, check_executor
from evolve.cli import StorageOpt, _friendly, console
from evolve.safe_text import shown

if TYPE_CHECKING:  # the driver, the sweep and the store (SQLAlchemy) load when a command runs, not for --help
    from evolve.batch.driver import BatchSettings
    from evolve.batch.sweep import Sweep
    from evolve.store import Store

batch_app = typer.Typer(
    no_args_is_help=True, rich_markup_mode="rich",
    help="Batch research runs: a sweep file of tasks x models x settings x seeds, run as ordinary runs "
         "side by side, with status, resume and tidy exports.")

BatchArg = Annotated[str, typer.Argument(metavar="BATCH", help="Batch id, a unique prefix of it, or its name "
                                                               "(the latest batch of that name).")]
ExecutorOpt = Annotated[str | None, typer.Option(
    "--executor", "-e", help=f"Where runs go: {' | '.join(EXECUTORS)} (local: worker processes on this "
    "machine; ray: a Ray cluster, see --address). "
    "Default: local; `batch resume`: as the batch was run.")]
AddressOpt = Annotated[str | None, typer.Option(
    "--address", help="--executor ray: the cluster (auto | HOST:6379 | ray://HOST:10001). Default: auto; "
    "`batch resume`: as the batch was run.")]
MaxConcurrentOpt = Annotated[int | None, typer.Option(
    "--max-concurrent", "-j", min=1, help="Runs at once. Default: twice the machine's cores divided by the "
    "runs' eval_concurrency (at least 1); `batch resume`: as the batch was run.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No live progress display.")]

_MAX_LIVE_CELLS = 15


@batch_app.command("run")
@_friendly
def run_batch(
    sweep_file: Annotated[Path, typer.Argument(metavar="SWEEP.yaml", help="The sweep file (see README: Batch runs).")],
    executor: ExecutorOpt = None,
    address: AddressOpt = None,
    max_concurrent: MaxConcurrentOpt = None,
    retries: Annotated[int, typer.Option(min=0, help="Times a run whose worker process died is started again.")] = 1,
    storage: StorageOpt = ...,  # type: ignore[assignment]
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the runs the sweep expands into; store and "
                                                            "start nothing.")] = False,
    quiet: QuietOpt = False,
) -> None:
    """Expand SWEEP.yaml into runs, store them all, and run them side by side (Ctrl-C stops cleanly)."""
    from evolve.batch.driver import BatchSettings, create_batch, default_max_concurrent
    from evolve.batch.sweep import load_sweep
    from evolve.store import Store

    sweep = load_sweep(sweep_file)
    settings = BatchSettings(executor=executor or "local", address=address, max_concurrent=max_concurrent or
                             default_max_concurrent(sweep), retries=retries, budget=sweep.budget)
    check_executor(settings.executor)  # an unknown one stored the batch first and left it 'running'
    if dry_run:
        _print_plan(sweep, settings)
        return
    store = Store(storage)
    batch_id = create_batch(store, sweep, settings)
    cells = len({plan.cell for plan in sweep.plans})
    console.print(f"[bold]batch {batch_id}[/] · {escape(shown(sweep.name, 80, one_line=True))} · {len(sweep.plans)} "
                  f"runs ({cells} configurations x seeds) · executor {settings.executor}, {settings.max_concurrent} "
                  f"at a time · storage {escape(store.shown_url)}", markup=True, highlight=False)
    _drive(store, batch_id, settings, quiet)


@batch_app.command("resume")
@_friendly
def resume_batch(
    batch: BatchArg,
    executor: ExecutorOpt = None,
    address: AddressOpt = None,
    max_concurrent: MaxConcurrentOpt = None,
    max_tokens: Annotated[int | None, typer.Option(min=1, help="A new batch token budget (all runs, "
                                                                  "all invocations).")] = None,
    max_cost_usd: Annotated[float | None, typer.Option("--max-cost", min=0.0, help="A new batch budget in "
                                                                                      "US dollars.")] = None,
    max_wall_s: Annotated[float | None, typer.Option("--max-wall", min=0.0, help="A new wall-clock limit "
                                                                                    "for this invocation.")] = None,
    storage: StorageOpt = ...,  # type: ignore[assignment]
    quiet: QuietOpt = False,
) -> None:
    """Finish a stopped, interrupted or killed batch: unfinished runs continue where the store has them,
    finished runs are not run again. A batch stopped by its budget needs a larger one (--max-tokens, ...)."""
    from pydantic import ValidationError

    from evolve.batch.driver import BatchSettings, find_batch
    from evolve.config import config_error_from
    from evolve.store import open_existing

    store = open_existing(storage)
    row = find_batch(store, batch)
    stored = {k: v for k, v in (row["settings"] or {}).items() if k != "driver"}
    budget = {**stored.get("budget", {}), **_given(max_tokens=max_tokens, max_cost_usd=max_cost_usd,
                                                   max_wall_s=max_wall_s)}
    try:
        settings = BatchSettings.model_validate({**stored, "budget": budget,
                                                 **_given(executor=executor, address=address,
                                                          max_concurrent=max_concurrent)})
    except ValidationError as exc:  # a batch row written by another version, or edited by hand
        raise config_error_from(exc, f"batch {row['id']}'s settings (as stored, with the options given)") from None
    console.print(f"[bold]batch {row['id']}[/] · resuming · executor {settings.executor}, "
                  f"{settings.max_concurrent} at a time", highlight=False)
    _drive(store, row["id"], settings, quiet)


@batch_app.command("status")
@_friendly
def status_batch(
    batch: Annotated[str | None, typer.Argument(metavar="[BATCH]", help="Show one batch per configuration "
                                                                           "(id, unique prefix or name).")] = None,
    storage: StorageOpt = ...,  # type: ignore[assignment]
) -> None:
    """List the batches in the store, or one batch: runs by status, tokens and cost so far, and per
    configuration the median of its seeds' best scores and the best."""
    from evolve.batch.driver import driver_gone, find_batch
    from evolve.batch.summary import render_batches, render_summary, summarize_batch
    from evolve.store import open_existing

    store = open_existing(storage)
    if batch is None:
        console.print(render_batches(store.list_batches(), title=Text(store.shown_url)))
        return
    row = find_batch(store, batch)
    console.print(render_summary(summarize_batch(store, row)))
    if driver_gone(row):
        console.print(Text(f"no process drives this batch any more (it was killed?): `evolve batch resume "
                           f"{row['id'][:8]}` finishes it", style="yellow"))


@batch_app.command("export")
@_friendly
def export_batch_cmd(
    batch: BatchArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write runs.* and candidates.* into.")],
    storage: StorageOpt = ...,  # type: ignore[assignment]
) -> None:
    """Write tidy tables (CSV and Parquet): one row per run with its sweep values and outcome, and one row per
    stored candidate with its run's values, seq, status, score, best so far and cumulative tokens and cost."""
    from evolve.batch.driver import find_batch
    from evolve.batch.export import export_batch
    from evolve.store import open_existing

    store = open_existing(storage)
    row = find_batch(store, batch)
    for path in export_batch(store, row["id"], out):
        console.print(f"wrote {path}", markup=False, highlight=False)


def _drive(store: Store, batch_id: str, settings: BatchSettings, quiet: bool) -> None:
    from rich.live import Live

    from evolve.batch.driver import BatchDriver
    from evolve.batch.summary import BatchSummary, render_summary, summarize_batch

    if quiet:
        final = BatchDriver(store, batch_id, settings).run()
    else:
        with Live(Text("starting..."), console=console, refresh_per_second=2, transient=True) as live:
            driver = BatchDriver(store, batch_id, settings)

            def redraw(summary: BatchSummary) -> None:
                live.update(render_summary(summary, max_cells=_MAX_LIVE_CELLS, elapsed_s=driver.elapsed_s))

            driver.on_tick = redraw
            final = driver.run()
    console.print(render_summary(summarize_batch(store, final), max_cells=None))
    console.print(f"status: evolve batch status {batch_id[:8]}  ·  tables: evolve batch export {batch_id[:8]} "
                  f"--out DIR" + ("" if final["status"] == "finished" else
                                  f"  ·  finish it: evolve batch resume {batch_id[:8]}"), highlight=False)
    if final["status"] == "failed":
        raise typer.Exit(1)


def _print_plan(sweep: Sweep, settings: BatchSettings) -> None:
    keys = list(dict.fromkeys(k for plan in sweep.plans for k in plan.params))
    table = Table("#", *keys, "cell", title=Text(f"{shown(sweep.name, 80)}: {len(sweep.plans)} runs (dry run: "
                                                 "nothing stored or started)"))
    for i, plan in enumerate(sweep.plans, 1):
        table.add_row(str(i), *(Text(shown(_text(plan.params.get(k)), 60, one_line=True)) for k in keys), plan.cell)
    console.print(table)
    budget = ", ".join(f"{k}={v}" for k, v in settings.budget.model_dump().items() if v is not None) or "none"
    console.print(f"executor {settings.executor}, {settings.max_concurrent} at a time · batch budget: {budget}",
                  highlight=False)


def _given(**options: Any) -> dict[str, Any]:
    return {k: v for k, v in options.items() if v is not None}


def _text(value: Any) -> str:
    return "" if value is None else str(value)
