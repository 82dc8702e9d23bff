"""Trackers for real, offline: MLflow's local file store and W&B's offline mode, fed by real runs of the toy task
(scripted model, real sandbox, real SQLite), read back from what each tracker wrote."""

import asyncio
import time

import pytest
from conftest import block
from typer.testing import CliRunner

from evolve import tracking
from evolve.cli import app
from evolve.errors import EvolveError
from evolve.llm import LLMEnsemble, ScriptedProvider
from evolve.runner import new_run, resume_run
from tests.support.wandb_log import read_run


def tracked_run(toy_task, storage, kind, prepared=None, iterations=3):
    """A run (or a resumed one) whose controller feeds `kind` after each child, as `evolve run --track` does."""
    replies = [block(f"    return {n}") for n in range(2, 10)]
    ensemble = LLMEnsemble([(ScriptedProvider(replies[iterations - 3:]), 1.0)])
    if prepared is None:
        prepared = new_run(toy_task, storage, {"iterations": iterations, "islands": 1, "llm_concurrency": 1,
                                               "eval_concurrency": 1}, ensemble=ensemble)
    else:
        prepared = resume_run(prepared.run_id, storage, {"iterations": iterations}, ensemble=ensemble)
    feed = tracking.follow(kind, prepared.store, prepared.run_id)
    prepared.controller.on_update = tracking.chain(prepared.controller.on_update, feed)
    assert asyncio.run(prepared.controller.run()) == "iterations"
    feed.finish()
    return prepared


def test_mlflow_file_store_gets_settings_and_series_and_a_resume_continues_them(toy_task, storage, tmp_path,
                                                                                 monkeypatch):
    pytest.importorskip("mlflow", reason="the mlflow extra is part of the test extra")
    uri = (tmp_path / "mlruns").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps its file store behind this switch
    prepared = tracked_run(toy_task, storage, "mlflow")
    prepared = tracked_run(toy_task, storage, "mlflow", prepared, iterations=5)
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    (run,) = client.search_runs([client.get_experiment_by_name("evolve").experiment_id])
    assert run.data.tags["evolve.run_id"] == prepared.run_id and run.info.status == "FINISHED"
    assert run.data.params["task"] == "toy" and run.data.params["islands"] == "1"
    best = [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, "best_score")]
    assert best == [(0, 1.0), (1, 2.0), (2, 3.0), (3, 4.0), (4, 5.0), (5, 6.0)]  # resumed: no step twice
    tokens = [m.value for m in sorted(client.get_metric_history(run.info.run_id, "tokens"), key=lambda m: m.step)]
    assert tokens[0] == 0 and all(b > a for a, b in zip(tokens, tokens[1:]))
    assert len(client.get_metric_history(run.info.run_id, "cost_usd")) == 6


def test_wandb_offline_gets_settings_and_series(toy_task, storage, tmp_path, monkeypatch):
    pytest.importorskip("wandb", reason="the wandb extra is part of the test extra")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SILENT", "true")
    prepared = tracked_run(toy_task, storage, "wandb")
    (run_dir,) = (tmp_path / "wandb").glob(f"offline-run-*-{prepared.run_id}")
    deadline = time.monotonic() + 60  # wandb's service process may still be writing the log when finish() returns
    logged = read_run(run_dir)
    while sum("best_score" in row for row in logged["history"]) < 4:
        assert time.monotonic() < deadline, logged
        time.sleep(0.5)
        logged = read_run(run_dir)
    assert logged["config"]["task"] == "toy" and logged["config"]["islands"] == "1"
    assert logged["config"]["evolve"]["evolve.run_id"] == prepared.run_id
    rows = [row for row in logged["history"] if "best_score" in row]
    assert [(row["_step"], row["best_score"]) for row in rows] == [(0, 1.0), (1, 2.0), (2, 3.0), (3, 4.0)]
    assert [row["score"] for row in rows] == [1.0, 2.0, 3.0, 4.0]
    assert rows[-1]["tokens"] > rows[1]["tokens"] > 0 and rows[-1]["cost_usd"] == 0.0


def test_an_unknown_tracker_is_refused_before_a_run_starts(toy_task, storage):
    result = CliRunner().invoke(app, ["run", str(toy_task), "--storage", storage, "--track", "neptune"])
    assert result.exit_code == 2 and "neptune" in result.output
    with pytest.raises(EvolveError, match="unknown tracker"):
        tracking.open_tracker("neptune", {"id": "r", "task_name": "t", "batch_id": None, "cell": None,
                                          "params": None, "config": {}, "objective": "s", "direction": "maximize"})
