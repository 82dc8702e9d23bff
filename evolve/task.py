"""Load a task folder: Evolve's `task.yaml`, or an OpenEvolve folder (`config.yaml`, `evaluator.py`) unmodified."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evolve.config import FeatureSpec, LimitsSpec, config_error_from
from evolve.errors import ConfigError
from evolve.resources import builtin_task_dirs

# OpenEvolve's feature names mapped to ours; any other name is an evaluator metric.
_OPENEVOLVE_FEATURES = {"complexity": "code_length", "diversity": "edit_distance"}


class TaskSpec(BaseModel):
    """The fields of task.yaml."""

    model_config = ConfigDict(extra="forbid")
    name: str
    kind: Literal["program", "prompt", "kernel"] = "program"
    description: str = ""
    seed: str
    evaluator: str = "evaluate.py"
    # call: evaluate(candidate) talks to the candidate in its own sandbox (evaluators/candidate_channel.py), so
    # a candidate cannot forge its score. path: OpenEvolve's evaluate(program_path), which imports the candidate
    # into the evaluator's process (compatible, but a candidate could tamper with its own evaluation).
    interface: Literal["call", "path"] = "call"
    candidate_files: list[str] = Field(default_factory=list)  # task files copied beside the candidate (drivers)
    language: str = "python"
    objective: str = "combined_score"
    direction: Literal["maximize", "minimize"] = "maximize"
    best_known: float | None = None
    best_known_by: str = ""  # who holds the best known value (shown by `evolve tasks`)
    seed_score: float | None = None  # the seed's score, documented (tests check it)
    system_message: str | None = None
    limits: LimitsSpec = Field(default_factory=LimitsSpec)
    cascade_thresholds: list[float] = Field(default_factory=list)
    features: list[FeatureSpec] = Field(
        default_factory=lambda: [FeatureSpec(name="code_length"), FeatureSpec(name="edit_distance")],
        min_length=1,
        max_length=3,
    )
    run: dict[str, Any] = Field(default_factory=dict)  # defaults for RunConfig, validated when a run starts


class Task:
    """A validated task: its folder, spec, seed source and evaluator path."""

    def __init__(self, root: Path, spec: TaskSpec, spec_file: Path, notes: list[str] | None = None) -> None:
        self.root = root
        self.spec = spec
        self.spec_file = spec_file
        self.notes = notes or []  # what the loader adapted or ignored, shown to the user
        self.seed_path = _existing_file(root, spec.seed, spec_file, "seed")
        self.evaluator_path = _existing_file(root, spec.evaluator, spec_file, "evaluator")
        self.candidate_files = [_existing_file(root, name, spec_file, f"candidate_files[{i}]")
                                for i, name in enumerate(spec.candidate_files)]
        for i, path in enumerate(self.candidate_files):
            if path.suffix != ".py" or not path.stem.isidentifier():
                raise ConfigError(str(spec_file), f"candidate_files[{i}]",
                                  f"expected a Python module file name like driver.py, got {path.name!r}")
        self.seed_source = self.seed_path.read_text(encoding="utf-8")
        if not self.seed_source.strip():
            raise ConfigError(str(self.seed_path), "", "the seed file is empty")

    @property
    def name(self) -> str:
        return self.spec.name

    def better(self, a: float, b: float) -> bool:
        """True when score `a` is strictly better than `b` in this task's direction."""
        return a > b if self.spec.direction == "maximize" else a < b


def resolve_task_path(ref: str) -> Path:
    """A task reference is a folder path or the name of a built-in task."""
    path = Path(ref).expanduser()
    if path.is_dir():
        return path.resolve()
    builtin = builtin_task_dirs()
    if ref in builtin:
        return builtin[ref]
    known = ", ".join(builtin) or "none"
    raise ConfigError(ref, "", f"no such task folder, and not a built-in task (built-in: {known})")


def load_task(ref: str | Path) -> Task:
    """Load and validate a task folder; errors name the file, the field and what was expected."""
    root = resolve_task_path(str(ref))
    native, openevolve = root / "task.yaml", root / "config.yaml"
    if native.is_file():
        return _load_native(root, native)
    if openevolve.is_file():
        return _load_openevolve(root, openevolve)
    raise ConfigError(str(root), "", "not a task folder: expected task.yaml (or OpenEvolve's config.yaml)")


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), "", f"not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(str(path), "", f"expected a mapping of fields at the top level, got {type(data).__name__}")
    return data


def _load_native(root: Path, path: Path) -> Task:
    data = _read_yaml(path)
    try:
        spec = TaskSpec.model_validate(data)
    except ValidationError as exc:
        raise config_error_from(exc, str(path)) from None
    return Task(root, spec, path)


def _load_openevolve(root: Path, path: Path) -> Task:
    """Map the parts of OpenEvolve's config that shape a task or run; note what is ignored."""
    cfg = _read_yaml(path)
    notes: list[str] = []
    db = _section(cfg, "database", path)
    ev = _section(cfg, "evaluator", path)
    prompt = _section(cfg, "prompt", path)
    llm = _section(cfg, "llm", path)
    run: dict[str, Any] = {}
    for src, dst, section in (
        ("max_iterations", "iterations", cfg),
        ("random_seed", "seed", cfg),
        ("num_islands", "islands", db),
        ("migration_interval", "migration_interval", db),
        ("exploitation_ratio", "exploitation", db),
        ("parallel_evaluations", "eval_concurrency", ev),
    ):
        if section.get(src) is not None:
            run[dst] = section[src]
    if "diff_based_evolution" in cfg:
        run["edit_mode"] = "diff" if cfg["diff_based_evolution"] else "rewrite"
    if llm:
        model = llm.get("primary_model") or next((m.get("name") for m in llm.get("models") or []), None)
        notes.append(
            f"{path.name}: the llm section (model {model!r}) is not used; choose models with --model"
            + (f" (e.g. --model 'openai:{model}@{llm['api_base']}')" if model and llm.get("api_base") else "")
        )
    bins = db.get("feature_bins", 10)
    features = [
        {"name": _OPENEVOLVE_FEATURES.get(name, name), "bins": bins.get(name, 10) if isinstance(bins, dict) else bins}
        for name in db.get("feature_dimensions") or ["complexity", "diversity"]
    ]
    limits: dict[str, Any] = {}
    if ev.get("timeout") is not None:
        limits["wall_s"] = ev["timeout"]
    data = {
        "name": root.name,
        "seed": "initial_program.py",
        "evaluator": "evaluator.py",
        "interface": "path",  # OpenEvolve evaluators import the program themselves
        "objective": "combined_score",
        "system_message": prompt.get("system_message"),
        "limits": limits,
        "cascade_thresholds": ev.get("cascade_thresholds") or [] if ev.get("cascade_evaluation", True) else [],
        "features": features,
        "run": run,
    }
    try:
        spec = TaskSpec.model_validate(data)
    except ValidationError as exc:
        raise config_error_from(exc, str(path)) from None
    return Task(root, spec, path, notes)


def _section(cfg: dict[str, Any], key: str, path: Path) -> dict[str, Any]:
    value = cfg.get(key) or {}
    if not isinstance(value, dict):
        raise ConfigError(str(path), key, f"expected a mapping, got {type(value).__name__}")
    return value


def _existing_file(root: Path, rel: str, spec_file: Path, field: str) -> Path:
    path = (root / rel).resolve()
    if not path.is_relative_to(root.resolve()):
        raise ConfigError(str(spec_file), field, f"{rel!r} points outside the task folder")
    if not path.is_file():
        raise ConfigError(str(spec_file), field, f"file {rel!r} not found in {root}")
    return path
