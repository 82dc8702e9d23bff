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
from collections import defaultdict
from typing import Any

from sqlalchemy import Engine, and_, case, func, select

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


def list_runs(engine: Engine, *, batch_id: str | None = None, limit: int = 200, offset: int = 0) -> list[dict[str, Any]]:
    """Runs newest first with their figures: children, best, seed's best, best known, tokens, cost."""
    kids = (select(candidates.c.run_id, func.count().label("children"), func.max(candidates.c.seq).label("last_seq"),
                   func.sum(_tokens).label("tokens"), func.sum(candidates.c.cost_usd).label("cost_usd"),
                   func.max(case((_scored, candidates.c.score))).label("hi"),
                   func.min(case((_scored, candidates.c.score))).label("lo"))
            .where(_children).group_by(candidates.c.run_id).subquery())
    seeds = (select(candidates.c.run_id, func.max(candidates.c.score).label("seed_hi"),
                    func.min(candidates.c.score).label("seed_lo"))
             .where(candidates.c.edit_kind == "seed", _scored).group_by(candidates.c.run_id).subquery())
    q = (select(runs.c.id, runs.c.task_name, runs.c.task_path, runs.c.kind, runs.c.objective, runs.c.direction,
                runs.c.config, runs.c.status, runs.c.stop_reason, runs.c.created_at, runs.c.updated_at,
                runs.c.batch_id, runs.c.params, runs.c.cell, kids.c.children, kids.c.last_seq, kids.c.tokens,
                kids.c.cost_usd, kids.c.hi, kids.c.lo, seeds.c.seed_hi, seeds.c.seed_lo)
         .outerjoin(kids, kids.c.run_id == runs.c.id).outerjoin(seeds, seeds.c.run_id == runs.c.id)
         .order_by(runs.c.created_at.desc()).limit(limit).offset(offset))
    if batch_id is not None:
        q = q.where(runs.c.batch_id == batch_id)
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(q).mappings()]
    return [_run_figures(r) for r in rows]


def _run_figures(r: dict[str, Any]) -> dict[str, Any]:
    up = maximize(r)
    seed = r.pop("seed_hi") if up else r.pop("seed_lo")
    r.pop("seed_lo" if up else "seed_hi")
    child_best = r.pop("hi") if up else r.pop("lo")
    r.pop("lo" if up else "hi")
    config = r.pop("config") or {}
    models = [f"{m.get('provider')}:{m.get('name')}" for m in config.get("models") or []]
    info = task_info(r["task_path"])
    best = best_of([v for v in (seed, child_best) if v is not None], up)
    r.update(children=r["children"] or 0, tokens=int(r["tokens"] or 0), cost_usd=float(r["cost_usd"] or 0.0),
             seed_score=seed, best=best, best_known=info.best_known, models=models,
             iterations=config.get("iterations"), islands=int(config.get("islands", 1)),
             migration_interval=int(config.get("migration_interval", 10)))
    return r


def get_run(engine: Engine, run_id: str) -> dict[str, Any] | None:
    """One run with its figures (the same as a row of `list_runs`), by id."""
    kids = (select(func.count().label("children"), func.max(candidates.c.seq).label("last_seq"),
                   func.sum(_tokens).label("tokens"), func.sum(candidates.c.cost_usd).label("cost_usd"),
                   func.max(case((_scored, candidates.c.score))).label("hi"),
                   func.min(case((_scored, candidates.c.score))).label("lo"))
            .where(candidates.c.run_id == run_id, _children))
    seeds = (select(func.max(candidates.c.score).label("seed_hi"), func.min(candidates.c.score).label("seed_lo"))
             .where(candidates.c.run_id == run_id, candidates.c.edit_kind == "seed", _scored))
    with engine.connect() as conn:
        row = conn.execute(select(runs).where(runs.c.id == run_id)).mappings().first()
        if row is None:
            return None
        run = dict(row)
        run.pop("environment")
        run.update(conn.execute(kids).mappings().one())
        run.update(conn.execute(seeds).mappings().one())
    return _run_figures(run)


def timeline(engine: Engine, run: dict[str, Any]) -> dict[str, Any]:
    """Scores, failures and spend over the run's evaluations, in at most MAX_BUCKETS windows of `width` children.

    One grouped query: per window and (status, model, twin) its count, best score, tokens and cost."""
    up = maximize(run)
    last = run["last_seq"] or 0
    width = max(1, math.ceil((last + 1) / MAX_BUCKETS))
    bucket = (candidates.c.seq // width).label("bucket") if width > 1 else candidates.c.seq.label("bucket")
    twin = case((and_(candidates.c.duplicate_of.is_not(None), candidates.c.status != "rejected-duplicate"), 1),
                else_=0).label("twin")
    q = (select(bucket, candidates.c.status, candidates.c.model, twin, func.count().label("n"),
                func.max(candidates.c.seq).label("seq"),
                func.max(case((_scored, candidates.c.score))).label("hi"),
                func.min(case((_scored, candidates.c.score))).label("lo"),
                func.sum(_tokens).label("tokens"), func.sum(candidates.c.cost_usd).label("cost"))
         .where(candidates.c.run_id == run["id"], _children)
         .group_by(bucket, candidates.c.status, candidates.c.model, twin).order_by(bucket))
    with engine.connect() as conn:
        rows = conn.execute(q).mappings().all()
    windows: dict[int, dict[str, Any]] = {}
    models: set[str] = set()
    for r in rows:
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


def batch_summary(engine: Engine, batch_id: str, points: int = 100) -> dict[str, Any]:
    """Per cell (a configuration across seeds): its runs, the median / min / max of their final best, and the
    median best-so-far curve over children (each run's curve sampled at `points` common child counts)."""
    run_rows = list_runs(engine, batch_id=batch_id, limit=10_000)
    if not run_rows:
        return {"cells": [], "runs": []}
    longest = max((r["last_seq"] or 0) for r in run_rows)
    width = max(1, math.ceil((longest + 1) / points))
    curves = _best_curves(engine, [r["id"] for r in run_rows], width)
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


__all__ = ["FAILURES", "MAX_BUCKETS", "batch_summary", "candidate", "candidate_diff", "candidate_source",
           "diff_lines", "get_batch", "get_run", "list_batches", "list_runs", "timeline"]
