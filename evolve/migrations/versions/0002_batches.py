"""Schema version 2: batches (the runs one sweep expanded into), each run's batch, sweep values and cell, and the
indexes the dashboard reads a big run through.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batches",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("sweep", sa.JSON, nullable=False),
        sa.Column("sweep_path", sa.Text, nullable=False),
        sa.Column("settings", sa.JSON, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("stop_reason", sa.Text),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with its reference in place; Alembic's generic path would copy the whole table.
        op.execute("ALTER TABLE runs ADD COLUMN batch_id VARCHAR(32) REFERENCES batches (id)")
    else:
        op.add_column("runs", sa.Column("batch_id", sa.String(32)))
        op.create_foreign_key("runs_batch_id_fkey", "runs", "batches", ["batch_id"], ["id"])
    op.add_column("runs", sa.Column("params", sa.JSON))
    op.add_column("runs", sa.Column("cell", sa.String(64)))
    op.create_index("ix_runs_batch", "runs", ["batch_id"])
    op.create_index("ix_candidates_run_digest", "candidates",
                    ["run_id", "seq", "status", "score", "edit_kind", "model", "duplicate_of", "prompt_tokens",
                     "completion_tokens", "cost_usd"])
    op.create_index("ix_candidates_run_score", "candidates", ["run_id", "status", "score"])
    op.create_index("ix_llm_calls_candidate", "llm_calls", ["candidate_id"])
    op.create_index("ix_evaluations_candidate", "evaluations", ["candidate_id"])
    op.execute("UPDATE evolve_meta SET value = '2' WHERE key = 'schema_version'")
