"""Wire a run together: task + settings + store + sandbox + models + variation + evaluator → a ready Controller.

The task's kind picks the variation and the evaluator: programs are mutated by edits and scored in the sandbox;
prompts are varied by prompt-optimization operators and scored by a task model (no sandbox: nothing runs).
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluators.answers import make_judge
from evaluators.program import ProgramEvaluator
from evaluators.prompt import PromptEvaluator
from evaluators.repo import RepoEvaluator
from evolve import __version__
from evolve.config import RunConfig, parse_run_config
from evolve.controller import Controller, RunStats
from evolve.errors import EvolveError
from evolve.evaluation import Evaluator, ProgramEvaluation
from evolve.features import resolve_dims
from evolve.llm import LLMEnsemble, build_ensemble, build_provider, default_models, parse_model_spec, preflight
from evolve.llm.tokens import load_in_background
from evolve.llm.types import LLMProvider
from evolve.peers.llm_feedback import LLMFeedbackEvaluation
from evolve.program_variation import ProgramVariation
from evolve.reverify import ranked
from evolve.prompt_variation import PromptVariation
from evolve.repo_task import RepoTask, repo_task_from_record
from evolve.repo_variation import RepoVariation
from evolve.storage_default import DEFAULT_STORAGE, default_storage  # noqa: F401 (part of this module's API)
from evolve.store import Store
from evolve.task import Task, load_task
from evolve.variation import Variation
from sandbox import Sandbox, get_sandbox


@dataclass
class PreparedRun:
    controller: Controller
    store: Store
    run_id: str
    task: Task
    config: RunConfig


def settings_from_cli(models: list[str] | None, task_model: str | None = None, **flags: Any) -> dict[str, Any]:
    """Only the flags the user gave override the task's and the stored settings."""
    overrides = {k: v for k, v in flags.items() if v is not None}
    if models:
        overrides["models"] = [_model_setting("--model", m) for m in models]
    if task_model:
        overrides["task_model"] = _model_setting("--task-model", task_model)
    return overrides


def _model_setting(flag: str, spec: str) -> dict[str, Any]:
    try:
        return parse_model_spec(spec).model_dump()
    except ValueError as exc:
        raise EvolveError(f"{flag}: {exc}") from None


def new_run(task_ref: str | Path | RepoTask, storage: str, overrides: dict[str, Any], on_update=None,
            ensemble: LLMEnsemble | None = None, task_model: LLMProvider | None = None) -> PreparedRun:
    """Create a run in the store; `ensemble` and `task_model` replace the configured models (tests, embedding).
    `task_ref` may be a loaded repository task (the `evolve run --repo` form)."""
    task = task_ref if isinstance(task_ref, RepoTask) else load_task(task_ref)
    config = parse_run_config({**task.spec.run, **overrides}, source=f"{task.spec_file} (run:) and the command line")
    if not config.models and ensemble is None:
        config.models = default_models(os.environ)
    if task.spec.kind == "prompt" and config.task_model is None and task_model is None:
        config.task_model = (config.models or default_models(os.environ))[0]
    _check_models(config, overrides, task, ensemble, task_model)
    _load_token_encoding(config, ensemble)
    store = Store(storage)
    sandbox = get_sandbox(config.sandbox)
    run_id = store.create_run(**run_record(task, config, sandbox.describe()))
    ctl = _controller(store, run_id, task, config, sandbox, on_update, ensemble, task_model)
    return PreparedRun(ctl, store, run_id, task, config)


def run_record(task: Task, config: RunConfig, sandbox_info: dict[str, Any]) -> dict[str, Any]:
    """The fields of a stored run: its task, settings and everything needed to redo it (`Store.create_run`)."""
    return {"task_name": task.name, "task_path": str(task.ref), "kind": task.spec.kind,
            "objective": task.spec.objective, "direction": task.spec.direction,
            "config": config.model_dump(mode="json"), "environment": _environment(task, sandbox_info)}


def resume_run(run_ref: str, storage: str, overrides: dict[str, Any], on_update=None,
               ensemble: LLMEnsemble | None = None, task_model: LLMProvider | None = None) -> PreparedRun:
    """Load a stored run's task and settings (plus `overrides`, e.g. more iterations) to continue it."""
    store = Store(storage)
    row = store.get_run(run_ref)
    if row is None:
        raise EvolveError(f"no run '{run_ref}' in {store.shown_url} (see `evolve status`)")
    repo = row["environment"].get("repo_task")
    task = repo_task_from_record(repo) if repo else load_task(row["task_path"])
    config = parse_run_config({**row["config"], **overrides}, source=f"run {row['id']} in {store.shown_url}")
    _check_models(config, overrides, task, ensemble, task_model)
    _load_token_encoding(config, ensemble)
    store.update_run_config(row["id"], config.model_dump(mode="json"))
    store.set_run_status(row["id"], "running")
    sandbox = get_sandbox(config.sandbox)
    ctl = _controller(store, row["id"], task, config, sandbox, on_update, ensemble, task_model)
    return PreparedRun(ctl, store, row["id"], task, config)


def _controller(store: Store, run_id: str, task: Task, config: RunConfig, sandbox: Sandbox, on_update,
                ensemble: LLMEnsemble | None, task_model: LLMProvider | None) -> Controller:
    spec = task.spec
    variation: Variation
    evaluator: Evaluator
    if spec.kind == "prompt":
        variation = PromptVariation(task, config.operators, config.paraphrases)
        evaluator = _prompt_evaluator(task, config, store, task_model)
    elif isinstance(task, RepoTask):
        variation = RepoVariation(task, config.edit_mode)
        evaluator = ProgramEvaluation(RepoEvaluator.for_task(task, sandbox, config.limits))  # type: ignore[arg-type]
    else:
        variation = ProgramVariation(task, config.edit_mode)
        evaluator = ProgramEvaluation(
            ProgramEvaluator.for_task(task, sandbox, config.limits), reverify=spec.reverify, better=task.better,
            ranking=lambda: ranked(store.iter_candidates(run_id, status="ok"), task.better))
    dims = resolve_dims(spec.features, task.seed_source, spec.objective, spec.best_known)
    ensemble = ensemble or build_ensemble(config.models)
    if task.llm_feedback_weight is not None and spec.kind != "prompt":  # OpenEvolve's use_llm_feedback
        evaluator = LLMFeedbackEvaluation(evaluator, ensemble, task.llm_feedback_weight, spec.objective,
                                          spec.language, config.seed)
    return Controller(store=store, run_id=run_id, task=task, config=config,
                      ensemble=ensemble, variation=variation, evaluator=evaluator,
                      dims=dims, on_update=on_update or (lambda stats: None))


def _load_token_encoding(config: RunConfig, ensemble: LLMEnsemble | None) -> None:
    """Models other than the embedded one count tokens with tiktoken's encoding, which takes 0.2-0.5 s to load:
    loaded on a thread from here, it is ready by the first model call instead of holding it up."""
    if ensemble is not None or any(m.provider != "local" for m in [*config.models, config.task_model] if m):
        load_in_background()


def _check_models(config: RunConfig, overrides: dict[str, Any], task: Task, ensemble: LLMEnsemble | None,
                  task_model: LLMProvider | None) -> None:
    """Every configured model usable (key set, server up, model known), before the run is created or resumed."""
    origin = "" if "models" in overrides or "models" not in task.spec.run else f"{task.spec_file.name}"
    if ensemble is None:
        preflight.check(config.models, origin=origin)
    if config.task_model is not None and task_model is None:
        preflight.check([config.task_model], origin="the task model")


def _prompt_evaluator(task: Task, config: RunConfig, store: Store,
                      task_model: LLMProvider | None) -> PromptEvaluator:
    """The task model (configured, or given), the task's splits and answer settings, and the store's cache."""
    prompt = task.spec.prompt
    assert prompt is not None
    model_key = None
    if task_model is None:
        assert config.task_model is not None
        task_model = build_provider(config.task_model)
        cfg = config.task_model
        model_key = f"{cfg.label}@{cfg.base_url or cfg.path or ''}"  # the same name on two servers is two models
    answer = prompt.answer
    judge = make_judge(answer.extract, labels=answer.labels, metric_path=task.metric_path)
    return PromptEvaluator(
        model=task_model, model_key=model_key, dev=task.dev, test=task.test, judge=judge,
        placeholder=prompt.placeholder, objective=task.spec.objective, store=store, minibatch=prompt.minibatch,
        concurrency=config.task_concurrency, max_tokens=answer.max_tokens, temperature=answer.temperature,
        seed=config.seed,
    )


def _environment(task: Task, sandbox_info: dict[str, Any]) -> dict[str, Any]:
    """What a reader needs to reproduce the run: versions, host, sandbox features, the task's files."""
    digest = hashlib.sha256()
    for path in task.files:
        digest.update(path.read_bytes())
    repo = isinstance(task, RepoTask)  # a checkout: its tracked files only (an untracked venv can be huge)
    return {
        "evolve": __version__, "python": sys.version.split()[0], "platform": platform.platform(),
        "sandbox": sandbox_info, "task_sha256": digest.hexdigest(),
        "task_folder_sha256": task.folder_digest() if repo else _folder_digest(task.root), **_source_revision(),
        **({"repo_task": task.record()} if repo else {}),
    }


def _folder_digest(root: Path) -> str:
    """Every file under the task folder (data, helpers, README: not only those the task names), by relative path
    and content; caches (__pycache__, hidden folders) are left out as they differ between identical copies."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root)
        if any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
            continue
        digest.update(rel.as_posix().encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


@functools.cache
def _source_revision() -> dict[str, Any]:
    """The git commit of Evolve's own code when it runs from a checkout, and whether its tracked files had
    uncommitted changes; nothing when installed from a wheel or when git is missing."""
    root = Path(__file__).resolve().parents[1]
    if not (root / ".git").exists():
        return {}
    try:
        def git(*args: str) -> str:
            return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10,
                                  check=True).stdout.strip()

        return {"git_commit": git("rev-parse", "HEAD"),
                "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}
    except (OSError, subprocess.SubprocessError):
        return {}


__all__ = ["PreparedRun", "RunStats", "default_storage", "new_run", "resume_run", "run_record",
           "settings_from_cli"]
