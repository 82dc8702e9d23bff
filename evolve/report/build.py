"""Assemble a report from the store: load the runs, compute tables and figures, write the page, PNG, SVG and CSV."""

from __future__ import annotations

import base64
import csv
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from evolve.output_folder import output_folder
from evolve.report import figures, stats, tables
from evolve.report.data import OUTCOMES, RunData, Selection, load
from evolve.report.heldout import HeldOutRow, heldout_rows
from evolve.report.html import render_page
from evolve.safe_text import spreadsheet_safe
from evolve.store import Store

# (file name, x axis label, the run's series for x, a note when no run spent anything on this axis, tick kind)
_BUDGETS: list[tuple[str, str, Callable[[RunData], np.ndarray], str, str]] = [
    ("best_vs_evaluations", "evaluations (children stored)", lambda r: r.evaluations, "no child stored yet",
     "count"),
    ("best_vs_tokens", "tokens (prompt + completion)", lambda r: r.tokens, "no tokens recorded", "amount"),
    ("best_vs_cost", "cost (USD)", lambda r: r.cost,
     "no cost recorded: the models used are free (local or scripted) or unpriced", "usd"),
]


@dataclass(frozen=True)
class ReportFiles:
    page: Path
    figures: list[Path]
    tables: list[Path]


def write_report(store: Store, refs: list[str], out: Path, baseline: str | None = None) -> ReportFiles:
    """Write `out`/report.html (self-contained), `out`/figures/*.png|svg and `out`/*.csv for the named runs."""
    sel = load(store, refs)
    finals = tables.final_scores(sel)
    rates = tables.outcome_rates(sel)
    comparisons = tables.comparisons(sel, baseline)
    runs = tables.run_rows(sel)
    heldout = heldout_rows(store, sel)
    output_folder(out)
    figure_dir = out / "figures"
    built: list[tuple[str, str, str]] = []  # (name, caption, base64 png)
    files: list[Path] = []
    for name, x_label, series, empty, x_kind in _BUDGETS:
        fig = figures.progress_figure(_progress_panels(sel, series, empty), x_label,
                                      f"Best score so far vs {x_label.split(' (')[0]}", x_kind)
        files += _keep(fig, figure_dir, name, f"best score so far vs {x_label}", built)
    fig = figures.finals_figure(_finals_panels(sel, finals), "Final best score per configuration")
    files += _keep(fig, figure_dir, "final_scores", "final best score per configuration (one dot per seed)", built)
    csvs = _write_csvs(out, finals, rates, comparisons, runs, heldout)
    page = out / "report.html"
    page.write_text(render_page(
        title=sel.title, store_url=store.engine.url.render_as_string(hide_password=True), selection=sel,
        finals=finals, rates=rates, outcomes=OUTCOMES, comparisons=comparisons, baseline=baseline,
        failures=tables.failure_reasons(sel), runs=runs, figures=built, heldout=heldout,
    ), encoding="utf-8")
    return ReportFiles(page, files, csvs)


def _keep(fig: Figure, folder: Path, name: str, caption: str, built: list[tuple[str, str, str]]) -> list[Path]:
    """Write the figure's PNG and SVG and keep its PNG (base64) for the page."""
    rendered = figures.render(fig)
    built.append((name, caption, base64.b64encode(rendered["png"]).decode("ascii")))
    return figures.save(rendered, folder, name)


def _curve(run: RunData, series: Callable[[RunData], np.ndarray]) -> tuple[np.ndarray, np.ndarray] | None:
    """The run's (x, best so far) from its first scored candidate on; None when nothing scored."""
    scored = np.flatnonzero(~np.isnan(run.best))
    if not scored.size:
        return None
    return series(run)[scored[0]:], run.best[scored[0]:]


def _progress_panels(sel: Selection, series: Callable[[RunData], np.ndarray],
                     empty: str) -> list[figures.ProgressPanel]:
    panels = []
    for task in sel.tasks():
        curves = []
        for cell in sel.cells(task):
            points = [c for r in sel.runs_of(task, cell) if (c := _curve(r, series)) is not None]
            if points:
                curves.append(figures.Curve(sel.labels[cell], stats.curve_band(points)))
        first = sel.runs_of(task, sel.cells(task)[0])[0]
        spent = any(float(series(r)[-1]) > 0 for r in sel.runs if r.task == task and series(r).size)
        panels.append(figures.ProgressPanel(
            title=task, y_label=_score_label(first), curves=curves, best_known=first.best_known,
            note=None if curves and spent else (empty if curves else "no candidate scored yet")))
    return panels


def _finals_panels(sel: Selection, finals: list[tables.FinalScores]) -> list[figures.FinalsPanel]:
    panels = []
    for task in sel.tasks():
        rows = [f for f in finals if f.task == task]
        first = sel.runs_of(task, sel.cells(task)[0])[0]
        panels.append(figures.FinalsPanel(
            title=task, x_label=_score_label(first, "final best {}"),
            rows=[figures.FinalsRow(f.label, [v for _, v in f.per_seed], f.median, f.low, f.high) for f in rows],
            best_known=rows[0].best_known, seed_score=rows[0].seed_score))
    return panels


def _score_label(run: RunData, what: str = "best {} so far") -> str:
    return (f"{what.format(figures.label_text(run.objective, 24))} "
            f"({'higher' if run.maximize else 'lower'} is better)")


def _write_csvs(out: Path, finals: list[tables.FinalScores], rates: list[tables.Rates],
                comparisons: list[tables.Comparison], runs: list[RunData], heldout: list[HeldOutRow]) -> list[Path]:
    """The tables as tidy CSV, for a paper's own plots (values as stored; text is the page's job to escape)."""
    def write(name: str, header: list[str], rows: list[list[object]]) -> Path:
        path = out / f"{name}.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            writer.writerows([[_cell(v) for v in row] for row in rows])
        return path

    return [
        write("final_scores", ["task", "configuration", "objective", "seeds", "median", "ci_low", "ci_high",
                               "seed_program_score", "best_known", "per_seed"],
              [[f.task, f.label, f.objective, f.seeds, f.median, f.low, f.high, f.seed_score, f.best_known,
                " ".join(f"{s}:{v:.6g}" for s, v in f.per_seed)] for f in finals]),
        write("outcome_rates", ["task", "configuration", "runs", "children", *OUTCOMES],
              [[r.task, r.label, r.runs, r.children, *(r.counts[o] for o in OUTCOMES)] for r in rates]),
        write("comparisons", ["task", "a", "b", "mean_difference", "ci_low", "ci_high", "p_a_better",
                              "p_b_better", "n_a", "n_b"],
              [[c.task, c.a, c.b, c.difference.estimate, c.difference.low, c.difference.high,
                c.difference.p_a_better, c.difference.p_b_better, c.difference.n_a, c.difference.n_b]
               for c in comparisons]),
        write("runs", ["run", "task", "configuration", "seed", "status", "stop_reason", "children", "final_best",
                       "tokens", "cost_usd", "wall_s"],
              [[r.id, r.task, r.label, r.seed, r.status, r.stop_reason, r.children, r.final, r.tokens_total,
                r.cost_total, r.wall_s] for r in runs]),
        write("heldout", ["run", "task", "configuration", "seed", "seed_dev", "seed_test", "best_dev", "best_test",
                          "gap", "reverified", "flagged"],
              [[h.run.id, h.run.task, h.run.label, h.run.seed, *h.values.values(), h.reverified,
                " ".join(h.flagged)] for h in heldout]),
    ]


def _cell(value: object) -> object:
    """Empty for missing values; text that a spreadsheet would run as a formula is quoted."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return spreadsheet_safe(value)
