"""The MAP-Elites grid of a run as the run itself holds it: the stored candidates replayed into an `Archive`.

The replay is the one a resumed run does (seeds on every island, children told in completion order, with ring
migration), so the cells, their elites and the migrants are exactly the engine's. The replay is kept per run and
brought up to date with only the children stored since the last request (a range read on the `(run_id, seq)`
index), so a page polling a running run reads each child once.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, case, select

from evolve.archive import Archive, Island
from evolve.candidate import Candidate
from evolve.store import candidates
from evolve.ui.task_info import task_info

# only a scored candidate can hold a cell, so only its features are read and decoded
log = logging.getLogger(__name__)
_COLUMNS = [*(candidates.c[name] for name in ("id", "seq", "island", "status", "score", "edit_kind", "generation")),
            case((candidates.c.status == "ok", candidates.c.features)).label("features")]


@dataclass
class _Replay:
    archive: Archive
    last_seq: int = -1
    lock: threading.Lock = field(default_factory=threading.Lock)


class GridCache:
    """Archive replays per run, updated incrementally; safe to share between request threads."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._replays: dict[str, _Replay] = {}
        self._lock = threading.Lock()

    def warm(self, runs: list[dict[str, Any]]) -> None:
        """Replay these runs now (a server does it on a thread at start): the first replay of a run reads all
        its candidates, seconds for 100,000 children, which a page should not wait for."""
        for run in runs:
            try:
                self.grid(run)
            except Exception:  # the page asking for this grid will meet the same error and show it
                log.warning("could not replay the grid of run %s", run["id"], exc_info=True)

    def grid(self, run: dict[str, Any]) -> dict[str, Any]:
        """Per island: a 2-D grid (first two axes; a third axis is folded, keeping its best elite) of elite
        scores and ids, with the axes' names and bin edges."""
        info = task_info(run["task_path"])
        if not info.dims:
            return {"problem": info.problem or "this task has no feature axes", "islands": []}
        replay = self._replay(run, info.dims)
        with replay.lock:
            self._catch_up(run["id"], replay)
            return _render(replay.archive, run["direction"] == "maximize")

    def _replay(self, run: dict[str, Any], dims: tuple[Any, ...]) -> _Replay:
        with self._lock:
            replay = self._replays.get(run["id"])
            if replay is None:
                archive = Archive(list(dims), run["islands"], maximize=run["direction"] == "maximize",
                                  migration_interval=run["migration_interval"])
                replay = self._replays[run["id"]] = _Replay(archive)
            return replay

    def _catch_up(self, run_id: str, replay: _Replay) -> None:
        q = (select(*_COLUMNS).where(candidates.c.run_id == run_id, candidates.c.seq > replay.last_seq)
             .order_by(candidates.c.seq))
        archive = replay.archive
        with self.engine.connect() as conn:
            for row in conn.execute(q):
                cand = Candidate(run_id=run_id, source="", id=row.id, seq=row.seq, island=row.island,
                                 status=row.status, score=row.score, features=row.features or {},
                                 edit_kind=row.edit_kind, generation=row.generation)
                if cand.island >= len(archive.islands):  # a run resumed with more islands than it started with
                    archive.islands.extend(Island() for _ in range(cand.island + 1 - len(archive.islands)))
                if cand.edit_kind == "seed":
                    for island in range(len(archive.islands)):
                        archive.add(cand, island=island)
                else:
                    archive.tell(cand)
                replay.last_seq = row.seq


def _render(archive: Archive, up: bool) -> dict[str, Any]:
    dims = archive.dims
    x_dim = dims[0]
    y_dim = dims[1] if len(dims) > 1 else None
    islands = []
    for index in range(len(archive.islands)):
        rows = y_dim.bins if y_dim else 1
        scores: list[list[float | None]] = [[None] * x_dim.bins for _ in range(rows)]
        ids: list[list[str | None]] = [[None] * x_dim.bins for _ in range(rows)]
        for cell, cand in archive.filled_cells(index).items():
            x, y = cell[0], cell[1] if y_dim else 0
            held = scores[y][x]
            if held is None or (cand.score > held if up else cand.score < held):
                scores[y][x], ids[y][x] = cand.score, cand.id
        best = archive.best(index)
        islands.append({"island": index, "scores": scores, "ids": ids, "filled": len(archive.filled_cells(index)),
                        "best": best.score if best else None})
    return {"axes": [_axis(d) for d in dims], "islands": islands, "folded": dims[2].name if len(dims) > 2 else None}


UNITS = {"code_length": "characters", "length_tokens": "tokens", "edit_distance": "0–1 from the seed",
         "has_examples": "0/1", "step_by_step": "0/1"}


def _axis(dim: Any) -> dict[str, Any]:
    """The axis as the page draws it: bin centres on a numeric scale (cells span their bins), and a title
    with the feature's unit; the end bins also hold the values beyond the range."""
    step = (dim.high - dim.low) / dim.bins
    unit = UNITS.get(dim.name)
    return {"name": dim.name, "title": f"{dim.name} ({unit})" if unit else dim.name, "bins": dim.bins,
            "low": dim.low, "high": dim.high, "step": step,
            "centres": [dim.low + (i + 0.5) * step for i in range(dim.bins)]}
