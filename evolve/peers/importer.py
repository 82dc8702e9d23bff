"""`evolve import PATH`: a peer's saved search becomes an Evolve run in the store, so `evolve status`, `best`,
`report` and the dashboard read it and `evolve resume` continues it with Evolve's engine.

Two formats, read from disk as their tools write them (nothing of theirs is imported or run):
- OpenEvolve: a checkpoint folder (`metadata.json` + `programs/<id>.json`), or an output folder holding
  `checkpoints/checkpoint_<N>/` (the newest N is taken); each program's code, parent, generation, metrics,
  artifacts and island (from metadata.json's `islands`, else the program's metadata);
- ShinkaEvolve: a results folder holding its SQLite database (`programs.sqlite`, or any .sqlite/.db file
  with a `programs` table), or that file; each row's code, parent, generation, island, combined_score,
  public and private metrics, text feedback and correctness.

Programs get fresh ids (a checkpoint imported twice makes two runs) with their parents mapped; programs without a
parent become the run's seeds. Scores follow the task's rules (OpenEvolve's fitness, ShinkaEvolve's
combined_score of correct programs); MAP-Elites features are computed as Evolve's own run would.
The run needs its task (to resume, and for features): the peer's folder when it lies where the peer's tool
put the output (OpenEvolve: beside `openevolve_output/`; ShinkaEvolve: the results folder's parents), else
`--task FOLDER`.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evaluators.openevolve_fitness import fill_fitness
from evolve import __version__
from evolve.candidate import Candidate, new_id
from evolve.config import parse_run_config
from evolve.dedupe import code_hash
from evolve.errors import EvolveError
from evolve.features import describe, resolve_dims
from evolve.store import Store
from evolve.task import Task, load_task

_CHECKPOINT = re.compile(r"^checkpoint_(\d+)$")
_OPENEVOLVE_FAILURE = {"error", "timeout"}  # the metrics OpenEvolve stores for a program that failed


@dataclass
class PeerProgram:
    """One program as the peer stored it, in Evolve's terms (`key` and `parent` are the peer's ids)."""

    key: str
    source: str
    parent: str | None
    generation: int
    island: int
    metrics: dict[str, float]
    artifacts: dict[str, str] = field(default_factory=dict)
    failure: str | None = None  # why the peer counted it as failed or incorrect
    model: str | None = None
    created_at: float = 0.0


@dataclass
class PeerRun:
    format: str  # "openevolve" | "shinka"
    path: Path  # the checkpoint folder or database file read
    programs: list[PeerProgram]
    task_dir: Path | None  # the peer's task folder, where it could be found


@dataclass
class Imported:
    run_id: str
    peer: PeerRun
    task: Task
    counts: dict[str, int]


def read_peer(path: Path) -> PeerRun:
    """Detect the format at `path` and read it (see the module docstring)."""
    path = path.expanduser().resolve()
    if not path.exists():
        raise EvolveError(f"{path}: no such file or folder")
    checkpoint = _openevolve_checkpoint(path)
    if checkpoint is not None:
        return read_openevolve(checkpoint)
    database = _shinka_database(path)
    if database is not None:
        return read_shinka(database)
    raise EvolveError(f"{path}: not an OpenEvolve checkpoint (metadata.json + programs/), an OpenEvolve output "
                      "folder (checkpoints/checkpoint_N) or a ShinkaEvolve results folder (programs.sqlite)")


def _openevolve_checkpoint(path: Path) -> Path | None:
    if path.is_dir() and (path / "programs").is_dir() and (path / "metadata.json").is_file():
        return path
    for folder in (path / "checkpoints", path / "openevolve_output" / "checkpoints"):
        found = [(int(m.group(1)), p) for p in folder.glob("checkpoint_*") if (m := _CHECKPOINT.match(p.name))
                 and (p / "metadata.json").is_file()] if folder.is_dir() else []
        if found:
            return max(found)[1]
    return None


def read_openevolve(checkpoint: Path) -> PeerRun:
    meta = _json(checkpoint / "metadata.json")
    island_of = {pid: i for i, members in enumerate(meta.get("islands") or []) for pid in members}
    programs = []
    for file in sorted((checkpoint / "programs").glob("*.json")):
        data = _json(file)
        if not isinstance(data.get("code"), str) or not data.get("id"):
            raise EvolveError(f"{file}: not an OpenEvolve program (no id or code)")
        raw = data.get("metrics") or {}
        metrics = {str(k): float(v) for k, v in raw.items() if _number(v)}
        failed = bool(metrics) and set(metrics) <= _OPENEVOLVE_FAILURE or raw.get("timeout") is True
        info = data.get("metadata") or {}
        programs.append(PeerProgram(
            key=str(data["id"]), source=data["code"], parent=data.get("parent_id"),
            generation=int(data.get("generation") or 0),
            island=int(island_of.get(data["id"], info.get("island", 0)) or 0),
            metrics={} if failed else metrics, artifacts=_openevolve_artifacts(data, raw),
            failure="the evaluation failed in OpenEvolve" if failed else None,
            created_at=float(data.get("timestamp") or 0.0)))
    if not programs:
        raise EvolveError(f"{checkpoint}: the checkpoint holds no programs")
    output = checkpoint.parent.parent if checkpoint.parent.name == "checkpoints" else None
    return PeerRun("openevolve", checkpoint, programs, output.parent if output is not None else None)


def _openevolve_artifacts(data: dict[str, Any], metrics: dict[str, Any]) -> dict[str, str]:
    """Small artifacts kept inline (artifacts_json) and the non-numeric metrics, as text."""
    artifacts = {str(k): str(v) for k, v in metrics.items() if not _number(v)}
    try:
        inline = json.loads(data.get("artifacts_json") or "{}")
    except ValueError:
        inline = {}
    if isinstance(inline, dict):
        artifacts.update({str(k): v if isinstance(v, str) else json.dumps(v) for k, v in inline.items()})
    return artifacts


def _shinka_database(path: Path) -> Path | None:
    files = [path] if path.is_file() else [path / "programs.sqlite",
                                            *sorted(path.glob("*.sqlite")), *sorted(path.glob("*.db"))]
    for file in files:
        if file.is_file() and _has_programs_table(file):
            return file
    return None


def _has_programs_table(file: Path) -> bool:
    try:
        with sqlite3.connect(file.as_uri() + "?mode=ro", uri=True) as conn:
            return conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='programs'").fetchone() \
                is not None
    except sqlite3.DatabaseError:
        return False


def read_shinka(database: Path) -> PeerRun:
    columns = ("id", "code", "parent_id", "generation", "timestamp", "combined_score", "public_metrics",
               "private_metrics", "text_feedback", "correct", "island_idx", "metadata")
    try:
        with sqlite3.connect(database.as_uri() + "?mode=ro", uri=True) as conn:
            have = {row[1] for row in conn.execute("PRAGMA table_info(programs)")}
            missing = [c for c in ("id", "code", "generation") if c not in have]
            if missing:
                raise EvolveError(f"{database}: table programs lacks {', '.join(missing)}")
            chosen = [c if c in have else f"NULL AS {c}" for c in columns]
            rows = conn.execute(f"SELECT {', '.join(chosen)} FROM programs ORDER BY generation, timestamp").fetchall()
    except sqlite3.DatabaseError as exc:
        raise EvolveError(f"{database}: cannot read the database ({exc})") from None
    programs = [_shinka_program(dict(zip(columns, row, strict=True))) for row in rows]
    if not programs:
        raise EvolveError(f"{database}: the database holds no programs")
    return PeerRun("shinka", database, programs, _shinka_task_dir(database.parent))


def _shinka_program(row: dict[str, Any]) -> PeerProgram:
    public = _json_text(row["public_metrics"])
    metrics = {str(k): float(v) for k, v in public.items() if _number(v)}
    if _number(row["combined_score"]):
        metrics["combined_score"] = float(row["combined_score"])
    artifacts = {str(k): str(v) for k, v in public.items() if not _number(v)}
    if row["text_feedback"]:
        artifacts["text_feedback"] = str(row["text_feedback"])
    private = _json_text(row["private_metrics"])
    if private:
        artifacts["private_metrics"] = json.dumps(private, sort_keys=True, default=str)
    meta = _json_text(row["metadata"])
    correct = bool(row["correct"])
    return PeerProgram(
        key=str(row["id"]), source=str(row["code"]), parent=row["parent_id"], generation=int(row["generation"] or 0),
        island=int(row["island_idx"] or 0), metrics=metrics, artifacts=artifacts,
        failure=None if correct else (str(row["text_feedback"] or "") or "incorrect in ShinkaEvolve")[:500],
        model=meta.get("model_name") if isinstance(meta.get("model_name"), str) else None,
        created_at=float(row["timestamp"] or 0.0))


def _shinka_task_dir(results: Path) -> Path | None:
    from evolve.peers import shinka

    for folder in (results, *list(results.parents)[:3]):
        if shinka.is_shinka_folder(folder):
            return folder
    return None


def import_run(path: Path, storage: str, task_ref: str | None = None,
               overrides: dict[str, Any] | None = None) -> Imported:
    """Read the peer's run at `path` and store it as a stopped Evolve run; the task comes from `task_ref` or is
    found beside the peer's output."""
    peer = read_peer(path)
    if task_ref is None and peer.task_dir is None:
        raise EvolveError(f"{peer.path}: the task folder of this {peer.format} run was not found next to it; "
                          "pass it with --task FOLDER")
    task = load_task(task_ref or peer.task_dir)
    spec = task.spec
    islands = max(p.island for p in peer.programs) + 1
    children = sum(1 for p in peer.programs if p.parent is not None)
    settings = {**spec.run, **(overrides or {})}
    settings["islands"] = max(int(settings.get("islands", 1)), islands)
    settings["iterations"] = max(int(settings.get("iterations", 0)), children)
    config = parse_run_config(settings, source=f"{task.spec_file} (run:) and the command line")
    store = Store(storage)
    run_id = store.create_run(
        task_name=task.name, task_path=str(task.ref), kind=spec.kind, objective=spec.objective,
        direction=spec.direction, config=config.model_dump(mode="json"), status="stopped",
        environment={"evolve": __version__, "imported": {"format": peer.format, "path": str(peer.path),
                                                         "programs": len(peer.programs)}},
    )
    counts = _store_programs(store, run_id, task, peer)
    store.set_run_status(run_id, "stopped", f"imported from {peer.format} ({peer.path.name})")
    return Imported(run_id, peer, task, counts)


def _store_programs(store: Store, run_id: str, task: Task, peer: PeerRun) -> dict[str, int]:
    spec = task.spec
    dims = resolve_dims(spec.features, task.seed_source, spec.objective, spec.best_known)
    exclude = task.evaluator_spec.get("fitness_exclude")
    ids = {p.key: new_id() for p in peer.programs}
    counts: dict[str, int] = {}
    for prog in sorted(peer.programs, key=lambda p: (p.generation, p.created_at)):
        metrics = dict(prog.metrics)
        if exclude is not None and peer.format == "openevolve" and metrics:
            fill_fitness(metrics, spec.objective, exclude)
        score = metrics.get(spec.objective)
        status, reason = "ok", None
        if prog.failure is not None:
            status, reason = ("invalid" if peer.format == "shinka" else "crashed"), prog.failure
        elif score is None:
            status, reason = "invalid", f"no '{spec.objective}' metric in the imported program"
        cand = Candidate(
            run_id=run_id, source=prog.source, kind=spec.kind, id=ids[prog.key], island=prog.island,
            parent_id=ids.get(prog.parent) if prog.parent else None, generation=prog.generation,
            edit_kind="seed" if prog.parent is None else "imported", model=prog.model, status=status,
            reason=reason, score=score if status == "ok" else None, metrics=metrics,
            features=describe(prog.source, task.seed_source, metrics, dims), artifacts=prog.artifacts,
            code_hash=code_hash(prog.source, spec.language), created_at=prog.created_at or 0.0,
        )
        store.add_candidate(cand)
        counts[status] = counts.get(status, 0) + 1
    return counts


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EvolveError(f"{path}: not readable JSON ({exc})") from None
    if not isinstance(data, dict):
        raise EvolveError(f"{path}: expected a JSON object")
    return data


def _json_text(text: Any) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
