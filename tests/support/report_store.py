"""A store holding a small batch written through the real Store API: tasks x configurations x seeds, each run a
seed candidate and children with known scores, statuses, twins, tokens and cost (for the report's tests)."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import insert

from evolve.candidate import Candidate
from evolve.store import LLMCallRecord, Store, batches

# Children of one run: (status, score or None, duplicate_of marker): "twin" marks a behaviour twin
CHILDREN = [("ok", 0.0), ("invalid", None), ("ok", 1.0), ("crashed", None), ("timeout", None),
            ("rejected-duplicate", None), ("twin", None), ("ok", 2.0)]


def make_task_folder(root: Path, name: str, best_known: float) -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "task.yaml").write_text(f"name: {name}\nobjective: score\nbest_known: {best_known}\n")
    return folder


def add_run(store: Store, *, task: str, task_path: str, batch_id: str | None, params: dict | None,
            cell: str | None, gain: float, seed_score: float = 10.0, objective: str = "score",
            reasons: str = "bad reply", cost_per_token: float = 1e-6) -> str:
    """One finished run: the seed scores `seed_score`, the k-th ok child scores seed_score + gain * (1 + k)."""
    run_id = store.create_run(task_name=task, task_path=task_path, kind="program", objective=objective,
                              direction="maximize", config={"seed": (params or {}).get("seed", 0), "islands": 1},
                              environment={}, status="finished", batch_id=batch_id, params=params, cell=cell)
    seed = store.add_candidate(Candidate(run_id=run_id, source="seed", score=seed_score,
                                         metrics={objective: seed_score}, code_hash="seed"))
    for i, (status, step) in enumerate(CHILDREN):
        twin = status == "twin"
        score = None if step is None else seed_score + gain * (1 + step)
        child = Candidate(
            run_id=run_id, source=f"child {i}", edit_kind="rewrite", parent_id=seed.id, model="scripted",
            status="ok" if twin else status, score=score, metrics={} if score is None else {objective: score},
            reason=None if status == "ok" or twin else f"{reasons} {i}", code_hash=f"h{i}",
            duplicate_of=seed.id if status in ("twin", "rejected-duplicate") else None,
            behaviour_hash="b" if twin else None, prompt_tokens=100, completion_tokens=50,
            cost_usd=150 * cost_per_token)
        call = LLMCallRecord(model="scripted", messages=[], reply="x", prompt_tokens=100, completion_tokens=50,
                             cost_usd=150 * cost_per_token)
        store.add_candidate(child, [call])
    return run_id


def add_batch(store: Store, batch_id: str, name: str) -> None:
    now = time.time()
    with store.engine.begin() as conn:
        conn.execute(insert(batches).values(id=batch_id, name=name, sweep={}, sweep_path="sweep.yaml", settings={},
                                            status="finished", created_at=now, updated_at=now))


def make_batch_store(root: Path, tasks: tuple[str, ...] = ("alpha",), seeds: int = 3) -> tuple[str, str]:
    """(storage URL, batch id): each task x two configurations (islands 1: small gains, islands 4: large) x seeds."""
    storage = f"sqlite:///{root / 'report.db'}"
    store = Store(storage)
    add_batch(store, "b0123456789a", "islands-sweep")
    for task in tasks:
        folder = make_task_folder(root / "tasks", task, best_known=20.0)
        for islands, gains in ((1, (0.5, 0.6, 0.7)), (4, (2.0, 2.2, 2.4))):
            for seed in range(1, seeds + 1):
                params = {"task": task, "model": "scripted", "islands": islands, "seed": seed}
                add_run(store, task=task, task_path=str(folder), batch_id="b0123456789a", params=params,
                        cell=f"cell-{task}-{islands}", gain=gains[(seed - 1) % 3])
    store.close()
    return storage, "b0123456789a"
