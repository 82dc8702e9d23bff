"""The lineage tree of a run, cut to what a person can read: the best lineages and the recent children.

A big run has 100,000 nodes; drawn all at once they are a smear. The tree shown holds the `best` top-scoring
candidates with every ancestor back to the seed, and the `recent` newest children with their parents, so the
page answers "where did the best come from" and "what is the run doing now". Ancestors are fetched a generation
at a time by primary key, never by reading the run.

Layout is a tidy tree: x is the generation, leaves take consecutive rows, a parent sits at the middle of its
children; the page draws it with zoom and pan.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, and_, select

from evolve.store import candidates
from evolve.ui.queries import seeds_of

_NODE = [candidates.c[name] for name in
         ("id", "parent_id", "seq", "generation", "island", "status", "score", "edit_kind", "model", "duplicate_of")]
MAX_NODES = 1500  # ancestors beyond this are left out (the page says how many nodes it shows)


def lineage(engine: Engine, run_id: str, up: bool, *, best: int = 20, recent: int = 120) -> dict[str, Any]:
    order = candidates.c.score.desc() if up else candidates.c.score.asc()
    scored = and_(candidates.c.run_id == run_id, candidates.c.status == "ok", candidates.c.score.is_not(None))
    with engine.connect() as conn:
        # (run_id, status, score): the top of ix_candidates_run_score
        top = conn.execute(select(*_NODE).where(scored).order_by(order).limit(best)).mappings().all()
        new = conn.execute(select(*_NODE).where(candidates.c.run_id == run_id)
                           .order_by(candidates.c.seq.desc()).limit(recent)).mappings().all()
        seeds = conn.execute(select(*_NODE).where(seeds_of(run_id)).limit(50)).mappings().all()
        nodes = {r["id"]: dict(r) for r in [*seeds, *top, *new]}
        for r in top:
            nodes[r["id"]]["top"] = True
        total = conn.execute(select(candidates.c.seq).where(candidates.c.run_id == run_id)
                             .order_by(candidates.c.seq.desc()).limit(1)).scalar()
        _add_ancestors(conn, nodes, {r["id"] for r in top}, depth=None)
        _add_ancestors(conn, nodes, {r["id"] for r in new}, depth=1)
    return {"nodes": _layout(nodes), "stored": 0 if total is None else total + 1}


def _add_ancestors(conn: Any, nodes: dict[str, dict[str, Any]], start: set[str], depth: int | None) -> None:
    """Walk parent links a generation at a time (one query per generation), up to `depth` generations."""
    frontier = {nodes[i]["parent_id"] for i in start if nodes[i]["parent_id"]} - set(nodes)
    level = 0
    while frontier and len(nodes) < MAX_NODES and (depth is None or level < depth):
        ids = list(frontier)[: MAX_NODES - len(nodes)]
        rows = conn.execute(select(*_NODE).where(candidates.c.id.in_(ids))).mappings().all()
        for r in rows:
            nodes[r["id"]] = dict(r)
        frontier = {r["parent_id"] for r in rows if r["parent_id"]} - set(nodes)
        level += 1


def _layout(nodes: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    children: dict[str | None, list[str]] = {}
    for node in sorted(nodes.values(), key=lambda n: n["seq"]):
        parent = node["parent_id"] if node["parent_id"] in nodes else None
        node["shown_parent"] = parent
        children.setdefault(parent, []).append(node["id"])
    row = 0.0
    # iterative post-order walk: a deep lineage (thousands of generations) must not hit Python's recursion limit
    stack: list[tuple[str, bool]] = [(root, False) for root in reversed(children.get(None, []))]
    while stack:
        node_id, done = stack.pop()
        kids = children.get(node_id, [])
        if done or not kids:
            if kids:
                nodes[node_id]["y"] = sum(nodes[k]["y"] for k in kids) / len(kids)
            else:
                nodes[node_id]["y"] = row
                row += 1
            continue
        stack.append((node_id, True))
        stack.extend((k, False) for k in reversed(kids))
    return [{**n, "x": n["generation"], "top": n.get("top", False)} for n in nodes.values()]
