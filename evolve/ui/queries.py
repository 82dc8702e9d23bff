"""The dashboard's reads: every figure a page shows, aggregated in the database, never by loading a run's rows.

A run can hold 100,000 children; each function here returns a bounded amount of data whatever the run's size:
timelines are cut into at most `MAX_BUCKETS` windows of evaluations (grouped in SQL on the `(run_id, seq)`
indexes), lists are paged, texts come one candidate at a time. Everything is SQLAlchemy Core over the tables of
`evolve.store`, so SQLite and PostgreSQL answer the same queries.
"""

from __future__ import annotations

import difflib
import math
import statistics
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, case, func, select

from evolve.store import batches, candidates, evaluations, llm_calls, runs
from evolve.ui.task_info import task_info

MAX_BUCKETS = 300  # points per timeline: enough to read a curve, few enough to draw it at once
FAILURES = ("invalid", "crashed", "timeout", "sandbox-violation", "skipped", "rejected-duplicate", "twin")

_children = candidates.c.edit_kind != "seed"
_scored = and_(candidates.c.status == "ok", candidates.c.score.is_not(None))
_tokens = candidates.c.prompt_tokens + candidates.c.completion_tokens


def maximize(run: dict[str, Any]) -> bool:
    return run["direction"] == "maximize"


def best_of(values: list[float], up: bool) -> float | None:
    return (max(values) if up else min(values)) if values else None


@dataclass
class _Windows:
    updated_at: float
    width: int
    groups: list[dict[str, Any]]
    last_bucket: int


class Reader:
    """A run's figures and timelines, each computed once per change of the run.

    Every child a run stores bumps its `updated_at` in the same transaction, so results are kept per
    (run, updated_at): a finished run is aggregated once, a running one once per new child however many pages
    poll it. Each aggregate is one grouped read of `ix_candidates_run_digest`, which holds every column they use,
    so the rows with their sources are never read."""

    def __init__(self, engine: Engine, size: int = 2048) -> None:
        self.engine = engine
        self._memo: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()
        self._held: dict[str, _Windows] = {}

    def remember(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """`compute()`'s value, computed once per `key` (which holds the run's `updated_at`)."""
        with self._lock:
            if key in self._memo:
                self._memo.move_to_end(key)
                return self._memo[key]
        value = compute()
        with self._lock:
            self._memo[key] = value
            while len(self._memo) > self._size:
                self._memo.popitem(last=False)
        return value

    def runs(self, *, batch_id: str | None = None, limit: int = 200, offset: int = 0) -> list[dict[str, Any]]:
        """Runs newest first with their figures: children, best, seed's best, best known, tokens, cost."""
        q = select(*_RUN_COLUMNS).order_by(runs.c.created_at.desc()).limit(limit).offset(offset)
        if batch_id is not None:
            q = q.where(runs.c.batch_id == batch_id)
        with self.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(q).mappings()]
        return [self._with_figures(r) for r in rows]

    def run(self, run_id: str) -> dict[str, Any] | None:
        """One run with its figures (as a row of `runs`)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(*_RUN_COLUMNS).where(runs.c.id == run_id)).mappings().first()
        return None if row is None else self._with_figures(dict(row))

    def _with_figures(self, run: dict[str, Any]) -> dict[str, Any]:
        config = run.pop("config") or {}
        info = task_info(run["task_path"])
        run.update(best_known=info.best_known, iterations=config.get("iterations"),
                   islands=int(config.get("islands", 1)), migration_interval=int(config.get("migration_interval", 10)),
                   models=[f"{m.get('provider')}:{m.get('name')}" for m in config.get("models") or []])
        run.update(self.remember(("figures", run["id"], run["updated_at"]), lambda: self._figures(run)))
        run["models"] = run["models"] or run["seen_models"]  # a run given its models in code stores none
        return run

    def _windows(self, run: dict[str, Any]) -> tuple[int, list[dict[str, Any]]]:
        """(width, groups): the one grouped read behind both the figures and the timeline of a run's state.

        While a run goes on, only its last window and the ones after it are read again (an index range): the
        windows before it cannot change. All are read again when the width grows (every MAX_BUCKETS children)."""
        with self._lock:
            held = self._held.get(run["id"])
        if held is not None and held.updated_at == run["updated_at"]:
            return held.width, held.groups
        with self.engine.connect() as conn:
            last = conn.execute(select(func.max(candidates.c.seq)).where(candidates.c.run_id == run["id"])).scalar()
        width = max(1, math.ceil(((last or 0) + 1) / MAX_BUCKETS))
        if held is not None and held.width == width:
            since = held.last_bucket
            groups = [g for g in held.groups if g["bucket"] < since] + self._groups(run["id"], width, since * width)
        else:
            groups = self._groups(run["id"], width)
        fresh = _Windows(run["updated_at"], width, groups, max((g["bucket"] for g in groups), default=0))
        with self._lock:
            if held is None or self._held.get(run["id"]) is held:
                self._held[run["id"]] = fresh
        return width, groups

    def _figures(self, run: dict[str, Any]) -> dict[str, Any]:
        up = maximize(run)
        groups = self._windows(run)[1]
        scores = [g["hi"] if up else g["lo"] for g in groups if g["hi"] is not None]
        seed = self._seed_score(run["id"], up)
        models = sorted({g["model"] for g in groups if g["model"]})
        return {"children": sum(g["n"] for g in groups), "last_seq": max((g["seq"] for g in groups), default=None),
                "tokens": sum(int(g["tokens"] or 0) for g in groups),
                "cost_usd": sum(float(g["cost"] or 0.0) for g in groups), "seed_score": seed,
                "best": best_of([v for v in (seed, best_of(scores, up)) if v is not None], up),
                "seen_models": models}

    def _groups(self, run_id: str, width: int, since: int = 0) -> list[dict[str, Any]]:
        """The run's children from seq `since` on, grouped by (window of `width` children, status, model, twin or
        not): count, last seq, best and worst score, tokens, cost."""
        twin = case((and_(candidates.c.duplicate_of.is_not(None), candidates.c.status != "rejected-duplicate"), 1),
                    else_=0).label("twin")
        bucket = (candidates.c.seq // width if width > 1 else candidates.c.seq).label("bucket")
        keys = [bucket, candidates.c.status, candidates.c.model, twin]
        q = (select(*keys, func.count().label("n"), func.max(candidates.c.seq).label("seq"),
                    func.max(case((_scored, candidates.c.score))).label("hi"),
                    func.min(case((_scored, candidates.c.score))).label("lo"),
                    func.sum(_tokens).label("tokens"), func.sum(candidates.c.cost_usd).label("cost"))
             .where(candidates.c.run_id == run_id, candidates.c.seq >= since, _children).group_by(*keys))
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def _seed_score(self, run_id: str, up: bool) -> float | None:
        pick = func.max if up else func.min
        q = select(pick(candidates.c.score)).where(seeds_of(run_id), _scored)
        with self.engine.connect() as conn:
            return conn.execute(q).scalar()

    def timeline(self, run: dict[str, Any]) -> dict[str, Any]:
        """Scores, failures and spend over the run's evaluations, in at most MAX_BUCKETS windows."""
        return self.remember(("timeline", run["id"], run["updated_at"]), lambda: self._timeline(run))

    def _timeline(self, run: dict[str, Any]) -> dict[str, Any]:
        up = maximize(run)
        width, groups = self._windows(run)
        windows: dict[int, dict[str, Any]] = {}
        models: set[str] = set()
        for r in groups:
            w = windows.setdefault(r["bucket"], {"seq": 0, "scores": [], "fail": defaultdict(int), "spend": {}})
            w["seq"] = max(w["seq"], r["seq"])
            score = r["hi"] if up else r["lo"]
            if score is not None:
                w["scores"].append(score)
            kind = "twin" if r["twin"] else r["status"]
            if kind != "ok":
                w["fail"][kind] += r["n"]
            model = r["model"] or "none"
            models.add(model)
            tokens, cost = w["spend"].get(model, (0, 0.0))
            w["spend"][model] = (tokens + int(r["tokens"] or 0), cost + float(r["cost"] or 0.0))
        return _series(run, [windows[k] for k in sorted(windows)], sorted(models), width)


def seeds_of(run_id: str) -> ColumnElement[bool]:
    """The run's seeds. They are scored and stored before any child (the controller starts with them), so they
    are the rows before the first child: a range of the (run_id, seq) index, not a scan of the run."""
    first_child = (select(candidates.c.seq).where(candidates.c.run_id == run_id, _children)
                   .order_by(candidates.c.seq).limit(1).scalar_subquery())
    return and_(candidates.c.run_id == run_id, candidates.c.seq < func.coalesce(first_child, 1 << 62),
                candidates.c.edit_kind == "seed")


_RUN_COLUMNS = [runs.c[name] for name in
                ("id", "task_name", "task_path", "kind", "objective", "direction", "config", "status", "stop_reason",
                 "created_at", "updated_at", "batch_id", "params", "cell")]


def _series(run: dict[str, Any], windows: list[dict[str, Any]], models: list[str], width: int) -> dict[str, Any]:
    """Cumulative best (starting from the seed), best per window, failures per window, cumulative spend per model."""
    up = maximize(run)
    best = run["seed_score"]
    x, current, best_so_far = [], [], []
    failures: dict[str, list[int]] = {kind: [] for kind in FAILURES}
    tokens = {m: [] for m in models}
    cost = {m: [] for m in models}
    totals = {m: (0, 0.0) for m in models}
    for w in windows:
        x.append(w["seq"])
        here = best_of(w["scores"], up)
        current.append(here)
        if here is not None:
            best = here if best is None else best_of([best, here], up)
        best_so_far.append(best)
        for kind in FAILURES:
            failures[kind].append(w["fail"].get(kind, 0))
        for m in models:
            t, c = w["spend"].get(m, (0, 0.0))
            totals[m] = (totals[m][0] + t, totals[m][1] + c)
            tokens[m].append(totals[m][0])
            cost[m].append(round(totals[m][1], 6))
    best_x = [0, *x] if run["seed_score"] is not None else x  # the curve starts at the seed, before any child
    best_so_far = [run["seed_score"], *best_so_far] if run["seed_score"] is not None else best_so_far
    return {"x": x, "best_x": best_x, "width": width, "current": current, "best": best_so_far,
            "seed": run["seed_score"],
            "best_known": run["best_known"], "objective": run["objective"], "direction": run["direction"],
            "failures": {k: v for k, v in failures.items() if any(v)}, "tokens": tokens, "cost": cost}


def candidate(engine: Engine, cand_id: str) -> dict[str, Any] | None:
    """Everything stored about one candidate: its row, its parent's source, its LLM calls and evaluations."""
    with engine.connect() as conn:
        row = conn.execute(select(candidates).where(candidates.c.id == cand_id)).mappings().first()
        if row is None:
            return None
        cand = dict(row)
        parent = (conn.execute(select(candidates.c.id, candidates.c.source, candidates.c.score)
                               .where(candidates.c.id == cand["parent_id"])).mappings().first()
                  if cand["parent_id"] else None)
        twin = (conn.execute(select(candidates.c.id, candidates.c.status, candidates.c.score, candidates.c.seq)
                             .where(candidates.c.id == cand["duplicate_of"])).mappings().first()
                if cand["duplicate_of"] else None)
        calls = conn.execute(select(llm_calls).where(llm_calls.c.candidate_id == cand_id)
                             .order_by(llm_calls.c.created_at)).mappings().all()
        evals = conn.execute(select(evaluations).where(evaluations.c.candidate_id == cand_id)
                             .order_by(evaluations.c.id)).mappings().all()
        run = conn.execute(select(runs.c.id, runs.c.task_name, runs.c.objective, runs.c.direction)
                           .where(runs.c.id == cand["run_id"])).mappings().one()
    cand.update(parent=dict(parent) if parent else None, twin=dict(twin) if twin else None,
                llm_calls=[dict(c) for c in calls], evaluations=[dict(e) for e in evals], run=dict(run))
    return cand


def diff_lines(before: str, after: str, before_name: str, after_name: str) -> list[tuple[str, str]]:
    """A unified diff as (kind, line) pairs, kind one of add / del / hunk / same, for the page to colour."""
    lines = []
    for line in difflib.unified_diff(before.splitlines(), after.splitlines(), before_name, after_name, lineterm=""):
        kind = ("hunk" if line.startswith("@@") else "head" if line.startswith(("---", "+++"))
                else "add" if line.startswith("+") else "del" if line.startswith("-") else "same")
        lines.append((kind, line))
    return lines


def candidate_diff(engine: Engine, cand_id: str) -> dict[str, Any] | None:
    """The candidate's change against its parent (a seed: its whole text), for the lineage panel."""
    with engine.connect() as conn:
        row = conn.execute(select(candidates.c.id, candidates.c.parent_id, candidates.c.source, candidates.c.status,
                                  candidates.c.score, candidates.c.reason, candidates.c.seq, candidates.c.generation,
                                  candidates.c.model)
                           .where(candidates.c.id == cand_id)).mappings().first()
        if row is None:
            return None
        parent = (conn.execute(select(candidates.c.source).where(candidates.c.id == row["parent_id"])).scalar()
                  if row["parent_id"] else None)
    out = {k: row[k] for k in ("id", "parent_id", "status", "score", "reason", "seq", "generation", "model")}
    out["diff"] = diff_lines(parent or "", row["source"], f"parent {row['parent_id'] or '(none)'}", f"candidate {row['id']}")
    return out


def candidate_source(engine: Engine, cand_id: str) -> tuple[str, str] | None:
    """(source, task name) of a candidate, for download."""
    with engine.connect() as conn:
        row = conn.execute(select(candidates.c.source, runs.c.task_name, candidates.c.kind)
                           .join(runs, runs.c.id == candidates.c.run_id)
                           .where(candidates.c.id == cand_id)).first()
    return (row[0], row[1]) if row else None


def list_batches(engine: Engine, limit: int = 100) -> list[dict[str, Any]]:
    n_runs = select(runs.c.batch_id, func.count().label("runs")).where(runs.c.batch_id.is_not(None)) \
        .group_by(runs.c.batch_id).subquery()
    q = (select(batches.c.id, batches.c.name, batches.c.status, batches.c.created_at, batches.c.updated_at,
                n_runs.c.runs).outerjoin(n_runs, n_runs.c.batch_id == batches.c.id)
         .order_by(batches.c.created_at.desc()).limit(limit))
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def get_batch(engine: Engine, batch_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(batches).where(batches.c.id == batch_id)).mappings().first()
    return dict(row) if row else None


def batch_summary(reader: Reader, batch_id: str, points: int = 100) -> dict[str, Any]:
    """Per cell (a configuration across seeds): its runs, the median / min / max of their final best, and the
    median best-so-far curve over children (each run's curve sampled at `points` common child counts)."""
    run_rows = reader.runs(batch_id=batch_id, limit=10_000)
    if not run_rows:
        return {"cells": [], "runs": []}
    longest = max((r["last_seq"] or 0) for r in run_rows)
    width = max(1, math.ceil((longest + 1) / points))
    curves = _best_curves(reader.engine, [r["id"] for r in run_rows], width)
    cells: dict[str, dict[str, Any]] = {}
    for r in run_rows:
        cell = cells.setdefault(r["cell"] or r["id"], {"cell": r["cell"] or r["id"], "params": _without_seed(r["params"]),
                                                     "runs": [], "finals": [], "curves": [], "direction": r["direction"]})
        cell["runs"].append(r["id"])
        if r["best"] is not None:
            cell["finals"].append(r["best"])
        cell["curves"].append(_cumulative(curves.get(r["id"], {}), r["seed_score"], maximize(r),
                                          math.ceil((longest + 1) / width)))
    out = []
    for c in cells.values():
        finals = c.pop("finals")
        runs_curves = c.pop("curves")
        c.update(seeds=len(c["runs"]), median=statistics.median(finals) if finals else None,
                 lo=min(finals) if finals else None, hi=max(finals) if finals else None,
                 x=[(i + 1) * width for i in range(len(runs_curves[0]))] if runs_curves else [],
                 curve=[_median([curve[i] for curve in runs_curves]) for i in range(len(runs_curves[0]))]
                 if runs_curves else [])
        out.append(c)
    up = run_rows[0]["direction"] == "maximize"
    out.sort(key=lambda c: (c["median"] is None, -(c["median"] or 0) if up else (c["median"] or 0)))
    return {"cells": out, "runs": run_rows, "objective": run_rows[0]["objective"]}


def _best_curves(engine: Engine, run_ids: list[str], width: int) -> dict[str, dict[int, tuple[float, float]]]:
    """run -> window -> (max, min) score of its scored children in that window, one grouped query for the batch."""
    bucket = (candidates.c.seq // width).label("bucket") if width > 1 else candidates.c.seq.label("bucket")
    q = (select(candidates.c.run_id, bucket, func.max(candidates.c.score), func.min(candidates.c.score))
         .where(candidates.c.run_id.in_(run_ids), _children, _scored)
         .group_by(candidates.c.run_id, bucket))
    found: dict[str, dict[int, tuple[float, float]]] = defaultdict(dict)
    with engine.connect() as conn:
        for run_id, b, hi, lo in conn.execute(q):
            found[run_id][b] = (hi, lo)
    return found


def _cumulative(windows: dict[int, tuple[float, float]], seed: float | None, up: bool, n: int) -> list[float | None]:
    best, curve = seed, []
    for i in range(n):
        if i in windows:
            here = windows[i][0] if up else windows[i][1]
            best = here if best is None else best_of([best, here], up)
        curve.append(best)
    return curve


def _median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def _without_seed(params: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (params or {}).items() if k != "seed"}


__all__ = ["FAILURES", "MAX_BUCKETS", "Reader", "batch_summary", "candidate", "candidate_diff", "candidate_source",
           "diff_lines", "get_batch", "list_batches"]
