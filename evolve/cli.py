"""The `evolve` command: run, resume, status, best, tasks, doctor, and `batch` (evolve/batch/cli.py)."""

from __future__ import annotations

import asyncio
import functools
import os
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from evolve import tracking
from evolve.controller import SeedError
from evolve.errors import EvolveError
from evolve.progress import RunProgress, summarize
from evolve.report.command import report as report_command
from evolve.runner import PreparedRun, default_storage, new_run, resume_run, settings_from_cli
from evolve.store import SplitScore, Store
from evolve.ui.command import start_beside_run, ui as ui_command

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode="rich",
                  help="Evolve programs, prompts and kernels with LLMs, a MAP-Elites archive and a sandbox.")
console = Console()
err_console = Console(stderr=True)

StorageOpt = Annotated[str, typer.Option("--storage", "-s", help="Database URL (SQLAlchemy) or SQLite file path. "
                                         "Env: EVOLVE_STORAGE.", default_factory=default_storage,
                                         show_default="sqlite:///evolve.db")]
ModelOpt = Annotated[Optional[list[str]], typer.Option(
    "--model", "-m", help="Model spec, repeatable for an ensemble: local | local:FILE.gguf | openai:NAME | "
    "anthropic:NAME | openai:NAME@BASE_URL (any OpenAI-compatible server); suffix =WEIGHT. "
    "Default: OpenAI or Anthropic if their API key is set, else the embedded local model.")]
IterOpt = Annotated[Optional[int], typer.Option("--iterations", "-n", help="Children to store (the run's total).")]
TaskModelOpt = Annotated[Optional[str], typer.Option(
    "--task-model", help="Prompt tasks: the model that answers with each prompt (same forms as --model, no "
    "weight); --model is the optimizer that writes prompts. Default: the first --model.")]
TrackOpt = Annotated[Optional[tracking.TrackerKind], typer.Option(
    "--track", help="Also log the run's settings and its score, token "
    "and cost series to an experiment tracker (needs the mlflow or wandb extra; configured by its usual "
    "environment variables, e.g. MLFLOW_TRACKING_URI, WANDB_MODE=offline).")]


def _friendly(command):
    """Print an EvolveError as one line on stderr and exit 2, without a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except EvolveError as exc:
            err_console.print(f"Error: {exc.message}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None

    return wrapper


def _run_flags(**flags: Any) -> dict[str, Any]:
    return {k: v for k, v in flags.items() if v is not None}


def _drive(prepared: PreparedRun, quiet: bool, track: str | None = None) -> None:
    ctl = prepared.controller
    feed = tracking.follow(track, prepared.store, prepared.run_id)
    task_model = prepared.config.task_model
    console.print(f"[bold]run {prepared.run_id}[/] · task {prepared.task.name} · models "
                  f"{', '.join(m.label for m in prepared.config.models)} · "
                  + (f"task model {task_model.label} · " if task_model else "")
                  + f"storage {prepared.store.url}")
    for note in prepared.task.notes:
        console.print(f"[yellow]note:[/] {note}")
    try:
        if quiet:
            ctl.on_update = tracking.chain(ctl.on_update, feed)
            reason = asyncio.run(ctl.run())
        else:
            with RunProgress(console, prepared.task.name, prepared.config.iterations) as display:
                ctl.on_update = tracking.chain(display.update, feed)
                reason = asyncio.run(ctl.run())
    except SeedError as exc:
        prepared.store.set_run_status(prepared.run_id, "failed", str(exc))
        raise EvolveError(str(exc)) from None
    except KeyboardInterrupt:
        reason = "interrupted"
    finally:
        if feed is not None:
            feed.finish()
    stats = ctl.stats
    fields = summarize(stats)
    console.print(f"stopped: {reason} · {stats.completed} children · best {fields['best']}"
                  f"{' (' + stats.best_id + ')' if stats.best_id else ''} · {fields['tokens']} · "
                  f"failures: {fields['failures']}{fields['saved']}")
    if prepared.task.spec.kind == "prompt":
        _print_split_scores(stats.split_scores, prepared.task.spec.objective)
        spend = stats.spend
        console.print(f"proposals: {stats.completed} · task-model calls: {int(spend['task_calls'])} (answers from "
                      f"the cache: {int(spend['cache_hits'])} · dev examples skipped by the minibatch cascade: "
                      f"{int(spend['examples_skipped'])})")
    console.print(f"resume with: evolve resume {prepared.run_id}  ·  best {prepared.task.spec.kind}: "
                  f"evolve best {prepared.run_id}")


def _print_split_scores(scores: list[SplitScore], objective: str) -> None:
    """Seed vs best on the dev split (seen by evolution) and the held-out test split (scored once, at the end)."""
    if not scores:
        return
    table = Table("", "candidate", f"dev {objective}", f"test {objective}", "test calls", box=None)
    rows: dict[tuple[str, str], dict[str, SplitScore]] = {}
    for score in scores:
        rows.setdefault((score.role, score.candidate_id), {})[score.split] = score
    for (role, cand_id), by_split in rows.items():
        dev, test = by_split.get("dev"), by_split.get("test")
        table.add_row(role, cand_id, "" if dev is None else f"{dev.score:.3f} (n={dev.examples})",
                      "" if test is None else f"{test.score:.3f} (n={test.examples})",
                      "" if test is None else str(test.task_calls))
    console.print(table)


@app.command()
@_friendly
def run(
    task: Annotated[str, typer.Argument(help="A task folder, or the name of a built-in task (see `evolve tasks`).")],
    model: ModelOpt = None,
    task_model: TaskModelOpt = None,
    iterations: IterOpt = None,
    storage: StorageOpt = ...,  # type: ignore[assignment]
    seed: Annotated[Optional[int], typer.Option(help="Random seed of sampling (and of the model where it takes one).")] = None,
    max_wall_s: Annotated[Optional[float], typer.Option("--max-wall", help="Stop after this many seconds.")] = None,
    max_tokens: Annotated[Optional[int], typer.Option(help="Stop when the run has used this many tokens.")] = None,
    max_cost_usd: Annotated[Optional[float], typer.Option("--max-cost", help="Stop at this many US dollars.")] = None,
    target_score: Annotated[Optional[float], typer.Option("--target", help="Stop when the best score reaches this.")] = None,
    llm_concurrency: Annotated[Optional[int], typer.Option(help="LLM calls in flight at once.")] = None,
    eval_concurrency: Annotated[Optional[int], typer.Option(help="Sandboxed evaluations at once (default: cores).")] = None,
    islands: Annotated[Optional[int], typer.Option(help="Number of islands.")] = None,
    edit_mode: Annotated[Optional[str], typer.Option(help="auto | diff | rewrite.")] = None,
    sandbox: Annotated[Optional[str], typer.Option(help="Sandbox backend: auto (warm as root, else process) | warm | process | docker | none (unsafe).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No live progress display.")] = False,
    track: TrackOpt = None,
    ui: Annotated[bool, typer.Option("--ui", help="Serve the live dashboard (`evolve ui`) beside the run.")] = False,
) -> None:
    """Start a new evolution run on TASK and store everything in the database."""
    overrides = settings_from_cli(model, task_model, **_run_flags(
        iterations=iterations, seed=seed, max_wall_s=max_wall_s, max_tokens=max_tokens, max_cost_usd=max_cost_usd,
        target_score=target_score, llm_concurrency=llm_concurrency, eval_concurrency=eval_concurrency,
        islands=islands, edit_mode=edit_mode, sandbox=sandbox))
    prepared = new_run(task, storage, overrides)
    if ui:
        console.print(f"dashboard: {start_beside_run(storage)}", markup=False, highlight=False)
    _drive(prepared, quiet, track)


@app.command()
@_friendly
def resume(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="Run id (or a unique prefix of it).")],
    storage: StorageOpt = ...,  # type: ignore[assignment]
    iterations: IterOpt = None,
    model: ModelOpt = None,
    max_wall_s: Annotated[Optional[float], typer.Option("--max-wall", help="Stop after this many seconds.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No live progress display.")] = False,
    track: TrackOpt = None,
) -> None:
    """Continue a stopped, finished or killed run from the store; nothing stored is redone."""
    overrides = settings_from_cli(model, **_run_flags(iterations=iterations, max_wall_s=max_wall_s))
    from evolve.batch.driver import refuse_if_batch_drives

    refuse_if_batch_drives(storage, run_id)
    _drive(resume_run(run_id, storage, overrides), quiet, track)


@app.command()
@_friendly
def status(
    run_id: Annotated[Optional[str], typer.Argument(metavar="[RUN]", help="Show one run in detail.")] = None,
    storage: StorageOpt = ...,  # type: ignore[assignment]
) -> None:
    """List the runs in the store, or show one run's figures."""
    store = Store(storage)
    if run_id is None:
        table = Table("run", "task", "status", "children", "ok", "best", "updated", "batch", title=store.url)
        for r in store.list_runs():
            best = r["hi"] if r["direction"] == "maximize" else r["lo"]
            table.add_row(r["id"], r["task_name"], r["status"], str(r["children"] or 0), str(r["n"] or 0),
                          "n/a" if best is None else f"{best:.6g}", _ago(r["updated_at"]), r["batch_id"] or "")
        console.print(table)
        return
    row = _get_run(store, run_id)
    best = store.best_candidate(row["id"], row["direction"] == "maximize")
    usage = store.usage(row["id"])
    console.print(f"[bold]run {row['id']}[/] · task {row['task_name']} ({row['task_path']})")
    console.print(f"status: {row['status']}" + (f" ({row['stop_reason']})" if row["stop_reason"] else ""))
    if row["batch_id"]:
        console.print(f"batch {row['batch_id']} · cell {row['cell']} · params {row['params']}", markup=False,
                      highlight=False)
    console.print(f"children: {store.count_candidates(row['id'], children_only=True)} of {row['config']['iterations']} · "
                  f"by status: {store.status_counts(row['id'])}")
    console.print(f"tokens: {usage.tokens:,} · cost: ${usage.cost_usd:.4f}")
    console.print(f"best {row['objective']}: " + ("n/a" if best is None else f"{best.score:.6g} ({best.id})"))
    _print_split_scores(store.split_scores(row["id"]), row["objective"])
    console.print(f"sandbox: {row['environment'].get('sandbox')}")


@app.command()
@_friendly
def best(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="Run id (or a unique prefix).")],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write the source to this file.")] = None,
    storage: StorageOpt = ...,  # type: ignore[assignment]
) -> None:
    """Print (or export) the best candidate of a run."""
    store = Store(storage)
    row = _get_run(store, run_id)
    cand = store.best_candidate(row["id"], row["direction"] == "maximize")
    if cand is None:
        raise EvolveError(f"run {row['id']} has no successfully evaluated candidate yet")
    if out is not None:
        out.write_text(cand.source, encoding="utf-8")
        err_console.print(f"wrote candidate {cand.id} ({row['objective']} = {cand.score:.6g}) to {out}")
    else:
        err_console.print(f"# candidate {cand.id} · {row['objective']} = {cand.score:.6g} · generation "
                          f"{cand.generation}")
        print(cand.source, end="" if cand.source.endswith("\n") else "\n")


@app.command()
@_friendly
def tasks() -> None:
    """List the built-in tasks: kind, objective, the seed's score and the best known value (and who holds it)."""
    from evolve.resources import builtin_task_dirs
    from evolve.task import load_task

    table = Table("task", "kind", "objective", "seed", "best known", "held by / reference", title="built-in tasks")
    for name, path in sorted(builtin_task_dirs().items()):
        spec = load_task(path).spec
        table.add_row(name, spec.kind, f"{spec.objective} ({spec.direction[:3]})",
                      "" if spec.seed_score is None else f"{spec.seed_score:.6g}",
                      "" if spec.best_known is None else f"{spec.best_known:.6g}", spec.best_known_by[:70])
    console.print(table)
    console.print("Run one with `evolve run NAME`; each task's README.md gives its source and scoring.")


@app.command()
@_friendly
def doctor() -> None:
    """Report the isolation the sandbox has on this machine and which models are reachable."""
    from evolve.llm import default_models
    from sandbox import get_sandbox

    info = get_sandbox("auto").describe()
    table = Table("sandbox feature", "state")
    for key, value in info.items():
        table.add_row(key, str(value))
    console.print(table)
    keys = [k for k in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY") if os.environ.get(k)]
    console.print(f"API keys present: {', '.join(keys) or 'none'}")
    console.print(f"default model(s): {', '.join(m.label for m in default_models(os.environ))}")
    try:
        import llama_cpp  # noqa: F401

        console.print("embedded model runtime: llama-cpp-python installed")
    except ImportError:
        console.print("embedded model runtime: [yellow]missing[/] (pip install 'evolve-lab[local]')")


app.command("ui")(_friendly(ui_command))


def _get_run(store: Store, run_id: str) -> dict[str, Any]:
    row = store.get_run(run_id)
    if row is None:
        raise EvolveError(f"no run '{run_id}' in {store.url} (see `evolve status`)")
    return row


def _ago(ts: float) -> str:
    import time

    secs = max(0, int(time.time() - ts))
    return f"{secs}s ago" if secs < 120 else f"{secs // 60}m ago" if secs < 7200 else f"{secs // 3600}h ago"


app.command("report")(_friendly(report_command))

from evolve.batch.cli import batch_app  # last: it uses this module's options and console

app.add_typer(batch_app, name="batch")
