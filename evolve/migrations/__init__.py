"""The store's schema history as Alembic revisions: revision NNNN is schema version N (see evolve/store_schema.py).

They live inside the package so that an installed Evolve can upgrade a store made by an older one.
"""
