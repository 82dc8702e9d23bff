"""What the dashboard needs from a run's task folder: its best known value and its MAP-Elites axes.

The store keeps the task's path, not its settings; the folder is read once per path (a task folder does not
change under a run: its digest is stored with the run). A folder that has gone away still shows the run, without
best-known value or grid.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from evolve.errors import EvolveError
from evolve.features import FeatureDim, resolve_dims
from evolve.task import load_task


@dataclass(frozen=True)
class TaskInfo:
    best_known: float | None
    dims: tuple[FeatureDim, ...]
    problem: str | None  # why the folder could not be read, shown instead of the grid


@functools.lru_cache(maxsize=256)
def task_info(task_path: str) -> TaskInfo:
    try:
        task = load_task(task_path)
    except (EvolveError, OSError) as exc:
        return TaskInfo(None, (), f"task folder {task_path} cannot be read: {exc}")
    spec = task.spec
    dims = resolve_dims(spec.features, task.seed_source, spec.objective, spec.best_known)
    return TaskInfo(spec.best_known, tuple(dims), None)
