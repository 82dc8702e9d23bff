"""The report's tables as plain rows: final scores per task and configuration, outcome rates, per-run spend, and
the bootstrap comparison of configurations on the same task. HTML and CSV are both written from these rows."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import combinations

from evolve.errors import EvolveError
from evolve.report import stats
from evolve.report.data import OUTCOMES, RunData, Selection
from evolve.safe_text import shown


@dataclass(frozen=True)
class FinalScores:
    task: str
    objective: str
    maximize: bool
    label: str
    seeds: int  # runs with a scored candidate
    median: float
    low: float
    high: float
    per_seed: list[tuple[int | None, float]]  # (seed, final best)
    seed_score: float | None  # the task's seed candidate (the same for every seed of a task)
    best_known: float | None


@dataclass(frozen=True)
class Rates:
    task: str
    label: str
    runs: int
    children: int
    counts: dict[str, int]

    def rate(self, outcome: str) -> float:
        return self.counts[outcome] / self.children if self.children else float("nan")


@dataclass(frozen=True)
class Comparison:
    task: str
    a: str
    b: str
    difference: stats.Difference
    maximize: bool

    @property
    def verdict(self) -> str:
        """Which configuration did better and how sure the resampling is, in words."""
        d = self.difference
        if not d.resampled:
            return "a single seed on one side: no interval (run more seeds)"
        winner, share = (self.a, d.p_a_better) if d.p_a_better >= d.p_b_better else (self.b, d.p_b_better)
        if share == 0.0:
            return "no difference in any resample"
        resolved = d.low > 0 or d.high < 0
        return (f"{winner} better in {share:.0%} of resamples; the 95% interval "
                + ("excludes 0" if resolved else "includes 0: not resolved"))


def final_scores(sel: Selection) -> list[FinalScores]:
    rows = []
    for task in sel.tasks():
        for cell in sel.cells(task):
            group = sel.runs_of(task, cell)
            done = [(r.seed, r.final) for r in group if r.final is not None]
            values = [v for _, v in done]
            low, high = stats.bootstrap_interval(values)
            seeds = [r.seed_score for r in group if r.seed_score is not None]
            first = group[0]
            rows.append(FinalScores(task, first.objective, first.maximize, first.label, len(done),
                                    stats.median(values), low, high, done,
                                    stats.median(seeds) if seeds else None, first.best_known))
    return rows


def outcome_rates(sel: Selection) -> list[Rates]:
    rows = []
    for task in sel.tasks():
        for cell in sel.cells(task):
            group = sel.runs_of(task, cell)
            counts = {o: sum(r.outcomes[o] for r in group) for o in OUTCOMES}
            rows.append(Rates(task, group[0].label, len(group), sum(counts.values()), counts))
    return rows


def failure_reasons(sel: Selection, top: int = 5) -> list[tuple[str, str, list[tuple[str, int]]]]:
    """(task, configuration, the most frequent reasons children failed with their counts)."""
    rows = []
    for task in sel.tasks():
        for cell in sel.cells(task):
            group = sel.runs_of(task, cell)
            reasons = sum((r.reasons for r in group), Counter())
            if reasons:
                rows.append((task, group[0].label, reasons.most_common(top)))
    return rows


def run_rows(sel: Selection) -> list[RunData]:
    """Runs by task, configuration and seed."""
    order = {(t, c): i for i, (t, c) in enumerate((t, c) for t in sel.tasks() for c in sel.cells(t))}
    return sorted(sel.runs, key=lambda r: (order[(r.task, r.cell)], r.seed if r.seed is not None else -1, r.id))


def comparisons(sel: Selection, baseline: str | None = None) -> list[Comparison]:
    """Every pair of configurations on each task, or each one against `baseline` (a label or a cell id prefix)."""
    base_cells = _match_baseline(sel, baseline) if baseline is not None else None
    rows = []
    for task in sel.tasks():
        finals = {c: [r.final for r in sel.runs_of(task, c) if r.final is not None] for c in sel.cells(task)}
        finals = {c: v for c, v in finals.items() if v}
        maximize = sel.runs_of(task, next(iter(sel.cells(task))))[0].maximize
        if base_cells is None:
            pairs = list(combinations(finals, 2))
        else:
            pairs = [(c, b) for b in finals if b in base_cells for c in finals if c != b]
        for a, b in pairs:
            diff = stats.bootstrap_difference(finals[a], finals[b], maximize=maximize)
            rows.append(Comparison(task, sel.labels[a], sel.labels[b], diff, maximize))
    return rows


def _match_baseline(sel: Selection, baseline: str) -> set[str]:
    cells = {c for c, label in sel.labels.items() if label == baseline or c.startswith(baseline)}
    if not cells:
        names = "; ".join(shown(label, 100, one_line=True) for label in sorted(set(sel.labels.values())))
        raise EvolveError(f"--baseline '{shown(baseline, 100, one_line=True)}' is none of the configurations: {names}")
    return cells
