"""What a report reads from the store: the runs a batch, run id or list of run ids names, each with its curves.

SQLAlchemy Core over the store's tables and nothing else, so a report reads SQLite and PostgreSQL alike, and a
report can be made on any machine that reaches the store (the task folder is read only for its best-known value).

A *configuration* is a `cell`: the runs that share every sweep value but the seed. Lone runs carry no cell; they
are grouped by task and settings without the seed, so `evolve report A B C` over three seeds of one setting is one
configuration with three seeds, as a batch would have made it.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from sqlalchemy import select

from evolve.errors import EvolveError
from evolve.store import Store, batches, candidates, llm_calls, runs

# Children by outcome, in the order the rates table shows them; each child falls in exactly one.
OUTCOMES = ("valid", "invalid", "crashed", "timeout", "sandbox-violation", "duplicate", "twin", "other")
_STATUS_OUTCOME = {"ok": "valid", "invalid": "invalid", "crashed": "crashed", "timeout": "timeout",
                   "sandbox-violation": "sandbox-violation", "rejected-duplicate": "duplicate"}
_NOT_A_SETTING = ("seed", "task")  # what varies inside a configuration, or has its own panel


@dataclass
class RunData:
    """One run as the report sees it: identity, settings and its series in completion order."""

    id: str
    task: str
    task_path: str
    objective: str
    maximize: bool
    status: str
    stop_reason: str | None
    batch_id: str | None
    settings: dict[str, Any]  # the sweep values (params) without the seed, or the lone run's config
    cell: str
    seed: int | None
    best_known: float | None
    evaluations: np.ndarray  # children stored so far at each candidate (seeds at 0)
    tokens: np.ndarray  # cumulative tokens of the calls that produced each candidate (and prompt runs' task model)
    cost: np.ndarray  # cumulative USD, likewise
    best: np.ndarray  # best score so far (NaN until the first scored candidate)
    seed_score: float | None
    outcomes: dict[str, int]  # children by OUTCOMES
    reasons: Counter[str]  # why children failed (first line of each reason), for the failures table
    tokens_total: int  # every call of the run, failed calls included
    cost_total: float
    wall_s: float  # first to last write of the run
    label: str = ""  # the configuration's name in figures and tables (set by `load`)

    @property
    def final(self) -> float | None:
        """Best score at the end of the run; None when nothing scored."""
        if not self.best.size or np.isnan(self.best[-1]):
            return None
        return float(self.best[-1])

    @property
    def children(self) -> int:
        return int(sum(self.outcomes.values()))


@dataclass
class Selection:
    """The runs one report covers and what named them."""

    title: str
    batch: dict[str, Any] | None
    runs: list[RunData]
    labels: dict[str, str] = field(default_factory=dict)  # cell -> label

    def tasks(self) -> list[str]:
        return list(dict.fromkeys(r.task for r in self.runs))

    def cells(self, task: str) -> list[str]:
        return list(dict.fromkeys(r.cell for r in self.runs if r.task == task))

    def runs_of(self, task: str, cell: str) -> list[RunData]:
        return [r for r in self.runs if r.task == task and r.cell == cell]


def load(store: Store, refs: list[str]) -> Selection:
    """The runs of a batch (id, id prefix or name) or of one or more run ids (or unique prefixes)."""
    if not refs:
        raise EvolveError("name a batch or at least one run")
    with store.engine.connect() as conn:
        batch = _find_batch(conn, refs[0]) if len(refs) == 1 else None
        if batch is not None:
            rows = conn.execute(select(runs).where(runs.c.batch_id == batch["id"])
                                .order_by(runs.c.created_at)).mappings().all()
            if not rows:
                raise EvolveError(f"batch {batch['id']} ({batch['name']}) has no runs yet")
            title = f"batch {batch['name']} ({batch['id']})"
        else:
            rows = [_find_run(conn, ref) for ref in dict.fromkeys(refs)]
            title = f"run {rows[0]['id']}" if len(rows) == 1 else f"{len(rows)} runs"
        data = [_run_data(conn, dict(row)) for row in rows]
    labels = _labels(data)
    for run in data:
        run.label = labels[run.cell]
    return Selection(title, dict(batch) if batch is not None else None, data, labels)


def _find_batch(conn: Any, ref: str) -> dict[str, Any] | None:
    rows = conn.execute(select(batches).where((batches.c.id == ref) | (batches.c.name == ref) |
                                              batches.c.id.startswith(ref, autoescape=True))).mappings().all()
    exact = [r for r in rows if r["id"] == ref] or [r for r in rows if r["name"] == ref]
    if len(exact) == 1:
        return dict(exact[0])
    if len(rows) > 1:
        raise EvolveError(f"'{ref}' names {len(rows)} batches ({', '.join(r['id'] for r in rows[:5])}); "
                          "give more of the id")
    return dict(rows[0]) if rows else None


def _find_run(conn: Any, ref: str) -> Any:
    rows = conn.execute(select(runs).where(runs.c.id.startswith(ref, autoescape=True)).limit(6)).mappings().all()
    if len(rows) == 1:
        return rows[0]
    if rows:
        raise EvolveError(f"'{ref}' names several runs ({', '.join(r['id'] for r in rows[:5])}); give more of the id")
    raise EvolveError(f"no batch or run '{ref}' in the store (see `evolve status`)")


def _run_data(conn: Any, row: dict[str, Any]) -> RunData:
    maximize = row["direction"] == "maximize"
    params = row["params"] or None
    settings = ({k: v for k, v in params.items() if k not in _NOT_A_SETTING} if params is not None
                else {k: v for k, v in (row["config"] or {}).items() if k not in _NOT_A_SETTING})
    seed = (params or row["config"] or {}).get("seed")
    cell = row["cell"] or _cell_of(row["task_path"], settings)
    cols = (candidates.c.edit_kind, candidates.c.status, candidates.c.reason, candidates.c.score, candidates.c.metrics,
            candidates.c.duplicate_of, candidates.c.prompt_tokens, candidates.c.completion_tokens,
            candidates.c.cost_usd, candidates.c.created_at)
    cands = conn.execute(select(*cols).where(candidates.c.run_id == row["id"])
                         .order_by(candidates.c.seq)).mappings().all()
    evaluations, tokens, cost, scores = [], [], [], []
    outcomes = dict.fromkeys(OUTCOMES, 0)
    reasons: Counter[str] = Counter()
    children, spent_tokens, spent_cost, seed_scores = 0, 0, 0.0, []
    for cand in cands:
        metrics = cand["metrics"] or {}
        spent_tokens += cand["prompt_tokens"] + cand["completion_tokens"] + int(metrics.get("task_tokens", 0))
        spent_cost += cand["cost_usd"] + float(metrics.get("task_cost_usd", 0.0))
        scored = cand["status"] == "ok" and cand["score"] is not None
        if cand["edit_kind"] == "seed":
            if scored:
                seed_scores.append(cand["score"])
        else:
            children += 1
            outcomes[_outcome(cand["status"], cand["duplicate_of"])] += 1
            if cand["status"] != "ok" and cand["reason"]:
                reasons[f"{cand['status']}: {cand['reason'].strip().splitlines()[0][:200]}"] += 1
        evaluations.append(children)
        tokens.append(spent_tokens)
        cost.append(spent_cost)
        scores.append(cand["score"] if scored else np.nan)
    best = (np.fmax if maximize else np.fmin).accumulate(np.asarray(scores, dtype=float)) if scores else np.array([])
    totals = conn.execute(select(llm_calls.c.prompt_tokens, llm_calls.c.completion_tokens, llm_calls.c.cost_usd)
                          .where(llm_calls.c.run_id == row["id"])).all()
    task_tokens = spent_tokens - sum(c["prompt_tokens"] + c["completion_tokens"] for c in cands)
    task_cost = spent_cost - sum(c["cost_usd"] for c in cands)
    return RunData(
        id=row["id"], task=row["task_name"], task_path=row["task_path"], objective=row["objective"],
        maximize=maximize, status=row["status"], stop_reason=row["stop_reason"], batch_id=row["batch_id"],
        settings=settings, cell=cell, seed=seed, best_known=_best_known(row["task_path"]),
        evaluations=np.asarray(evaluations, dtype=float), tokens=np.asarray(tokens, dtype=float),
        cost=np.asarray(cost, dtype=float), best=best,
        seed_score=(max(seed_scores) if maximize else min(seed_scores)) if seed_scores else None,
        outcomes=outcomes, reasons=reasons, tokens_total=int(sum(t[0] + t[1] for t in totals) + task_tokens),
        cost_total=float(sum(t[2] for t in totals) + task_cost), wall_s=float(row["updated_at"] - row["created_at"]),
    )


def _outcome(status: str, duplicate_of: str | None) -> str:
    """A twin (same answers to the task's probes as a known candidate) keeps the status it copied, so it is told
    apart by the candidate it points at; a textual duplicate is `rejected-duplicate`."""
    if duplicate_of and status != "rejected-duplicate":
        return "twin"
    return _STATUS_OUTCOME.get(status, "other")


def _cell_of(task_path: str, settings: dict[str, Any]) -> str:
    blob = json.dumps([task_path, settings], sort_keys=True, default=str)
    return "run-" + hashlib.sha256(blob.encode()).hexdigest()[:16]


_BEST_KNOWN: dict[str, float | None] = {}


def _best_known(task_path: str) -> float | None:
    """The task's best-known value from its task.yaml, when the folder is on this machine."""
    if task_path not in _BEST_KNOWN:
        value = None
        try:
            spec = yaml.safe_load((Path(task_path) / "task.yaml").read_text(encoding="utf-8"))
            raw = spec.get("best_known") if isinstance(spec, dict) else None
            value = float(raw) if isinstance(raw, (int, float)) and not isinstance(raw, bool) else None
        except (OSError, yaml.YAMLError):
            pass
        _BEST_KNOWN[task_path] = value
    return _BEST_KNOWN[task_path]


def _labels(data: list[RunData]) -> dict[str, str]:
    """Name each configuration by the settings in which configurations differ (e.g. `islands=4`); the same
    settings on two tasks get the same name (and colour)."""
    by_cell: dict[str, RunData] = {}
    for run in data:
        by_cell.setdefault(run.cell, run)
    keys = sorted({k for r in by_cell.values() for k in r.settings})
    varying = [k for k in keys if len({_value(r.settings.get(k)) for r in by_cell.values()}) > 1]
    labels = {}
    for cell, run in by_cell.items():
        shown_keys = varying or [k for k in ("model", "models") if k in run.settings]
        labels[cell] = ", ".join(f"{k}={_value(run.settings.get(k))}" for k in shown_keys) or "all runs"
    for cell, run in by_cell.items():  # settings alike but two cells on one task (e.g. two task folders)
        if sum(1 for c, r in by_cell.items() if r.task == run.task and labels[c] == labels[cell]) > 1:
            labels[cell] = f"{labels[cell]} [{cell[:8]}]"
    return labels


def _value(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return str(value)
