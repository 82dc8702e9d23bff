"""Wire a run together: task + settings + store + sandbox + models + evaluator → a ready Controller."""

from __future__ import annotations

import hashlib
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluators.program import ProgramEvaluator
from evolve import __version__
from evolve.config import RunConfig, parse_run_config
from evolve.controller import Controller, RunStats
from evolve.errors import EvolveError
from evolve.features import resolve_dims
from evolve.llm import LLMEnsemble, build_ensemble, default_models, parse_model_spec
from evolve.store import Store
from evolve.task import Task, load_task
from sandbox import Limits, Sandbox, get_sandbox

DEFAULT_STORAGE = "sqlite:///evolve.db"


def default_storage() -> str:
    return os.environ.get("EVOLVE_STORAGE", DEFAULT_STORAGE)


@dataclass
class PreparedRun:
    controller: Controller
    store: Store
    run_id: str
    task: Task
    config: RunConfig


def settings_from_cli(models: list[str] | None, **flags: Any) -> dict[str, Any]:
    """Only the flags the user gave override the task's and the stored settings."""
    overrides = {k: v for k, v in flags.items() if v is not None}
    if models:
        try:
            overrides["models"] = [parse_model_spec(m).model_dump() for m in models]
        except ValueError as exc:
            raise EvolveError(f"--model: {exc}") from None
    return overrides


def new_run(task_ref: str | Path, storage: str, overrides: dict[str, Any], on_update=None,
            ensemble: LLMEnsemble | None = None) -> PreparedRun:
    """Create a run in the store; `ensemble` replaces the configured models (tests, embedding in a program)."""
    task = load_task(task_ref)
    config = parse_run_config({**task.spec.run, **overrides}, source=f"{task.spec_file} (run:) and the command line")
    if not config.models and ensemble is None:
        config.models = default_models(os.environ)
    store = Store(storage)
    sandbox = get_sandbox(config.sandbox)
    run_id = store.create_run(
        task_name=task.name, task_path=str(task.root), kind=task.spec.kind, objective=task.spec.objective,
        direction=task.spec.direction, config=config.model_dump(mode="json"),
        environment=_environment(task, sandbox.describe()),
    )
    ctl = _controller(store, run_id, task, config, sandbox, on_update, ensemble)
    return PreparedRun(ctl, store, run_id, task, config)


def resume_run(run_ref: str, storage: str, overrides: dict[str, Any], on_update=None,
               ensemble: LLMEnsemble | None = None) -> PreparedRun:
    """Load a stored run's task and settings (plus `overrides`, e.g. more iterations) to continue it."""
    store = Store(storage)
    row = store.get_run(run_ref)
    if row is None:
        raise EvolveError(f"no run '{run_ref}' in {store.url} (see `evolve status`)")
    task = load_task(row["task_path"])
    config = parse_run_config({**row["config"], **overrides}, source=f"run {row['id']} in {store.url}")
    store.update_run_config(row["id"], config.model_dump(mode="json"))
    store.set_run_status(row["id"], "running")
    sandbox = get_sandbox(config.sandbox)
    ctl = _controller(store, row["id"], task, config, sandbox, on_update, ensemble)
    return PreparedRun(ctl, store, row["id"], task, config)


def _controller(store: Store, run_id: str, task: Task, config: RunConfig, sandbox: Sandbox, on_update,
                ensemble: LLMEnsemble | None) -> Controller:
    spec = task.spec
    lim = config.limits or spec.limits
    limits = Limits(wall_s=lim.wall_s, cpu_s=lim.cpu_s or lim.wall_s, memory_mb=lim.memory_mb,
                    max_processes=lim.max_processes, file_size_mb=lim.file_size_mb, open_files=lim.open_files)
    evaluator = ProgramEvaluator(
        evaluator_path=task.evaluator_path, program_name=task.seed_path.name, objective=spec.objective,
        thresholds=spec.cascade_thresholds, sandbox=sandbox, limits=limits, task_root=task.root,
        interface=spec.interface, candidate_files=task.candidate_files,
    )
    dims = resolve_dims(spec.features, task.seed_source, spec.objective, spec.best_known)
    return Controller(store=store, run_id=run_id, task=task, config=config, ensemble=ensemble or build_ensemble(config.models),
                     evaluator=evaluator, dims=dims, on_update=on_update or (lambda stats: None))


def _environment(task: Task, sandbox_info: dict[str, Any]) -> dict[str, Any]:
    """What a reader needs to reproduce the run: versions, host, sandbox features, the task's files."""
    digest = hashlib.sha256()
    for path in (task.spec_file, task.seed_path, task.evaluator_path):
        digest.update(path.read_bytes())
    return {
        "evolve": __version__, "python": sys.version.split()[0], "platform": platform.platform(),
        "sandbox": sandbox_info, "task_sha256": digest.hexdigest(),
    }


__all__ = ["PreparedRun", "RunStats", "default_storage", "new_run", "resume_run", "settings_from_cli"]
