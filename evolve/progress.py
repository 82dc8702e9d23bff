"""The live progress display of a run (rich): iterations, best score, candidates/s, tokens and failures by kind."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from evolve.controller import RunStats
from evolve.safe_text import shown

_FAILURES = ("invalid", "crashed", "timeout", "sandbox-violation", "rejected-duplicate", "rejected-novelty",
             "skipped")


def summarize(stats: RunStats) -> dict[str, str]:
    """The display's fields as text; also used for the final line printed after the run."""
    best = "n/a" if stats.best_score is None else f"{stats.best_score:.6g}"
    failures = " ".join(f"{k}={stats.by_status[k]}" for k in _FAILURES if stats.by_status[k]) or "none"
    if stats.llm_failures:
        failures += f" llm-errors={stats.llm_failures}"
    saved = f" · {stats.twins} functional twins (evaluations saved)" if stats.twins else ""
    if stats.by_status["rejected-novelty"]:
        saved += f" · {stats.by_status['rejected-novelty']} too close to known ones (evaluations saved)"
    cost = f" ${stats.cost_usd:.4f}" if stats.cost_usd else ""
    return {"best": best, "rate": f"{stats.rate:.2f}/s", "tokens": f"{stats.tokens:,} tok{cost}",
            "failures": failures, "saved": saved}


class RunProgress:
    """Context manager; `update(stats)` is safe to call after every child."""

    def __init__(self, console: Console, label: str, stats_target: int) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("best [green]{task.fields[best]}[/] · {task.fields[rate]} · {task.fields[tokens]}"
                       " · failures: {task.fields[failures]}{task.fields[saved]}"),
            console=console, transient=False, refresh_per_second=4,
        )
        # the label is rendered as rich markup (the "[bold]" column): the task's name must be shown, not applied
        self.task_id = self.progress.add_task(escape(shown(label, 80, one_line=True)), total=stats_target, best="n/a", rate="", tokens="", failures="",
                                          saved="")

    def __enter__(self) -> RunProgress:
        self.progress.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.progress.stop()

    def update(self, stats: RunStats) -> None:
        self.progress.update(self.task_id, completed=stats.completed, total=stats.target, **summarize(stats))
