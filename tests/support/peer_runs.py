"""Small saved runs in the peers' own on-disk formats, written here (not copied from their runs):

- `write_openevolve_checkpoint`: <output>/checkpoints/checkpoint_<N>/ as OpenEvolve's controller saves one:
  programs/<id>.json (every field of its Program record), metadata.json (islands, archive, best ids, feature
  stats, ...), best_program.py and best_program_info.json;
- `write_shinka_database`: a results folder's programs.sqlite with ShinkaEvolve's `programs` table layout
  (plus its `archive` and `metadata_store` tables).
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any


def openevolve_program(pid: str, code: str, parent: str | None, generation: int, metrics: dict[str, Any],
                       island: int = 0, artifacts: dict[str, str] | None = None) -> dict[str, Any]:
    """One Program record with all the fields OpenEvolve writes."""
    return {
        "id": pid, "code": code, "changes_description": "", "language": "python", "parent_id": parent,
        "generation": generation, "timestamp": time.time() + generation, "iteration_found": generation,
        "metrics": metrics, "complexity": float(len(code)), "diversity": 0.0,
        "metadata": {"island": island, "changes": "", "parent_metrics": {}}, "prompts": None,
        "artifacts_json": json.dumps(artifacts) if artifacts else None, "artifact_dir": None, "embedding": None,
    }


def write_openevolve_checkpoint(output: Path, iteration: int, programs: list[dict[str, Any]],
                                islands: list[list[str]]) -> Path:
    folder = output / "checkpoints" / f"checkpoint_{iteration}"
    (folder / "programs").mkdir(parents=True)
    for program in programs:
        (folder / "programs" / f"{program['id']}.json").write_text(json.dumps(program))
    best = max(programs, key=lambda p: p["metrics"].get("combined_score", 0.0))
    metadata = {
        "island_feature_maps": [{} for _ in islands], "islands": islands, "archive": [p["id"] for p in programs],
        "best_program_id": best["id"], "island_best_programs": [members[0] for members in islands],
        "last_iteration": iteration, "current_island": 0, "island_generations": [1 for _ in islands],
        "last_migration_generation": 0, "feature_stats": {},
    }
    (folder / "metadata.json").write_text(json.dumps(metadata))
    (folder / "best_program.py").write_text(best["code"])
    (folder / "best_program_info.json").write_text(json.dumps(
        {"id": best["id"], "generation": best["generation"], "iteration": best["iteration_found"],
         "current_iteration": iteration, "metrics": best["metrics"], "language": "python",
         "timestamp": best["timestamp"], "saved_at": time.time()}, indent=2))
    return folder


_SHINKA_PROGRAMS = """
CREATE TABLE programs (
    id TEXT PRIMARY KEY, code TEXT NOT NULL, language TEXT NOT NULL, parent_id TEXT,
    archive_inspiration_ids TEXT, top_k_inspiration_ids TEXT, generation INTEGER NOT NULL,
    timestamp REAL NOT NULL, code_diff TEXT, combined_score REAL, public_metrics TEXT, private_metrics TEXT,
    text_feedback TEXT, complexity REAL, embedding TEXT, embedding_pca_2d TEXT, embedding_pca_3d TEXT,
    embedding_cluster_id INTEGER, correct BOOLEAN DEFAULT 0, children_count INTEGER NOT NULL DEFAULT 0,
    metadata TEXT, migration_history TEXT, island_idx INTEGER, system_prompt_id TEXT
)"""


def write_shinka_database(results: Path, rows: list[dict[str, Any]]) -> Path:
    """rows: id, code, parent_id, generation, combined_score, public, private, text_feedback, correct, island."""
    results.mkdir(parents=True, exist_ok=True)
    path = results / "programs.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute(_SHINKA_PROGRAMS)
        conn.execute("CREATE TABLE archive (program_id TEXT PRIMARY KEY)")
        conn.execute("CREATE TABLE metadata_store (key TEXT PRIMARY KEY, value TEXT)")
        for i, row in enumerate(rows):
            conn.execute(
                "INSERT INTO programs (id, code, language, parent_id, archive_inspiration_ids, top_k_inspiration_ids,"
                " generation, timestamp, code_diff, combined_score, public_metrics, private_metrics, text_feedback,"
                " complexity, embedding, correct, children_count, metadata, migration_history, island_idx)"
                " VALUES (?, ?, 'python', ?, '[]', '[]', ?, ?, NULL, ?, ?, ?, ?, 0.0, '[]', ?, 0, ?, '[]', ?)",
                (row["id"], row["code"], row.get("parent_id"), row["generation"], time.time() + i,
                 row["combined_score"], json.dumps(row.get("public", {})), json.dumps(row.get("private", {})),
                 row.get("text_feedback", ""), int(row["correct"]), json.dumps({"model_name": "gpt-test"}),
                 row.get("island", 0)))
        conn.execute("INSERT INTO metadata_store VALUES ('best_program_id', ?)", (rows[-1]["id"],))
    return path
