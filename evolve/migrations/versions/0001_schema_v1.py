"""Schema version 1: runs, candidates, LLM calls, evaluations, cached task-model answers, split scores.

Frozen as Evolve 0.1 created it: a store made then is stamped at this revision, not rebuilt by it.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _float(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.Float, nullable=nullable)


def _int(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.Integer, nullable=nullable)


def _str(name: str, length: int, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.String(length), nullable=nullable)


def _text(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.Text, nullable=nullable)


def _json(name: str) -> sa.Column:
    return sa.Column(name, sa.JSON, nullable=False)


def _key(name: str, table: str | None = None, nullable: bool = False) -> sa.Column:
    """An id column, a foreign key when `table` is given."""
    refs = [sa.ForeignKey(f"{table}.id")] if table else []
    return sa.Column(name, sa.String(32), *refs, nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "runs", sa.Column("id", sa.String(32), primary_key=True), _str("task_name", 200), _text("task_path"),
        _str("kind", 20), _str("objective", 200), _str("direction", 10), _json("config"), _json("environment"),
        _str("status", 20), _text("stop_reason", True), _float("created_at"), _float("updated_at"),
    )
    op.create_table(
        "candidates", sa.Column("id", sa.String(32), primary_key=True), _key("run_id", "runs"), _int("seq"),
        _int("island"), _key("parent_id", nullable=True), _json("inspiration_ids"), _int("generation"),
        _str("kind", 20), _text("source"), _str("edit_kind", 20), _str("model", 200, True), _int("prompt_tokens"),
        _int("completion_tokens"), _float("cost_usd"), _str("status", 20), _text("reason", True),
        _float("score", True), _json("metrics"), _json("features"), _json("artifacts"), _str("code_hash", 64),
        _key("duplicate_of", nullable=True), _str("behaviour_hash", 64, True), _int("eval_stage"),
        _float("eval_wall_s"), _float("eval_cpu_s"), _float("peak_mem_mb"), _float("llm_s"), _float("created_at"),
    )
    op.create_index("ix_candidates_run_seq", "candidates", ["run_id", "seq"], unique=True)
    op.create_index("ix_candidates_run_hash", "candidates", ["run_id", "code_hash"])
    op.create_table(
        "llm_calls", sa.Column("id", sa.String(32), primary_key=True), _key("run_id", "runs"),
        _key("candidate_id", nullable=True), _str("purpose", 20), _str("model", 200), _json("messages"),
        _text("reply", True), _text("error", True), _int("prompt_tokens"), _int("completion_tokens"),
        _float("cost_usd"), _float("latency_s"), _float("created_at"),
    )
    op.create_index("ix_llm_calls_run", "llm_calls", ["run_id"])
    op.create_table(
        "evaluations", sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _key("candidate_id", "candidates"), _str("status", 20), _int("stage"), _int("returncode", True),
        _text("stdout"), _text("stderr"), _float("wall_s"), _float("cpu_s"), _float("peak_mem_mb"),
    )
    op.create_table(
        "task_outputs", sa.Column("key", sa.String(64), primary_key=True), _str("model", 200), _text("output"),
        _int("prompt_tokens"), _int("completion_tokens"), _float("cost_usd"), _float("created_at"),
    )
    op.create_table(
        "split_scores", sa.Column("id", sa.Integer, primary_key=True, autoincrement=True), _key("run_id", "runs"),
        _key("candidate_id", "candidates"), _str("role", 10), _str("split", 10), _float("score"),
        _int("examples"), _int("task_calls"), _float("created_at"),
    )
    op.create_index("ix_split_scores_run", "split_scores", ["run_id"])
    meta = op.create_table("evolve_meta", sa.Column("key", sa.String(50), primary_key=True),
                           sa.Column("value", sa.Text))
    op.bulk_insert(meta, [{"key": "schema_version", "value": "1"}])
