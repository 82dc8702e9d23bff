"""Persistence: runs, candidates, LLM calls, evaluations, the task model's cached answers and held-out scores,
in SQLite (WAL) or PostgreSQL, by URL.

Every child is written in one transaction with the LLM calls that produced it, so a run killed at any instant has
either all of a candidate or none of it. Storage URLs follow SQLAlchemy (and Optuna): `sqlite:///evolve.db`,
`postgresql+psycopg://user@host/db`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON, Column, Engine, Float, ForeignKey, Index, Integer, MetaData, String, Table, Text, bindparam,
    event, func, insert, select, update,
)
from sqlalchemy.exc import IntegrityError

from evolve.candidate import Candidate, new_id
from evolve.safe_text import valid_utf8
from evolve.store_engine import open_engine, shown_url
from evolve.store_types import StoredText

SCHEMA_VERSION = 2
metadata = MetaData()

# A batch: the runs one sweep file expanded into (evolve/batch/). Its runs point at it with runs.batch_id.
batches = Table(
    "batches", metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("sweep", JSON, nullable=False),  # the sweep as validated, so `batch resume` needs no file
    Column("sweep_path", Text, nullable=False),
    Column("settings", JSON, nullable=False),  # executor, concurrency caps, batch budgets
    Column("status", String(20), nullable=False),  # running | stopped | finished | failed
    Column("stop_reason", StoredText),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

runs = Table(
    "runs", metadata,
    Column("id", String(32), primary_key=True),
    Column("task_name", String(200), nullable=False),
    Column("task_path", Text, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("objective", String(200), nullable=False),
    Column("direction", String(10), nullable=False),
    Column("config", JSON, nullable=False),
    Column("environment", JSON, nullable=False),  # versions, sandbox features, host: for reproduction
    Column("status", String(20), nullable=False),  # running | stopped | finished | failed
    Column("stop_reason", StoredText),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("batch_id", String(32), ForeignKey("batches.id")),  # null: a run started on its own
    Column("params", JSON),  # the sweep values that made this run: {"task": ..., "model": ..., "seed": ..., setting: value}
    Column("cell", String(64)),  # hash of params without the seed: the runs of one configuration across seeds
    Index("ix_runs_batch", "batch_id"),
)

candidates = Table(
    "candidates", metadata,
    Column("id", String(32), primary_key=True),
    Column("run_id", String(32), ForeignKey("runs.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("island", Integer, nullable=False),
    Column("parent_id", String(32)),
    Column("inspiration_ids", JSON, nullable=False),
    Column("generation", Integer, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("source", StoredText, nullable=False),
    Column("edit_kind", String(20), nullable=False),
    Column("model", String(200)),
    Column("prompt_tokens", Integer, nullable=False),
    Column("completion_tokens", Integer, nullable=False),
    Column("cost_usd", Float, nullable=False),
    Column("status", String(20), nullable=False),
    Column("reason", StoredText),
    Column("score", Float),
    Column("metrics", JSON, nullable=False),
    Column("features", JSON, nullable=False),
    Column("artifacts", JSON, nullable=False),
    Column("code_hash", String(64), nullable=False),
    Column("duplicate_of", String(32)),
    Column("behaviour_hash", String(64)),  # functional hashing: hash of the answers to the task's probes
    Column("eval_stage", Integer, nullable=False),
    Column("eval_wall_s", Float, nullable=False),
    Column("eval_cpu_s", Float, nullable=False),
    Column("peak_mem_mb", Float, nullable=False),
    Column("llm_s", Float, nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_candidates_run_seq", "run_id", "seq", unique=True),
    Index("ix_candidates_run_hash", "run_id", "code_hash"),
    # The dashboard's aggregates (figures, timelines, batch curves) read only this index, never the rows with their
    # sources: at 100,000 children that is the difference between ~15 s and milliseconds (benchmarks/ui_pages.py).
    Index("ix_candidates_run_digest", "run_id", "seq", "status", "score", "edit_kind", "model", "duplicate_of",
          "prompt_tokens", "completion_tokens", "cost_usd"),
    Index("ix_candidates_run_score", "run_id", "status", "score"),  # a run's best candidates, without a scan
)

llm_calls = Table(
    "llm_calls", metadata,
    Column("id", String(32), primary_key=True),
    Column("run_id", String(32), ForeignKey("runs.id"), nullable=False),
    Column("candidate_id", String(32)),  # null for a call that produced no candidate (an error)
    Column("purpose", String(20), nullable=False),  # mutation | repair | meta | novelty
    Column("model", String(200), nullable=False),
    Column("messages", JSON, nullable=False),
    Column("reply", StoredText),
    Column("error", StoredText),
    Column("prompt_tokens", Integer, nullable=False),
    Column("completion_tokens", Integer, nullable=False),
    Column("cost_usd", Float, nullable=False),
    Column("latency_s", Float, nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_llm_calls_run", "run_id"),
    Index("ix_llm_calls_candidate", "candidate_id"),  # a candidate's prompt and reply, without a scan
)

evaluations = Table(
    "evaluations", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("candidate_id", String(32), ForeignKey("candidates.id"), nullable=False),
    Column("status", String(20), nullable=False),
    Column("stage", Integer, nullable=False),
    Column("returncode", Integer),
    Column("stdout", StoredText, nullable=False),
    Column("stderr", StoredText, nullable=False),
    Column("wall_s", Float, nullable=False),
    Column("cpu_s", Float, nullable=False),
    Column("peak_mem_mb", Float, nullable=False),
    Index("ix_evaluations_candidate", "candidate_id"),
)

# The task model's answer to one filled-in prompt (prompt runs). Keyed by a hash of the model, its generation
# settings and the exact messages, so any run in this store that asks the same again reuses the answer.
task_outputs = Table(
    "task_outputs", metadata,
    Column("key", String(64), primary_key=True),
    Column("model", String(200), nullable=False),
    Column("output", StoredText, nullable=False),
    Column("prompt_tokens", Integer, nullable=False),
    Column("completion_tokens", Integer, nullable=False),
    Column("cost_usd", Float, nullable=False),
    Column("created_at", Float, nullable=False),
)

# Scores of a run's seed and best candidates on each split (prompt runs: dev during evolution, test after it).
split_scores = Table(
    "split_scores", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(32), ForeignKey("runs.id"), nullable=False),
    Column("candidate_id", String(32), ForeignKey("candidates.id"), nullable=False),
    Column("role", String(10), nullable=False),  # seed | best
    Column("split", String(10), nullable=False),  # dev | test
    Column("score", Float, nullable=False),
    Column("examples", Integer, nullable=False),
    Column("task_calls", Integer, nullable=False),  # task-model calls this scoring made (0: all cached)
    Column("created_at", Float, nullable=False),
    Index("ix_split_scores_run", "run_id"),
)

meta = Table("evolve_meta", metadata, Column("key", String(50), primary_key=True), Column("value", Text))

# Statements of the per-child write, built once (see Store.add_candidate).
_NEXT_SEQ = (select(func.coalesce(func.max(candidates.c.seq), -1) + 1)
             .where(candidates.c.run_id == bindparam("run_id")))
_TOUCH_RUN = update(runs).where(runs.c.id == bindparam("run_id")).values(updated_at=bindparam("now"))

_CANDIDATE_FIELDS = [f.name for f in fields(Candidate)]


@dataclass
class LLMCallRecord:
    """One request to a model and what came back (or the error), as stored."""

    model: str
    messages: list[dict[str, str]]
    purpose: str = "mutation"
    reply: str | None = None
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0
    id: str = ""
    created_at: float = 0.0


@dataclass
class EvaluationRecord:
    """The sandbox's account of one evaluation process."""

    status: str
    stage: int
    returncode: int | None
    stdout: str
    stderr: str
    wall_s: float
    cpu_s: float
    peak_mem_mb: float


@dataclass
class TaskOutput:
    """A cached task-model answer."""

    output: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


@dataclass
class SplitScore:
    """One candidate's score on one split, as reported when a run ends (see evolve/reverify.py for the last two)."""

    candidate_id: str
    role: str  # seed | best | flagged
    split: str  # dev | test | reverify | spread
    score: float
    examples: int
    task_calls: int = 0


@dataclass
class RunUsage:
    tokens: int
    cost_usd: float


def normalize_url(storage: str) -> str:
    """Accept a SQLAlchemy URL or a plain file path (taken as a SQLite file)."""
    if "://" in storage:
        return storage
    return f"sqlite:///{Path(storage).expanduser().resolve()}"


def open_existing(storage: str) -> Store:
    """The store, refusing a SQLite path that does not exist: a command that only reads (status, export, report)
    must not leave an empty database behind a typo."""
    from sqlalchemy.engine import make_url

    from evolve.errors import EvolveError
    from evolve.safe_text import shown

    url = make_url(normalize_url(storage))
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        if not Path(url.database).exists():
            raise EvolveError(f"no store at {shown(url.database, 300, one_line=True)} (give --storage or set "
                              "EVOLVE_STORAGE)")
    return Store(str(url.render_as_string(hide_password=False)))


def _utf8_row(row: dict[str, Any]) -> dict[str, Any]:
    """The row's text as valid UTF-8 (see `valid_utf8`): the last guard before the database, which refuses it."""
    return {k: valid_utf8(v) if isinstance(v, str) else v for k, v in row.items()}


class Store:
    """All reads and writes of a study's database."""

    def __init__(self, url: str) -> None:
        from evolve.store_schema import ensure_current

        self.url = normalize_url(url)
        self.shown_url = shown_url(self.url)  # what messages print: the password masked
        self.engine: Engine = open_engine(self.url)
        if self.engine.dialect.name == "sqlite":
            _create_private(self.engine.url.database)
            event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            ensure_current(self.engine, self.url)  # a new store is created; any other version is refused
        except BaseException:
            self.engine.dispose()
            raise

    def close(self) -> None:
        self.engine.dispose()

    # runs
    def create_run(self, *, task_name: str, task_path: str, kind: str, objective: str, direction: str,
                   config: dict[str, Any], environment: dict[str, Any], status: str = "running",
                   batch_id: str | None = None, params: dict[str, Any] | None = None,
                   cell: str | None = None) -> str:
        """A new run; a batch creates its runs `pending` before any of them is dispatched."""
        run_id = new_id()
        now = time.time()
        with self.engine.begin() as conn:
            conn.execute(insert(runs).values(
                id=run_id, task_name=task_name, task_path=task_path, kind=kind, objective=objective,
                direction=direction, config=config, environment=environment, status=status,
                stop_reason=None, created_at=now, updated_at=now, batch_id=batch_id, params=params, cell=cell,
            ))
        return run_id

    def set_run_status(self, run_id: str, status: str, reason: str | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(runs).where(runs.c.id == run_id)
                         .values(status=status, stop_reason=None if reason is None else valid_utf8(reason), updated_at=time.time()))

    def update_run_config(self, run_id: str, config: dict[str, Any]) -> None:
        """Settings changed on resume (e.g. more iterations) are kept with the run."""
        with self.engine.begin() as conn:
            conn.execute(update(runs).where(runs.c.id == run_id).values(config=config, updated_at=time.time()))

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        """A run by id, or by a unique id prefix (ids are long; users type the start)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(runs).where(runs.c.id.startswith(run_id, autoescape=True))).mappings().all()
        return dict(rows[0]) if len(rows) == 1 else None

    def list_runs(self, batch_id: str | None = None) -> list[dict[str, Any]]:
        """Every run (or a batch's runs) with its children, ok count and extreme scores."""
        with self.engine.connect() as conn:
            counts = (select(candidates.c.run_id, func.count().label("n"), func.max(candidates.c.score).label("hi"),
                             func.min(candidates.c.score).label("lo"))
                      .where(candidates.c.status == "ok").group_by(candidates.c.run_id).subquery())
            totals = (select(candidates.c.run_id, func.count().label("children"))
                      .where(candidates.c.edit_kind != "seed").group_by(candidates.c.run_id).subquery())
            q = (select(runs, counts.c.n, counts.c.hi, counts.c.lo, totals.c.children)
                 .outerjoin(counts, counts.c.run_id == runs.c.id)
                 .outerjoin(totals, totals.c.run_id == runs.c.id)
                 .order_by(runs.c.created_at))
            if batch_id is not None:
                q = q.where(runs.c.batch_id == batch_id)
            return [dict(r) for r in conn.execute(q).mappings()]

    # batches (evolve/batch/)
    def create_batch(self, *, name: str, sweep: dict[str, Any], sweep_path: str, settings: dict[str, Any],
                     pending: list[dict[str, Any]]) -> str:
        """A batch and all its runs, `pending`, in one transaction (a batch is never stored half made); each of
        `pending` holds `create_run`'s fields plus the run's `params` and `cell`."""
        batch_id = new_id()
        now = time.time()
        with self.engine.begin() as conn:
            conn.execute(insert(batches).values(id=batch_id, name=name, sweep=sweep, sweep_path=sweep_path,
                                                settings=settings, status="running", stop_reason=None,
                                                created_at=now, updated_at=now))
            # a microsecond apart: listed (and so dispatched) in the sweep's order
            conn.execute(insert(runs), [{**run, "id": new_id(), "status": "pending", "stop_reason": None,
                                         "created_at": now + i * 1e-6, "updated_at": now, "batch_id": batch_id}
                                        for i, run in enumerate(pending)])
        return batch_id

    def get_batch(self, ref: str) -> dict[str, Any] | None:
        """A batch by id, unique id prefix, or name (the latest batch of that name)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(batches).where(batches.c.id.startswith(ref, autoescape=True))).mappings().all()
            if len(rows) != 1:
                rows = conn.execute(select(batches).where(batches.c.name == ref)
                                    .order_by(batches.c.created_at.desc()).limit(1)).mappings().all()
        return dict(rows[0]) if rows else None

    def list_batches(self) -> list[dict[str, Any]]:
        """Every batch with its runs counted by status."""
        with self.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(select(batches).order_by(batches.c.created_at)).mappings()]
            counts = conn.execute(select(runs.c.batch_id, runs.c.status, func.count())
                                  .where(runs.c.batch_id.is_not(None)).group_by(runs.c.batch_id, runs.c.status))
            by_batch: dict[str, dict[str, int]] = {}
            for batch_id, status, n in counts:
                by_batch.setdefault(batch_id, {})[status] = n
        for row in rows:
            row["run_counts"] = by_batch.get(row["id"], {})
        return rows

    def set_batch_status(self, batch_id: str, status: str, reason: str | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(batches).where(batches.c.id == batch_id)
                         .values(status=status, stop_reason=reason, updated_at=time.time()))

    def update_batch_settings(self, batch_id: str, settings: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(batches).where(batches.c.id == batch_id)
                         .values(settings=settings, updated_at=time.time()))

    def claim_batch(self, batch_id: str, settings: dict[str, Any], seen_updated_at: float) -> bool:
        """Record a new driver in `settings` and mark the batch running, only if the batch row is unchanged since
        it was read at `seen_updated_at`; False when another process changed it first (two `batch resume` at
        once: exactly one of them wins)."""
        with self.engine.begin() as conn:
            done = conn.execute(update(batches)
                                .where(batches.c.id == batch_id, batches.c.updated_at == seen_updated_at)
                                .values(settings=settings, status="running", stop_reason=None,
                                        updated_at=max(time.time(), seen_updated_at + 1e-6)))
        return done.rowcount == 1

    def batch_stop_request(self, batch_id: str) -> str | None:
        """Why the batch asks its runs to stop (status `stopping`), or None: what each running job polls."""
        with self.engine.connect() as conn:
            row = conn.execute(select(batches.c.status, batches.c.stop_reason)
                               .where(batches.c.id == batch_id)).first()
        return (row[1] or "stopped") if row is not None and row[0] == "stopping" else None

    def batch_usage(self, batch_id: str) -> RunUsage:
        """Tokens and dollars of every LLM call of every run in the batch, and of the task model of prompt tasks
        (kept in the candidates' metrics, as a lone run's budget counts it): what batch budgets count."""
        with self.engine.connect() as conn:
            tokens, cost = conn.execute(
                select(func.coalesce(func.sum(llm_calls.c.prompt_tokens + llm_calls.c.completion_tokens), 0),
                       func.coalesce(func.sum(llm_calls.c.cost_usd), 0.0))
                .join(runs, runs.c.id == llm_calls.c.run_id).where(runs.c.batch_id == batch_id)).one()
            task_tokens, task_cost = conn.execute(
                select(func.coalesce(func.sum(candidates.c.metrics["task_tokens"].as_float()), 0),
                       func.coalesce(func.sum(candidates.c.metrics["task_cost_usd"].as_float()), 0.0))
                .join(runs, runs.c.id == candidates.c.run_id).where(runs.c.batch_id == batch_id)).one()
        return RunUsage(int(tokens + task_tokens), float(cost + task_cost))

    # candidates
    def add_candidate(self, cand: Candidate, calls: list[LLMCallRecord] = (), evaluation: EvaluationRecord | None = None) -> Candidate:
        """Write a candidate with its LLM calls and evaluation in one transaction; assigns `cand.seq`.

        The statements take their values as parameters (as every per-item write here does): building
        `insert(...).values(**row)` per child made SQLAlchemy compile a new cache key each time, a third of
        the engine's own time per child in the loop benchmark.
        Many processes may write one store (a batch) and even one run (a job resumed elsewhere): see below."""
        with self.engine.begin() as conn:
            # Touching the run first locks its row (PostgreSQL) or the file (SQLite) until commit, so two
            # writers of one run take turns at numbering instead of both reading the same max(seq).
            conn.execute(_TOUCH_RUN, {"run_id": cand.run_id, "now": time.time()})
            cand.seq = conn.execute(_NEXT_SEQ, {"run_id": cand.run_id}).scalar_one()
            conn.execute(insert(candidates), _utf8_row(asdict(cand)))
            if calls:
                conn.execute(insert(llm_calls), [self._call_row(cand.run_id, call, cand.id) for call in calls])
            if evaluation is not None:
                conn.execute(insert(evaluations), _utf8_row({"candidate_id": cand.id, **asdict(evaluation)}))
        return cand

    def add_failed_call(self, run_id: str, call: LLMCallRecord) -> None:
        """Store an LLM call that produced no candidate (error after retries): it costs tokens, not an iteration."""
        self.add_run_call(run_id, call)

    def add_run_call(self, run_id: str, call: LLMCallRecord) -> None:
        """Store an LLM call that belongs to the run, not to one candidate (a failed call, meta-guidance)."""
        with self.engine.begin() as conn:
            conn.execute(insert(llm_calls).values(**self._call_row(run_id, call, None)))

    def latest_call(self, run_id: str, purpose: str) -> dict[str, Any] | None:
        """The run's most recent successful call made for `purpose` (e.g. the current meta-guidance notes)."""
        q = (select(llm_calls).where(llm_calls.c.run_id == run_id, llm_calls.c.purpose == purpose,
                                     llm_calls.c.reply.is_not(None))
             .order_by(llm_calls.c.created_at.desc()).limit(1))
        with self.engine.connect() as conn:
            row = conn.execute(q).mappings().first()
        return dict(row) if row else None

    def add_run_note(self, run_id: str, note: str) -> None:
        """Keep a note with the run (a fallback it took, e.g. novelty off because its endpoint was down), once."""
        with self.engine.begin() as conn:
            env = conn.execute(select(runs.c.environment).where(runs.c.id == run_id)).scalar_one()
            notes = list(env.get("notes", []))
            if note not in notes:
                conn.execute(update(runs).where(runs.c.id == run_id)
                             .values(environment={**env, "notes": [*notes, note]}))

    @staticmethod
    def _call_row(run_id: str, call: LLMCallRecord, candidate_id: str | None) -> dict[str, Any]:
        row = asdict(call)
        row.update(id=call.id or new_id(), created_at=call.created_at or time.time(),
                   run_id=run_id, candidate_id=candidate_id)
        return _utf8_row(row)

    def iter_candidates(self, run_id: str, status: str | None = None) -> Iterator[Candidate]:
        """Candidates in completion order (the order an archive replays them on resume)."""
        q = select(candidates).where(candidates.c.run_id == run_id).order_by(candidates.c.seq)
        if status is not None:
            q = q.where(candidates.c.status == status)
        with self.engine.connect() as conn:
            for row in conn.execute(q).mappings():
                yield Candidate(**{k: row[k] for k in _CANDIDATE_FIELDS})

    def get_candidate(self, cand_id: str) -> Candidate | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(candidates).where(candidates.c.id == cand_id)).mappings().first()
        return Candidate(**{k: row[k] for k in _CANDIDATE_FIELDS}) if row else None

    def best_candidate(self, run_id: str, maximize: bool) -> Candidate | None:
        order = candidates.c.score.desc() if maximize else candidates.c.score.asc()
        with self.engine.connect() as conn:
            row = conn.execute(select(candidates.c.id).where(candidates.c.run_id == run_id,
                                                             candidates.c.status == "ok",
                                                             candidates.c.score.is_not(None))
                               .order_by(order, candidates.c.seq).limit(1)).first()
        return self.get_candidate(row[0]) if row else None

    def count_candidates(self, run_id: str, children_only: bool = False) -> int:
        """All stored candidates, or only children (seeds excluded: a task may have several)."""
        q = select(func.count()).select_from(candidates).where(candidates.c.run_id == run_id)
        if children_only:
            q = q.where(candidates.c.edit_kind != "seed")
        with self.engine.connect() as conn:
            return conn.execute(q).scalar_one()

    def status_counts(self, run_id: str) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(candidates.c.status, func.count()).where(candidates.c.run_id == run_id)
                                .group_by(candidates.c.status)).all()
        return {status: n for status, n in rows}

    def usage(self, run_id: str) -> RunUsage:
        """Tokens and dollars spent by every LLM call of the run, failed calls included."""
        with self.engine.connect() as conn:
            tokens, cost = conn.execute(
                select(func.coalesce(func.sum(llm_calls.c.prompt_tokens + llm_calls.c.completion_tokens), 0),
                       func.coalesce(func.sum(llm_calls.c.cost_usd), 0.0))
                .where(llm_calls.c.run_id == run_id)).one()
        return RunUsage(int(tokens), float(cost))

    def llm_calls_for(self, candidate_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(llm_calls).where(llm_calls.c.candidate_id == candidate_id)
                                .order_by(llm_calls.c.created_at)).mappings().all()
        return [dict(r) for r in rows]

    # the task model's answers (prompt runs)
    def task_outputs(self, keys: list[str]) -> dict[str, TaskOutput]:
        """Cached answers for those of `keys` that have one."""
        found: dict[str, TaskOutput] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(keys), 500):  # stay under SQLite's bound-parameter limit
                rows = conn.execute(select(task_outputs).where(task_outputs.c.key.in_(keys[start:start + 500])))
                for row in rows.mappings():
                    found[row["key"]] = TaskOutput(row["output"], row["prompt_tokens"], row["completion_tokens"],
                                                   row["cost_usd"])
        return found

    def add_task_output(self, key: str, model: str, out: TaskOutput) -> None:
        """Cache an answer; a concurrent writer of the same key already stored the same answer, which is kept."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(task_outputs),
                             _utf8_row({"key": key, "model": model, "created_at": time.time(), **asdict(out)}))
        except IntegrityError:
            pass

    def add_split_scores(self, run_id: str, scores: list[SplitScore]) -> None:
        if not scores:
            return
        with self.engine.begin() as conn:
            conn.execute(insert(split_scores),
                         [{"run_id": run_id, "created_at": time.time(), **asdict(score)} for score in scores])

    def split_scores(self, run_id: str) -> list[SplitScore]:
        """The latest score per (role, split) of a run (a resumed run reports again when it ends); every seed and
        every flagged candidate keeps its own rows."""
        q = select(split_scores).where(split_scores.c.run_id == run_id).order_by(split_scores.c.id)
        with self.engine.connect() as conn:
            latest = {(r["role"], r["split"], r["candidate_id"] if r["role"] != "best" else ""):
                      SplitScore(r["candidate_id"], r["role"], r["split"], r["score"], r["examples"], r["task_calls"])
                      for r in conn.execute(q).mappings()}
        return list(latest.values())

    def hashes(self, run_id: str) -> dict[str, str]:
        """code_hash -> id of the first evaluated candidate with it (what a duplicate points at)."""
        q = (select(candidates.c.code_hash, candidates.c.id)
             .where(candidates.c.run_id == run_id, candidates.c.status != "rejected-duplicate",
                    candidates.c.code_hash != "")
             .order_by(candidates.c.seq.desc()))
        with self.engine.connect() as conn:
            return {h: cid for h, cid in conn.execute(q)}


def _create_private(database: str | None) -> None:
    """A new SQLite file is created readable by its owner only (SQLite gives its -wal and -shm files the same
    mode): it holds every prompt, reply and score of the study. An existing file keeps its mode."""
    if database and database != ":memory:" and not database.startswith("file:"):
        try:
            os.close(os.open(database, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except OSError:  # it exists, or SQLite will say why it cannot open it
            pass


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    """WAL lets readers (status, dashboard) run beside the writer; busy_timeout lets several processes share a file."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
