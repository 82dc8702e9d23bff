"""The `evolve` command: run, resume, status, best, tasks, doctor, import, convert, ui, report, store, and `batch`
(evolve/batch/cli.py)."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from evolve.errors import EvolveError
from evolve.report.command import report as report_command
from evolve.safe_logging import install as install_safe_logging
from evolve.safe_text import shown
from evolve.storage_default import default_storage
from evolve.tracking import TrackerKind
from evolve.ui.command import ui as ui_command

if TYPE_CHECKING:
    from evolve.runner import PreparedRun
    from evolve.store import SplitScore, Store

# The engine (controller, store, models, sandbox, numpy, SQLAlchemy) is imported by the commands that use it, not
# here: `evolve --help` and every command's help load only typer and the option declarations.

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode="rich",
                  help="Evolve programs, prompts and kernels with LLMs, a MAP-Elites archive and a sandbox.")
console = Console()
err_console = Console(stderr=True)


@app.callback()
def _setup() -> None:
    # every command: log records (which may quote a model's or a candidate's text) shown as data
    install_safe_logging()


def _safe(value: object, limit: int = 300) -> str:
    """Stored or candidate-written text for one line of rich output: control characters as visible escapes (see
    evolve.safe_text), and rich markup escaped, so that "[bold]" from a candidate is shown, not applied."""
    return escape(shown(value, limit, one_line=True))


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
TrackOpt = Annotated[Optional[TrackerKind], typer.Option(
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
            err_console.print(f"Error: {shown(exc.message)}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None

    return wrapper


def _run_flags(**flags: Any) -> dict[str, Any]:
    return {k: v for k, v in flags.items() if v is not None}


def _drive(prepared: PreparedRun, quiet: bool, track: str | None = None) -> None:
    import asyncio

    from evolve import tracking
    from evolve.controller import SeedError
    from evolve.progress import RunProgress, summarize

    ctl = prepared.controller
    feed = tracking.follow(track, prepared.store, prepared.run_id)
    task_model = prepared.config.task_model
    console.print(f"[bold]run {prepared.run_id}[/] · task {_safe(prepared.task.name)} · models "
                  f"{_safe(', '.join(m.label for m in prepared.config.models))} · "
                  + (f"task model {_safe(task_model.label)} · " if task_model else "")
                  + f"storage {_safe(prepared.store.shown_url)}")
    for note in prepared.task.notes:
        console.print(f"[yellow]note:[/] {_safe(note, 2000)}")
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
    console.print(f"stopped: {_safe(reason)} · {stats.completed} children · best {fields['best']}"
                  f"{' (' + stats.best_id + ')' if stats.best_id else ''} · {fields['tokens']} · "
                  f"failures: {fields['failures']}{fields['saved']}")
    _print_split_scores(stats.split_scores, prepared.task.spec.objective, prepared.task.spec.kind)
    if prepared.task.spec.kind == "prompt":
        spend = stats.spend
        console.print(f"proposals: {stats.completed} · task-model calls: {int(spend['task_calls'])} (answers from "
                      f"the cache: {int(spend['cache_hits'])} · dev examples skipped by the minibatch cascade: "
                      f"{int(spend['examples_skipped'])})")
    for note in stats.notes:
        console.print(f"[yellow]note:[/] {escape(shown(note))}", highlight=False)
    console.print(f"resume with: evolve resume {prepared.run_id}  ·  best {prepared.task.spec.kind}: "
                  f"evolve best {prepared.run_id}")


def _print_model_stats(store: Store, row: dict[str, Any]) -> None:
    """Each model's pulls (children written), how many beat their parent, mean gain and spend: what a model
    bandit learns from, recomputed from the stored candidates."""
    from evolve.model_selection import model_stats

    arms = model_stats(store.iter_candidates(row["id"]), row["direction"] == "maximize")
    if not arms:
        return
    table = Table("model", "pulls", "improved", "mean gain", "cost", "cost/child", box=None,
                  title=f"models (selection: {row['config'].get('model_selection', 'fixed')})", title_justify="left")
    for arm in arms:
        table.add_row(escape(shown(arm.name)), str(arm.pulls), str(arm.improved), f"{arm.mean_gain:.4g}",
                      f"${arm.cost_usd:.4f}", f"${arm.mean_cost:.5f}")
    console.print(table)


def _print_split_scores(scores: list[SplitScore], objective: str, kind: str) -> None:
    """Seed vs best on the dev split (seen by evolution) and the held-out test split (scored once, at the end),
    the gap between them, and the re-verification of the best (median ± half its range over fresh runs)."""
    from evolve.split_view import flagged, fmt_score, split_rows, verified_best

    if not scores:
        return
    rows, digits = split_rows(scores), ".3f" if kind == "prompt" else ".6g"  # prompts: accuracies
    table = Table("", "candidate", f"dev {objective}", f"test {objective}", "gap", "re-verified", "test calls",
                  box=None)
    for row in rows:
        table.add_row(row.role, row.candidate_id, fmt_score(row.dev, digits), fmt_score(row.test, digits),
                      "" if row.gap is None else f"{row.gap:+.4g}", row.reverified(),
                      "" if row.test is None or not row.test.task_calls else str(row.test.task_calls))
    console.print(table)
    verified = verified_best(scores)
    for cand_id in flagged(scores):
        console.print(f"[yellow]flagged:[/] candidate {cand_id}'s score did not hold when re-evaluated in a fresh "
                      "sandbox" + (f"; the best reported is {verified}, the next one that held" if verified else
                                   "; no checked candidate held"))


@app.command()
@_friendly
def run(
    task: Annotated[Optional[str], typer.Argument(
        help="A task folder, or the name of a built-in task (see `evolve tasks`); omit it with --repo.")] = None,
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
    edit_mode: Annotated[Optional[str], typer.Option(help="auto | diff | rewrite | constrained (line edits under a grammar; auto picks it for local models, diffs for the rest).")] = None,
    sandbox: Annotated[Optional[str], typer.Option(help="Sandbox backend: auto (warm as root, else process) | warm | process | docker | none (unsafe).")] = None,
    model_selection: Annotated[Optional[str], typer.Option(help="With several --model: fixed (their weights) | ucb (a cost-aware bandit on each model's gains) | thompson.")] = None,
    parent_selection: Annotated[Optional[str], typer.Option(help="exploit-explore | weighted (score vs the median, fewer children first) | power-law (by rank).")] = None,
    novelty: Annotated[Optional[bool], typer.Option("--novelty/--no-novelty", help="Reject, unevaluated, children whose code embeds too close to a known one.")] = None,
    novelty_threshold: Annotated[Optional[float], typer.Option(help="Cosine similarity at or above which a child is too close.")] = None,
    novelty_embedder: Annotated[Optional[str], typer.Option(help="minilm (offline, the novelty extra) | local | local:PATH.gguf | openai:MODEL | openai:MODEL@BASE_URL.")] = None,
    meta_interval: Annotated[Optional[int], typer.Option(help="Every this many children, a model writes notes on what worked for later prompts (0: off).")] = None,
    max_evaluations: Annotated[Optional[int], typer.Option(help="Stop when this many children have been evaluated.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No live progress display.")] = False,
    track: TrackOpt = None,
    ui: Annotated[bool, typer.Option("--ui", help="Serve the live dashboard (`evolve ui`) beside the run.")] = False,
    repo: Annotated[Optional[Path], typer.Option(
        "--repo", help="Evolve functions of this git checkout (instead of TASK); it is only read.",
        rich_help_panel="Repository")] = None,
    evolve: Annotated[Optional[list[str]], typer.Option(
        "--evolve", help="FILE::function or FILE::Class.method to evolve, FILE relative to the checkout; "
        "repeatable.", rich_help_panel="Repository")] = None,
    check: Annotated[Optional[str], typer.Option(
        "--check", help="Shell command (the repository's tests) that must exit 0 for a child to be valid.",
        rich_help_panel="Repository")] = None,
    score: Annotated[Optional[str], typer.Option(
        "--score", help="Shell command reporting the metrics: a JSON object as the last stdout line, "
        "`name=value` lines, or a JSON object written to $EVOLVE_METRICS.", rich_help_panel="Repository")] = None,
    objective: Annotated[Optional[str], typer.Option(
        "--objective", help="The metric to optimize (default: score).", rich_help_panel="Repository")] = None,
    maximize: Annotated[Optional[bool], typer.Option(
        "--maximize/--minimize", help="Direction of the objective (default: maximize).",
        rich_help_panel="Repository")] = None,
    max_repo_mb: Annotated[Optional[float], typer.Option(
        "--max-repo-mb", help="Refuse a checkout whose tracked files exceed this (default 50); each child "
        "copies them.", rich_help_panel="Repository")] = None,
) -> None:
    """Start a new evolution run on TASK (or on functions of a git checkout: --repo) and store everything in
    the database."""
    from evolve.runner import new_run, settings_from_cli
    from evolve.ui.command import start_beside_run

    overrides = settings_from_cli(model, task_model, **_run_flags(
        iterations=iterations, seed=seed, max_wall_s=max_wall_s, max_tokens=max_tokens, max_cost_usd=max_cost_usd,
        target_score=target_score, llm_concurrency=llm_concurrency, eval_concurrency=eval_concurrency,
        islands=islands, edit_mode=edit_mode, sandbox=sandbox, model_selection=model_selection,
        parent_selection=parent_selection, novelty=novelty, novelty_threshold=novelty_threshold,
        novelty_embedder=novelty_embedder, meta_interval=meta_interval, max_evaluations=max_evaluations))
    prepared = new_run(_task_or_repo(task, repo, evolve, check, score, objective, maximize, max_repo_mb), storage,
                       overrides)
    if ui:
        console.print(f"dashboard: {start_beside_run(storage)}", markup=False, highlight=False)
    _drive(prepared, quiet, track)


def _task_or_repo(task: str | None, repo: Path | None, evolve: list[str] | None, check: str | None,
                  score: str | None, objective: str | None, maximize: bool | None, max_repo_mb: float | None) -> Any:
    """TASK, or the repository task the --repo flags describe (exactly one of the two)."""
    from evolve.repo_task import repo_task_from_flags

    if repo is None:
        given = [flag for flag, v in (("--evolve", evolve), ("--check", check), ("--score", score),
                                      ("--objective", objective), ("--maximize/--minimize", maximize),
                                      ("--max-repo-mb", max_repo_mb)) if v is not None]
        if task is None or given:
            raise EvolveError(f"{', '.join(given)} only go with --repo" if given else
                              "name a TASK (a folder or a built-in task) or a checkout with --repo PATH")
        return task
    if task is not None:
        raise EvolveError(f"give either TASK ({task}) or --repo, not both")
    direction = None if maximize is None else ("maximize" if maximize else "minimize")
    return repo_task_from_flags(repo, evolve or [], check, score, objective=objective, direction=direction,
                                max_repo_mb=max_repo_mb)


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
    from evolve.runner import resume_run, settings_from_cli

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
    from evolve.store import Store

    store = Store(storage)
    if run_id is None:
        table = Table("run", "task", "status", "children", "ok", "best", "updated", "batch", title=store.shown_url)
        for r in store.list_runs():
            best = r["hi"] if r["direction"] == "maximize" else r["lo"]
            table.add_row(r["id"], _safe(r["task_name"]), r["status"], str(r["children"] or 0), str(r["n"] or 0),
                          "n/a" if best is None else f"{best:.6g}", _ago(r["updated_at"]), r["batch_id"] or "")
        console.print(table)
        return
    row = _get_run(store, run_id)
    best = store.best_candidate(row["id"], row["direction"] == "maximize")
    usage = store.usage(row["id"])
    console.print(f"[bold]run {row['id']}[/] · task {_safe(row['task_name'])} ({_safe(row['task_path'])})")
    console.print(f"status: {row['status']}" + (f" ({_safe(row['stop_reason'], 2000)})" if row["stop_reason"]
                                                else ""))
    if row["batch_id"]:
        console.print(f"batch {row['batch_id']} · cell {row['cell']} · params {shown(row['params'])}", markup=False,
                      highlight=False)
    console.print(f"children: {store.count_candidates(row['id'], children_only=True)} of {row['config']['iterations']} · "
                  f"by status: {store.status_counts(row['id'])}")
    console.print(f"tokens: {usage.tokens:,} · cost: ${usage.cost_usd:.4f}")
    console.print(f"best {row['objective']}: " + ("n/a" if best is None else f"{best.score:.6g} ({best.id})"))
    _print_model_stats(store, row)
    for note in row["environment"].get("notes", []):
        console.print(f"[yellow]note:[/] {escape(shown(note))}", highlight=False)
    _print_split_scores(store.split_scores(row["id"]), row["objective"], row["kind"])
    console.print(f"sandbox: {_safe(row['environment'].get('sandbox'), 4000)}")


@app.command()
@_friendly
def best(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="Run id (or a unique prefix).")],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write the source to this file.")] = None,
    storage: StorageOpt = ...,  # type: ignore[assignment]
    patch: Annotated[bool, typer.Option("--patch", help="Repository runs: print (or write to --out) the best "
                                        "child as a patch against the checkout, for `git apply`.")] = False,
) -> None:
    """Print (or export) the best candidate of a run: the one whose score held on re-verification, if the run
    re-verified its best, with its held-out test score where the task has one."""
    from evolve.split_view import verified_best
    from evolve.store import Store

    store = Store(storage)
    row = _get_run(store, run_id)
    scores = store.split_scores(row["id"])
    verified = verified_best(scores)
    cand = (store.get_candidate(verified) if verified else None) or store.best_candidate(
        row["id"], row["direction"] == "maximize")
    if cand is None:
        raise EvolveError(f"run {row['id']} has no successfully evaluated candidate yet")
    extra = "".join(f" · {label} {text}" for label, text in _best_notes(scores, cand.id) if text)
    if patch:
        from evolve.repo_task import patch_of_run

        text = patch_of_run(row, cand.source)
        if out is not None:
            out.write_text(text, encoding="utf-8")
            err_console.print(f"wrote the patch of candidate {cand.id} ({row['objective']} = {cand.score:.6g}"
                              f"{extra}) to {out}; apply it with: git apply {out}", markup=False, highlight=False)
        else:
            print(text, end="")
        return
    if out is not None:
        out.write_text(cand.source, encoding="utf-8")
        err_console.print(f"wrote candidate {cand.id} ({_safe(row['objective'])} = {cand.score:.6g}"
                          f"{_safe(extra)}) to {_safe(out)}")
    else:
        err_console.print(f"# candidate {cand.id} · {_safe(row['objective'])} = {cand.score:.6g}{_safe(extra)} · "
                          f"generation {cand.generation}")
        # the exact source into a pipe or file (what a user redirects or pipes it for); on a terminal, which
        # would act on any escape sequence in it, control characters are written as visible escapes
        source = shown(cand.source, limit=len(cand.source)) if sys.stdout.isatty() else cand.source
        if source != cand.source:
            err_console.print("# control characters are shown as escapes; --out FILE or a pipe gets the exact "
                              "source", markup=False)
        print(source, end="" if source.endswith("\n") else "\n")


def _best_notes(scores: list[SplitScore], cand_id: str) -> list[tuple[str, str]]:
    """The held-out score and the re-verification of the candidate `evolve best` shows, where it has them."""
    from evolve.split_view import flagged, fmt_score, split_rows

    mine = [r for r in split_rows(scores) if r.candidate_id == cand_id and r.role == "best"]
    notes = [("FLAGGED:", "its score did not hold on re-verification")] if cand_id in flagged(scores) else []
    if mine:
        notes += [("test", fmt_score(mine[0].test)), ("re-verified", mine[0].reverified())]
    return notes


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
        table.add_row(key, _safe(value, 2000))
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
@app.command("import")
@_friendly
def import_(
    path: Annotated[Path, typer.Argument(help="An OpenEvolve checkpoint folder (or its output folder holding "
                                         "checkpoints/), or a ShinkaEvolve results folder (or its .sqlite file).")],
    task: Annotated[Optional[str], typer.Option("--task", help="The task folder, when it is not found next to the "
                                                "peer's output.")] = None,
    storage: StorageOpt = ...,  # type: ignore[assignment]
) -> None:
    """Import an OpenEvolve or ShinkaEvolve run into the store, to inspect it and `evolve resume` it here."""
    from evolve.peers.importer import import_run

    done = import_run(path, storage, task)
    console.print(f"imported {len(done.peer.programs)} programs from {done.peer.format} ({done.peer.path}) as run "
                  f"[bold]{done.run_id}[/] · task {done.task.name} ({done.task.root}) · by status: {done.counts}",
                  highlight=False)
    console.print(f"inspect: evolve status {done.run_id} · evolve best {done.run_id} · continue: evolve resume "
                  f"{done.run_id} --iterations N", highlight=False)


@app.command()
@_friendly
def convert(
    folder: Annotated[str, typer.Argument(help="An OpenEvolve task folder (interface: path).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The new task folder to write (must not exist).")],
) -> None:
    """Write a copy of an OpenEvolve folder that uses the tamper-proof `call` interface, if its evaluator allows."""
    from evolve.peers.convert import convert_folder

    report = convert_folder(folder, out)
    console.print(report, highlight=False)


def _get_run(store: Store, run_id: str) -> dict[str, Any]:
    row = store.get_run(run_id)
    if row is None:
        raise EvolveError(f"no run '{run_id}' in {store.shown_url} (see `evolve status`)")
    return row


def _ago(ts: float) -> str:
    import time

    secs = max(0, int(time.time() - ts))
    return f"{secs}s ago" if secs < 120 else f"{secs // 60}m ago" if secs < 7200 else f"{secs // 3600}h ago"


app.command("report")(_friendly(report_command))

from evolve.batch.cli import batch_app  # last: it uses this module's options and console

app.add_typer(batch_app, name="batch")

store_app = typer.Typer(no_args_is_help=True, help="The store's schema version; upgrade a store made by an older "
                        "Evolve.")
app.add_typer(store_app, name="store")


@store_app.command("version")
@_friendly
def store_version(storage: StorageOpt = ...) -> None:  # type: ignore[assignment]
    """Print the store's schema version and the one this Evolve uses."""
    from evolve.store_cli import describe_version

    console.print(describe_version(storage), markup=False, highlight=False, soft_wrap=True)


@store_app.command("upgrade")
@_friendly
def store_upgrade(storage: StorageOpt = ...) -> None:  # type: ignore[assignment]
    """Upgrade the store to this Evolve's schema version, in one transaction. Stop its runs and back it up first."""
    from evolve.store_cli import upgrade_store

    console.print(upgrade_store(storage), markup=False, highlight=False, soft_wrap=True)
