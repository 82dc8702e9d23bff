"""The report's figures (matplotlib): data in, a Figure out, one message per figure.

- `progress_figure`: best score so far against a budget (evaluations, tokens or USD), one panel per task, one
  line per configuration (the median across seeds) with its 95% interval as a band and the task's best-known value.
- `finals_figure`: each configuration's final best score per seed, its median and interval, one panel per task.

Figures are built on `matplotlib.figure.Figure` (no pyplot, no global state, safe in a server thread) inside an
rc context that turns off mathtext: labels are task names and settings that users and models wrote, and a `$` in
them must print as a dollar, not start TeX. The dashboard builds the same figures from the same functions.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib import lines, patches, ticker
from matplotlib.figure import Figure

from evolve.report.stats import Band
from evolve.safe_text import shown

_RC = {"text.parse_math": False, "font.size": 10, "axes.titlesize": 11, "legend.fontsize": 9,
       "svg.hashsalt": "evolve-report", "svg.fonttype": "path", "axes.spines.top": False,
       "axes.spines.right": False}
_COLORS = matplotlib.colormaps["tab10"].colors
_MAX_COLUMNS = 3


@dataclass(frozen=True)
class Curve:
    label: str  # the configuration
    band: Band


@dataclass(frozen=True)
class ProgressPanel:
    title: str  # the task
    y_label: str  # e.g. "best sum_radii so far (higher is better)"
    curves: Sequence[Curve]
    best_known: float | None = None
    note: str | None = None  # shown instead of curves (e.g. "no cost recorded")


@dataclass(frozen=True)
class FinalsRow:
    label: str
    values: Sequence[float]  # one final best per seed
    median: float
    low: float
    high: float


@dataclass(frozen=True)
class FinalsPanel:
    title: str
    x_label: str
    rows: Sequence[FinalsRow]
    best_known: float | None = None
    seed_score: float | None = None


def label_text(text: str, limit: int = 40) -> str:
    """Text for a figure: control characters escaped, one line, bounded; a leading underscore (which matplotlib
    reads as "leave out of the legend") kept visible."""
    value = shown(text, 4 * limit, one_line=True)
    value = value if len(value) <= limit else value[:limit - 1] + "\u2026"
    return "\u2009" + value if value.startswith("_") else value


def _colors(panels: Sequence[object], labels_of) -> dict[str, tuple[float, ...]]:
    """One colour per configuration, the same in every panel and every figure built from the same labels."""
    labels = sorted({label for panel in panels for label in labels_of(panel)})
    return {label: _COLORS[i % len(_COLORS)] for i, label in enumerate(labels)}


def _grid(count: int, width: float, height: float) -> tuple[Figure, list]:
    cols = min(count, _MAX_COLUMNS)
    rows = -(-count // cols)
    fig = Figure(figsize=(width * cols, height * rows + 0.9), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel().tolist()
    for ax in axes[count:]:
        ax.set_visible(False)
    return fig, axes[:count]


def _legend_columns(panels: int, entries: int) -> int:
    """One column under a single panel (long labels would run past its edges), more under a row of panels."""
    return max(1, min(entries, min(panels, _MAX_COLUMNS)))


def _format_x(ax, kind: str) -> None:
    """Ticks of a budget axis: whole numbers for counts, 12k for 12,000 tokens, dollars for cost."""
    if kind == "count":
        ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
        ax.xaxis.set_major_formatter(ticker.StrMethodFormatter("{x:,.0f}"))
    elif kind == "usd":
        ax.xaxis.set_major_formatter(ticker.StrMethodFormatter("${x:,.3g}"))
    else:
        ax.xaxis.set_major_formatter(ticker.EngFormatter(sep=""))


def progress_figure(panels: Sequence[ProgressPanel], x_label: str, title: str, x_kind: str = "amount") -> Figure:
    """Best score so far against a budget (`x_kind`: count | amount | usd); one panel per task. The legend sits
    below the panels, clear of the data."""
    if not panels:
        raise ValueError("progress_figure needs at least one panel")
    with matplotlib.rc_context(_RC):
        colors = _colors(panels, lambda p: [c.label for c in p.curves])
        fig, axes = _grid(len(panels), 5.2, 3.6)
        handles: dict[str, object] = {}
        for ax, panel in zip(axes, panels):
            ax.set_title(label_text(panel.title))
            ax.set_xlabel(x_label)
            ax.set_ylabel(label_text(panel.y_label, 60))
            if panel.note:
                ax.text(0.5, 0.5, textwrap.fill(label_text(panel.note, 120), 36), ha="center", va="center",
                        transform=ax.transAxes, color="0.35")
                ax.set_xticks([])
                ax.set_yticks([])
                continue
            for curve in panel.curves:
                color, band = colors[curve.label], curve.band
                name = f"{label_text(curve.label)} (median of {band.seeds} seeds)" if band.seeds > 1 else \
                    label_text(curve.label)
                single = band.grid.size == 1
                (line,) = ax.plot(band.grid, band.median, color=color, lw=1.8, drawstyle="steps-post",
                                  marker="o" if single else None)
                handles.setdefault(name, line)
                if band.seeds > 1 and not single:
                    ax.fill_between(band.grid, band.low, band.high, color=color, alpha=0.18, lw=0, step="post")
            if panel.best_known is not None:
                if _within_reach(ax, panel.best_known):
                    line = ax.axhline(panel.best_known, color="0.3", ls="--", lw=1)
                    handles.setdefault("best known value", line)
                else:  # drawn, it would squeeze the curves into a sliver of the panel
                    above = panel.best_known > ax.get_ylim()[1]
                    ax.text(0.98, 0.96 if above else 0.04, f"best known {panel.best_known:.6g} "
                            f"({'above' if above else 'below'} this scale)", transform=ax.transAxes,
                            ha="right", va="top" if above else "bottom", color="0.3", fontsize=8)
            _format_x(ax, x_kind)
            ax.margins(x=0.02)
        if any(c.band.seeds > 1 for p in panels if not p.note for c in p.curves):
            band_patch = patches.Patch(color="0.5", alpha=0.25)
            handles["95% bootstrap interval of the median"] = band_patch
        if handles:
            fig.legend(list(handles.values()), list(handles.keys()), loc="outside lower center",
                       ncols=_legend_columns(len(panels), len(handles)), frameon=False)
        fig.suptitle(label_text(title, 120))
    return fig


def _within_reach(ax, value: float) -> bool:
    """Whether a reference line at `value` fits without taking more than two thirds of the panel's height from
    the curves: it lies within the data's own span beyond either end of the autoscaled axis."""
    low, high = ax.get_ylim()
    span = high - low
    return low - span <= value <= high + span


def finals_figure(panels: Sequence[FinalsPanel], title: str) -> Figure:
    """Each seed's final best score (dots), the median (bar) and its 95% interval (whisker) per configuration,
    with the seed program's score and the best-known value as reference lines."""
    if not panels:
        raise ValueError("finals_figure needs at least one panel")
    with matplotlib.rc_context(_RC):
        colors = _colors(panels, lambda p: [r.label for r in p.rows])
        height = 1.2 + 0.45 * max(len(p.rows) for p in panels)
        fig, axes = _grid(len(panels), 5.2, height)
        refs: dict[str, object] = {}
        for ax, panel in zip(axes, panels):
            ax.set_title(label_text(panel.title))
            ax.set_xlabel(label_text(panel.x_label, 60))
            for i, row in enumerate(panel.rows):
                color = colors[row.label]
                jitter = np.linspace(-0.12, 0.12, len(row.values)) if len(row.values) > 1 else np.zeros(1)
                ax.scatter(row.values, i + jitter[:len(row.values)], color=color, s=22, alpha=0.8, zorder=3)
                if np.isfinite(row.median):
                    ax.errorbar([row.median], [i], xerr=[[row.median - row.low], [row.high - row.median]],
                                color=color, capsize=4, lw=1.4, zorder=2)
                    ax.plot([row.median] * 2, [i - 0.28, i + 0.28], color=color, lw=2.6, zorder=4)
            ax.set_yticks(range(len(panel.rows)), [label_text(r.label, 28) for r in panel.rows])
            ax.set_ylim(-0.6, len(panel.rows) - 0.4)
            if panel.seed_score is not None:
                refs.setdefault("seed program", ax.axvline(panel.seed_score, color="0.55", ls=":", lw=1.2))
            if panel.best_known is not None:
                refs.setdefault("best known value", ax.axvline(panel.best_known, color="0.3", ls="--", lw=1))
        handles = {"one seed's final best": lines.Line2D([], [], ls="", marker="o", color="0.4"),
                   "median and 95% interval": lines.Line2D([], [], color="0.4", lw=2), **refs}
        fig.legend(list(handles.values()), list(handles.keys()), loc="outside lower center",
                   ncols=_legend_columns(len(panels), len(handles)), frameon=False)
        fig.suptitle(label_text(title, 120))
    return fig


def render(fig: Figure, dpi: int = 150) -> dict[str, bytes]:
    """The figure as PNG (for slides and pages) and SVG (vector, for papers), without timestamps, so the same
    data gives the same bytes."""
    out = {}
    with matplotlib.rc_context(_RC):
        for fmt, metadata in (("png", {"Software": None}), ("svg", {"Date": None, "Creator": None})):
            buf = io.BytesIO()
            fig.savefig(buf, format=fmt, dpi=dpi, metadata=metadata)
            out[fmt] = buf.getvalue()
    return out


def save(rendered: dict[str, bytes], folder: Path, name: str) -> list[Path]:
    """Write `render`'s output as `name`.png and `name`.svg in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt, data in rendered.items():
        paths.append(folder / f"{name}.{fmt}")
        paths[-1].write_bytes(data)
    return paths
