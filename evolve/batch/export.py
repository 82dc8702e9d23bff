"""Tidy tables of a batch for analysis elsewhere: one row per run, one row per stored candidate.

Every row carries its run's sweep values as columns (`task`, `model`, each grid setting, `seed`) and its `cell`,
so a reader groups by configuration without joining anything. The candidate table is in completion order per
run (`seq`), with the best score so far and the cumulative tokens and dollars at each row: the curves of
best-so-far vs evaluations, tokens and cost are a plot of its columns. Seeds are rows too (`edit_kind` seed,
seq 0), so every curve starts at the seed's score.

Written with pandas as CSV and as Parquet (pyarrow): the `batch` extra (`pip install 'evolve-lab[batch]'`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evolve.batch.summary import run_best
from evolve.errors import EvolveError
from evolve.output_folder import output_folder
from evolve.safe_text import spreadsheet_safe
from evolve.store import Store


def run_rows(store: Store, batch_id: str) -> list[dict[str, Any]]:
    rows = []
    for run in store.list_runs(batch_id=batch_id):
        cands = list(store.iter_candidates(run["id"]))
        usage = store.usage(run["id"])
        # the task model's spend (prompt tasks) is in the candidates' metrics, not in the run's LLM calls: count it
        # as the run's own budget and the candidate rows' cumulative columns do
        task_tokens = sum(int(c.metrics.get("task_tokens", 0)) for c in cands)
        task_cost = sum(float(c.metrics.get("task_cost_usd", 0.0)) for c in cands)
        stamps = [c.created_at for c in cands]
        rows.append({
            "batch_id": batch_id, "run_id": run["id"], "cell": run["cell"], **_params(run["params"]),
            "status": run["status"], "stop_reason": run["stop_reason"], "objective": run["objective"],
            "direction": run["direction"], "children": run["children"] or 0, "ok": run["n"] or 0,
            "best_score": run_best(run),
            "seed_score": next((c.score for c in cands if c.edit_kind == "seed"), None),
            "tokens": usage.tokens + task_tokens, "cost_usd": usage.cost_usd + task_cost,
            "wall_s": (max(stamps) - min(stamps)) if stamps else 0.0,
            "evolve_version": run["environment"].get("evolve"), "git_commit": run["environment"].get("git_commit"),
            "task_folder_sha256": run["environment"].get("task_folder_sha256"),
        })
    return rows


def candidate_rows(store: Store, batch_id: str) -> list[dict[str, Any]]:
    rows = []
    for run in store.list_runs(batch_id=batch_id):
        maximize = run["direction"] == "maximize"
        best: float | None = None
        tokens, cost = 0, 0.0
        for cand in store.iter_candidates(run["id"]):
            if cand.status == "ok" and cand.score is not None and (
                    best is None or (cand.score > best if maximize else cand.score < best)):
                best = cand.score
            tokens += cand.prompt_tokens + cand.completion_tokens + int(cand.metrics.get("task_tokens", 0))
            cost += cand.cost_usd + float(cand.metrics.get("task_cost_usd", 0.0))
            rows.append({
                "batch_id": batch_id, "run_id": run["id"], "cell": run["cell"], **_params(run["params"]),
                "seq": cand.seq, "candidate_id": cand.id, "island": cand.island, "generation": cand.generation,
                "edit_kind": cand.edit_kind, "model_used": cand.model, "status": cand.status, "score": cand.score,
                "best_so_far": best, "tokens_cum": tokens, "cost_usd_cum": cost,
                "eval_wall_s": cand.eval_wall_s, "created_at": cand.created_at,
            })
    return rows


def export_batch(store: Store, batch_id: str, out: Path) -> list[Path]:
    """Write runs.csv, runs.parquet, candidates.csv and candidates.parquet to `out`; returns their paths."""
    try:
        import pandas as pd
    except ImportError:
        raise EvolveError("`evolve batch export` needs pandas and pyarrow: pip install 'evolve-lab[batch]'") from None
    output_folder(out)
    written = []
    for name, rows in (("runs", run_rows(store, batch_id)), ("candidates", candidate_rows(store, batch_id))):
        frame = pd.DataFrame(rows)
        for suffix, write in ((".csv", lambda f, p: f.map(spreadsheet_safe).to_csv(p, index=False)),
                              (".parquet", lambda f, p: f.to_parquet(p, index=False))):
            path = out / f"{name}{suffix}"
            try:
                write(frame, path)
            except ImportError as exc:
                raise EvolveError(f"writing {path} needs pyarrow: pip install 'evolve-lab[batch]' ({exc})") from None
            written.append(path)
    return written


def _params(params: dict[str, Any] | None) -> dict[str, Any]:
    """Sweep values as flat columns; a value that is a list or mapping (e.g. `operators`) becomes its JSON text,
    so every column has one type in Parquet."""
    return {k: json.dumps(v, sort_keys=True) if isinstance(v, (dict, list)) else v for k, v in (params or {}).items()}
