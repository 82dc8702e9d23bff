"""Where a batch stands, read from the store only: runs by status, tokens and cost, and per configuration (cell)
the best score of each seed and their median. `evolve batch status` prints it and the live display of
`evolve batch run` redraws it, so both always say the same thing."""

from __future__ import annotations

import collections
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from evolve.safe_text import shown
from evolve.store import RunUsage, Store

#: Run statuses in the order they are counted on screen (`lost`: its worker process died; it is resumable).
RUN_STATUSES = ("finished", "running", "pending", "stopped", "lost", "failed")
_FIXED_PARAMS = ("task", "model", "seed")


@dataclass
class CellSummary:
    """The runs of one configuration across seeds."""

    cell: str
    params: dict[str, Any]  # the run's sweep values without the seed
    maximize: bool
    statuses: collections.Counter[str] = field(default_factory=collections.Counter)
    bests: list[float] = field(default_factory=list)  # each seed's best score so far (runs with an ok candidate)

    @property
    def best(self) -> float | None:
        if not self.bests:
            return None
        return max(self.bests) if self.maximize else min(self.bests)

    @property
    def median(self) -> float | None:
        return statistics.median(self.bests) if self.bests else None


@dataclass
class BatchSummary:
    batch: dict[str, Any]
    runs: list[dict[str, Any]]
    usage: RunUsage
    statuses: collections.Counter[str]
    cells: list[CellSummary]
    children: int


def run_best(row: dict[str, Any]) -> float | None:
    """A run's best score from a `Store.list_runs` row."""
    return row["hi"] if row["direction"] == "maximize" else row["lo"]


def summarize_batch(store: Store, batch: dict[str, Any]) -> BatchSummary:
    runs = store.list_runs(batch_id=batch["id"])
    cells: dict[str, CellSummary] = {}
    for row in runs:
        params = {k: v for k, v in (row["params"] or {}).items() if k != "seed"}
        cell = cells.setdefault(row["cell"] or row["id"],
                                CellSummary(row["cell"] or row["id"], params, row["direction"] == "maximize"))
        cell.statuses[row["status"]] += 1
        if (best := run_best(row)) is not None:
            cell.bests.append(best)
    return BatchSummary(batch, runs, store.batch_usage(batch["id"]),
                        collections.Counter(r["status"] for r in runs), list(cells.values()),
                        sum(r["children"] or 0 for r in runs))


def counts_line(summary: BatchSummary) -> str:
    """'3 finished · 2 running · ... · 1,234 tokens · $0.01 · 40 children' (statuses present only)."""
    parts = [f"{summary.statuses[s]} {s}" for s in RUN_STATUSES if summary.statuses[s]]
    parts += [f"{n} {s}" for s, n in summary.statuses.items() if s not in RUN_STATUSES]
    return (f"{len(summary.runs)} runs: " + " · ".join(parts) + f" · {summary.children} children · "
            f"{summary.usage.tokens:,} tokens · ${summary.usage.cost_usd:.4f}")


def render_summary(summary: BatchSummary, *, max_cells: int | None = None, elapsed_s: float | None = None) -> Group:
    """The batch's header, its counts and a table with one row per cell (the first `max_cells` of them)."""
    batch = summary.batch
    head = Text(f"batch {batch['id']} · {shown(batch['name'], 80)} · {batch['status']}"
                + (f" ({shown(batch['stop_reason'], 200)})" if batch["stop_reason"] else "")
                + (f" · {elapsed_s:.0f} s" if elapsed_s is not None else ""), style="bold")
    grid_keys = sorted({k for c in summary.cells for k in c.params if k not in _FIXED_PARAMS})
    table = Table("task", "model", *grid_keys, "runs", "by status", "median best", "best", box=None)
    cells = summary.cells if max_cells is None else summary.cells[:max_cells]
    for cell in cells:
        by_status = " ".join(f"{s}={n}" for s, n in sorted(cell.statuses.items()))
        table.add_row(_plain(cell.params.get("task"), 60), _plain(cell.params.get("model"), 60),
                      *(_plain(cell.params.get(k), 40) for k in grid_keys),
                      str(sum(cell.statuses.values())), by_status, _score(cell.median), _score(cell.best))
    parts: list[Any] = [head, Text(counts_line(summary)), table]
    if max_cells is not None and len(summary.cells) > max_cells:
        parts.append(Text(f"... and {len(summary.cells) - max_cells} more configurations "
                          f"(evolve batch status {batch['id'][:8]})"))
    return Group(*parts)


def render_batches(batches: list[dict[str, Any]], title: str | Text) -> Table:
    """The list of batches: id, name, status and their runs by status."""
    table = Table("batch", "name", "status", "runs", "by status", "created", "why it stopped", title=title)
    for b in batches:
        counts = b["run_counts"]
        table.add_row(b["id"], _plain(b["name"], 60), b["status"], str(sum(counts.values())),
                      " ".join(f"{s}={n}" for s, n in sorted(counts.items())),
                      time.strftime("%Y-%m-%d %H:%M", time.localtime(b["created_at"])),
                      _plain(b["stop_reason"], 80))
    return table


def _score(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.6g}"


def _plain(value: Any, limit: int) -> Text:
    """A table cell that is shown as written: no markup, no control characters."""
    return Text("" if value is None else shown(value, limit, one_line=True))
