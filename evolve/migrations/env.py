"""Alembic's entry point for the store: migrations run on the connection (and in the transaction) that
evolve/store_schema.py opened and locked, never on a connection of their own."""

from alembic import context

from evolve.store import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
