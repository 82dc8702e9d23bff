"""`evolve ui`: a read-only web dashboard over a study's store (runs, candidates, lineage, batches).

Needs the `ui` extra (Starlette, uvicorn, Plotly, whose JavaScript is served from its own package folder).
"""
