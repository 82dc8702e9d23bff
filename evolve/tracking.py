"""Experiment trackers: a run's settings and its score, token and cost series, logged to MLflow or Weights & Biases.

Off by default (`evolve run --track mlflow|wandb`); each tracker is an optional extra (`evolve-lab[mlflow]`,
`evolve-lab[wandb]`) and reads its usual configuration from the environment (MLFLOW_TRACKING_URI,
MLFLOW_EXPERIMENT_NAME; WANDB_PROJECT, WANDB_MODE=offline, WANDB_DIR, ...). The series are read from the store
after each child (`RunFeed`), not from the controller's memory, so a batch worker can feed a tracker the same
way and what is logged is exactly what was stored. One tracker step is one stored child (the seed is step 0).
"""

from __future__ import annotations

import json
import os
from enum import Enum
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from evolve.errors import EvolveError
from evolve.safe_text import shown

if TYPE_CHECKING:  # the store (SQLAlchemy) is loaded when a run is followed, not by `evolve --help`
    from evolve.store import Store



class TrackerKind(str, Enum):
    mlflow = "mlflow"
    wandb = "wandb"


TRACKERS = tuple(kind.value for kind in TrackerKind)


class Tracker(Protocol):
    """Where one run's series go (its settings are logged when the tracker opens)."""

    def log_step(self, step: int, values: dict[str, float]) -> None: ...

    def finish(self, status: str) -> None: ...


class MLflowTracker:
    """One MLflow run per Evolve run, tagged with its id, batch and cell; resumed runs continue the same one."""

    def __init__(self, name: str, tags: dict[str, str], params: dict[str, str]) -> None:
        try:
            import mlflow
        except ImportError:
            raise EvolveError("--track mlflow needs MLflow: pip install 'evolve-lab[mlflow]'") from None
        self.mlflow = mlflow
        experiment = mlflow.set_experiment(_env("MLFLOW_EXPERIMENT_NAME") or "evolve")
        found = mlflow.search_runs([experiment.experiment_id], f"tags.`evolve.run_id` = '{tags['evolve.run_id']}'",
                                   output_format="list", max_results=1)
        self.run = mlflow.start_run(run_id=found[0].info.run_id if found else None,
                                    run_name=None if found else name, tags=tags)
        known = self.run.data.params  # a resumed run keeps the values it started with
        mlflow.log_params({k: v for k, v in params.items() if k not in known})

    def log_step(self, step: int, values: dict[str, float]) -> None:
        self.mlflow.log_metrics(values, step=step)

    def finish(self, status: str) -> None:
        self.mlflow.end_run("FINISHED" if status == "finished" else "KILLED" if status == "stopped" else "FAILED")


class WandbTracker:
    """One W&B run per Evolve run (its id is the Evolve run's, so a resumed run continues it), grouped by batch."""

    def __init__(self, name: str, run_id: str, group: str | None, tags: dict[str, str],
                 params: dict[str, str]) -> None:
        try:
            import wandb
        except ImportError:
            raise EvolveError("--track wandb needs wandb: pip install 'evolve-lab[wandb]'") from None
        self.run = wandb.init(project=_env("WANDB_PROJECT") or "evolve", id=run_id, name=name, group=group,
                              resume="allow", config={**params, "evolve": tags},
                              settings=wandb.Settings(console="off"))

    def log_step(self, step: int, values: dict[str, float]) -> None:
        self.run.log(values, step=step)

    def finish(self, status: str) -> None:
        self.run.finish(exit_code=0 if status in ("finished", "stopped") else 1)


def _env(name: str) -> str | None:
    return os.environ.get(name) or None


def open_tracker(kind: str, run: dict[str, Any]) -> Tracker:
    """A tracker of `kind` for the stored run `run` (a row of the runs table)."""
    name = f"{shown(run['task_name'], 80, one_line=True)} {run['id']}"
    tags = {"evolve.run_id": run["id"], "evolve.task": shown(run["task_name"], 200, one_line=True),
            "evolve.batch_id": run["batch_id"] or "", "evolve.cell": run["cell"] or ""}
    if kind == "mlflow":
        return MLflowTracker(name, tags, run_params(run))
    if kind == "wandb":
        return WandbTracker(name, run["id"], run["batch_id"], tags, run_params(run))
    raise EvolveError(f"--track: unknown tracker '{shown(kind, 50, one_line=True)}' (expected one of: "
                      f"{', '.join(TRACKERS)})")


def run_params(run: dict[str, Any]) -> dict[str, str]:
    """The settings to log: a batch run's sweep values, or a lone run's settings, flattened to strings."""
    source = run["params"] or run["config"] or {}
    flat = {k: v if isinstance(v, str) else json.dumps(v, sort_keys=True, default=str) for k, v in source.items()}
    flat.update(task=run["task_name"], objective=run["objective"], direction=run["direction"])
    return {k: shown(v, 500, one_line=True) for k, v in flat.items()}


class RunFeed:
    """Feeds a tracker from the store: on each call, the children stored since the last call, as steps of
    best score so far, the child's score, cumulative tokens and cumulative cost (USD)."""

    def __init__(self, store: Store, run_id: str, tracker: Tracker) -> None:
        self.store, self.run_id, self.tracker = store, run_id, tracker
        row = store.get_run(run_id)
        assert row is not None, run_id
        self.maximize = row["direction"] == "maximize"
        self.seq = -1
        self.best: float | None = None
        self.tokens, self.cost, self.step = 0, 0.0, 0
        # a resumed run: what is stored was logged by the session that stored it; count it, log from here on
        self._read(log=False)

    def update(self, _stats: object = None) -> None:
        """Log what was stored since the last call (called after every child: `Controller.on_update`)."""
        self._read(log=True)

    def _read(self, log: bool) -> None:
        from sqlalchemy import select

        from evolve.store import candidates

        q = (select(candidates.c.seq, candidates.c.edit_kind, candidates.c.status, candidates.c.score,
                    candidates.c.metrics, candidates.c.prompt_tokens, candidates.c.completion_tokens,
                    candidates.c.cost_usd)
             .where(candidates.c.run_id == self.run_id, candidates.c.seq > self.seq).order_by(candidates.c.seq))
        with self.store.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
        for row in rows:
            self.seq = row["seq"]
            metrics = row["metrics"] or {}
            self.tokens += row["prompt_tokens"] + row["completion_tokens"] + int(metrics.get("task_tokens", 0))
            self.cost += row["cost_usd"] + float(metrics.get("task_cost_usd", 0.0))
            values = {"tokens": float(self.tokens), "cost_usd": self.cost}
            if row["status"] == "ok" and row["score"] is not None:
                score = float(row["score"])
                values["score"] = score
                if self.best is None or (score > self.best if self.maximize else score < self.best):
                    self.best = score
            if self.best is not None:
                values["best_score"] = self.best
            if row["edit_kind"] != "seed":
                self.step += 1
            if log:
                self.tracker.log_step(self.step, values)

    def finish(self) -> None:
        self.update()
        row = self.store.get_run(self.run_id)
        self.tracker.finish(row["status"] if row else "failed")


def follow(kind: str | None, store: Store, run_id: str) -> RunFeed | None:
    """Start tracking the stored run `run_id` with `kind` (None: no tracking); what the CLI and a batch call."""
    if kind is None:
        return None
    row = store.get_run(run_id)
    if row is None:
        raise EvolveError(f"no run '{run_id}' to track")
    return RunFeed(store, run_id, open_tracker(kind, row))


def chain(first: Callable[[Any], None], feed: RunFeed | None) -> Callable[[Any], None]:
    """`first`, then the feed's update: how a tracker joins a controller's on_update beside the progress display."""
    if feed is None:
        return first

    def both(stats: Any) -> None:
        first(stats)
        feed.update(stats)

    return both
