"""A sweep file: which tasks, models, run settings and seeds a batch runs, validated and expanded into runs.

The file is checked whole before anything starts, so a typo in the last grid value cannot stop a batch an hour
in: every task is loaded, every model spec parsed, every setting validated against `RunConfig` (the same rules
as `evolve run`), and each expanded run's full settings validated once more with its task's own `run:` section.
Each problem is one line naming the file, the key (a dotted path such as `grid.islands[1]`) and what was expected.

    name: islands-vs-edit-mode          # optional; default: the file's name
    tasks: [circle_packing, ./my_task]   # built-in names or folders (relative to this file)
    models:                              # each entry is one choice; a list inside is an ensemble
      - local
      - [openai:gpt-4o-mini=0.7, anthropic:claude-haiku-4-5=0.3]
    settings: {iterations: 50}           # the same for every run
    grid: {islands: [2, 4], edit_mode: [diff, rewrite]}   # every combination; `limits.wall_s: [10, 30]` sets
                                                          # one field of a setting
    seeds: 3                             # or a list: [0, 1, 2]
    budget: {max_tokens: 2000000, max_cost_usd: 10, max_wall_s: 7200}   # for the whole batch

Expansion is deterministic (tasks x models x grid, in file order, x seeds), so the same sweep makes the same runs
with the same parameters, cells and settings every time it is run.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from evolve.config import RunConfig, config_error_from
from evolve.errors import ConfigError, EvolveError
from evolve.llm import ModelConfig, default_models, parse_model_spec
from evolve.safe_text import short_repr
from evolve.task import Task, load_task

#: The most runs one sweep may expand into: every run is a stored row and a worker process, and a grid that
#: multiplies out to a million runs is a typo far more often than a plan (a bigger study is several sweeps).
MAX_RUNS = 10_000

#: Run settings a sweep gives through its own top-level keys, not through `settings:` or `grid:`.
_OWN_KEYS = {"models": "the top-level `models:` list", "seed": "the top-level `seeds:` key"}


class BatchBudget(BaseModel):
    """Limits on the whole batch: when one is reached no run starts and running runs stop cleanly."""

    model_config = ConfigDict(extra="forbid")
    max_tokens: int | None = Field(None, gt=0)  # prompt + completion tokens over every run of the batch
    max_cost_usd: float | None = Field(None, gt=0)
    max_wall_s: float | None = Field(None, gt=0)  # per invocation of `batch run` / `batch resume`


class SweepFile(BaseModel):
    """The file's shape; values are checked further (tasks, model specs, settings) in `parse_sweep`."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=200)
    tasks: list[str] = Field(min_length=1)
    models: list[Any] = Field(default_factory=list)
    settings: dict[str, Any] = Field(default_factory=dict)
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    seeds: int | list[int] = 1
    budget: BatchBudget = Field(default_factory=BatchBudget)

    @field_validator("tasks", mode="before")
    @classmethod
    def _one_task(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("seeds", mode="before")
    @classmethod
    def _no_bool(cls, value: object) -> object:
        if isinstance(value, bool):  # YAML's `true` would otherwise count as one seed
            raise ValueError("expected a count of seeds or a list of seeds, got a boolean")  # noqa: TRY004 (pydantic reports ValueError)
        return value

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, value: int | list[int]) -> int | list[int]:
        if isinstance(value, int) and value < 1:
            raise ValueError("a count of seeds must be at least 1")
        if isinstance(value, list) and (not value or len(set(value)) != len(value)):
            raise ValueError("a list of seeds must be non-empty and without repeats")
        return value


@dataclass(frozen=True)
class ModelChoice:
    """One entry of `models:`: a model or an ensemble, and the short label runs are tagged with."""

    label: str
    configs: tuple[ModelConfig, ...]


@dataclass(frozen=True)
class RunPlan:
    """One run a batch will create: its task, settings, the sweep values that made it and its cell."""

    task: Task
    config: RunConfig
    params: dict[str, Any]  # {"task": ..., "model": ..., <grid keys>..., "seed": ...}
    cell: str  # the same for every seed of one configuration


@dataclass(frozen=True)
class Sweep:
    """A validated sweep file, ready to expand."""

    name: str
    path: Path
    data: dict[str, Any]  # the file as validated, stored with the batch so `batch resume` needs no file
    budget: BatchBudget
    plans: tuple[RunPlan, ...]


def load_sweep(path: str | Path) -> Sweep:
    """Read, validate and expand a sweep file; raises ConfigError naming the file and key of the first problem."""
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(source, "", f"cannot read the sweep file ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(source, "", f"not UTF-8 text (byte {exc.start})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(source, "", f"not valid YAML: {where}{problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(source, "", "expected a mapping with at least `tasks:` at the top level, got "
                                      f"{type(data).__name__}")
    return parse_sweep(data, path)


def parse_sweep(data: dict[str, Any], path: Path) -> Sweep:
    """Validate a sweep given as data (`path` names it in errors and anchors relative task folders)."""
    source = str(path)
    try:
        spec = SweepFile.model_validate(data)
    except ValidationError as exc:
        raise config_error_from(exc, source) from None
    models = [_model_choice(item, source, f"models[{i}]") for i, item in enumerate(spec.models)]
    if not models:
        defaults = tuple(default_models(os.environ))
        models = [ModelChoice(_ensemble_label(defaults), defaults)]
    _no_repeats(spec.tasks, "tasks", source)
    _no_repeats([(m.label, m.configs) for m in models], "models", source)
    for key, values in spec.grid.items():
        _no_repeats(values, f"grid.{key}", source)
    _check_keys(spec.settings, "settings", source)
    _check_keys(spec.grid, "grid", source)
    try:
        RunConfig.model_validate(_with({}, spec.settings))
    except ValidationError as exc:
        raise config_error_from(exc, source, prefix="settings") from None
    for key, values in spec.grid.items():
        if not values:
            raise ConfigError(source, f"grid.{key}", "an empty list of values: give at least one (a fixed value "
                                                     "goes under `settings:`)")
        for i, value in enumerate(values):
            try:
                RunConfig.model_validate(_with({}, spec.settings, {key: value}))
            except ValidationError as exc:
                err = config_error_from(exc, source, prefix="grid")
                raise ConfigError(source, err.field.replace(f"grid.{key}", f"grid.{key}[{i}]", 1),
                                  err.problem) from None
    runs = math.prod([len(spec.tasks), len(models), *(len(v) for v in spec.grid.values()),
                      spec.seeds if isinstance(spec.seeds, int) else len(spec.seeds)])
    if runs > MAX_RUNS:
        raise ConfigError(source, "grid", f"the sweep expands into {runs:,} runs, more than the {MAX_RUNS:,} one "
                                          "batch takes: split it into several sweep files")
    tasks = [_task(ref, path, f"tasks[{i}]") for i, ref in enumerate(spec.tasks)]
    seeds = list(range(spec.seeds)) if isinstance(spec.seeds, int) else spec.seeds
    plans = tuple(_expand(spec, tasks, models, seeds, source))
    name = spec.name or path.stem
    return Sweep(name, path, spec.model_dump(mode="json"), spec.budget, plans)


def cell_of(params: dict[str, Any], models: tuple[ModelConfig, ...]) -> str:
    """A stable hash of one configuration: its sweep values without the seed, and its models' full settings
    (two entries with the same label but another temperature are two cells)."""
    key = {"params": {k: v for k, v in params.items() if k != "seed"},
           "models": [m.model_dump(mode="json") for m in models]}
    return hashlib.sha256(json.dumps(key, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


def _expand(spec: SweepFile, tasks: list[tuple[str, Task]], models: list[ModelChoice], seeds: list[int],
            source: str) -> list[RunPlan]:
    keys = list(spec.grid)
    plans = []
    for (ref, task), model in itertools.product(tasks, models):
        for combo in itertools.product(*(spec.grid[k] for k in keys)):
            grid = dict(zip(keys, combo))
            for seed in seeds:
                settings = _with(_task_base(task, [*spec.settings, *grid]), spec.settings, grid,
                                 {"seed": seed, "models": [m.model_dump() for m in model.configs]})
                try:
                    config = RunConfig.model_validate(settings)
                except ValidationError as exc:
                    raise config_error_from(exc, f"{source} (with task {ref}'s run: section)", prefix="run") from None
                if task.spec.kind == "prompt" and config.task_model is None:
                    config.task_model = config.models[0]
                params = {"task": ref, "model": model.label, **grid, "seed": seed}
                plans.append(RunPlan(task, config, params, cell_of(params, model.configs)))
    return plans


def _task_base(task: Task, keys: list[str]) -> dict[str, Any]:
    """The task's own `run:` settings; with its limits filled in when a dotted key changes one of them, so that
    `limits.wall_s` changes the task's wall time and keeps its other limits (not the defaults')."""
    base = dict(task.spec.run)
    if base.get("limits") is None and any(k.startswith("limits.") for k in keys):
        base["limits"] = task.spec.limits.model_dump()
    return base


def _with(base: dict[str, Any], *layers: dict[str, Any]) -> dict[str, Any]:
    """`base` with each layer's settings set on top: a plain key replaces the value (a grid value of `operators`
    is the whole mix), a dotted key (`limits.wall_s`) sets one field inside its setting."""
    out = dict(base)
    for layer in layers:
        for key, value in layer.items():
            *parents, leaf = key.split(".")
            node = out
            for part in parents:
                inner = node.get(part)
                node[part] = node = dict(inner) if isinstance(inner, dict) else {}
            node[leaf] = value
    return out


def _check_keys(section: dict[str, Any], name: str, source: str) -> None:
    for dotted in section:
        key = dotted.split(".")[0]
        if key in _OWN_KEYS:
            raise ConfigError(source, f"{name}.{dotted}", f"set with {_OWN_KEYS[key]}, not under `{name}:`")
        if key not in RunConfig.model_fields:
            known = ", ".join(k for k in RunConfig.model_fields if k not in _OWN_KEYS)
            raise ConfigError(source, f"{name}.{dotted}", f"unknown run setting; known: {known}")


def _no_repeats(values: list[Any], key: str, source: str) -> None:
    """A repeated entry would make two configurations with the same cell, which the report and `batch status`
    would then count as two seeds of one."""
    seen: list[Any] = []
    for i, value in enumerate(values):
        if value in seen:
            raise ConfigError(source, f"{key}[{i}]", f"repeats {key}[{seen.index(value)}]: give each value once")
        seen.append(value)


def _task(ref: str, sweep_path: Path, key: str) -> tuple[str, Task]:
    """A task folder relative to the sweep file, else as `evolve run` takes it (a folder or a built-in name)."""
    beside = sweep_path.parent / ref
    try:
        return ref, load_task(beside if beside.is_dir() else ref)
    except EvolveError as exc:
        raise ConfigError(str(sweep_path), key, exc.message) from None


def _model_choice(item: Any, source: str, key: str) -> ModelChoice:
    members = item if isinstance(item, list) else [item]
    if not members:
        raise ConfigError(source, key, "an empty ensemble: list at least one model spec")
    configs = tuple(_model(m, source, f"{key}[{j}]" if isinstance(item, list) else key)
                    for j, m in enumerate(members))
    if not any(c.weight > 0 for c in configs):
        raise ConfigError(source, key, "every weight is 0: at least one model of an ensemble needs a positive weight")
    return ModelChoice(_ensemble_label(configs), configs)


def _model(item: Any, source: str, key: str) -> ModelConfig:
    """A spec string ('openai:gpt-4o-mini=0.7'), or a mapping: `spec:` plus model settings, or ModelConfig's fields."""
    try:
        if isinstance(item, str):
            return parse_model_spec(item)
        if isinstance(item, dict):
            fields = dict(item)
            spec = fields.pop("spec", None)
            if spec is not None:
                if not isinstance(spec, str):
                    raise ValueError(f"spec must be a model spec string, got {short_repr(spec)}")
                base = parse_model_spec(spec).model_dump(exclude_defaults=True)
                return ModelConfig.model_validate({**base, **fields})
            return ModelConfig.model_validate(fields)
    except ValidationError as exc:
        raise config_error_from(exc, source, prefix=key) from None
    except ValueError as exc:
        raise ConfigError(source, key, str(exc)) from None
    raise ConfigError(source, key, f"expected a model spec string or a mapping of model settings, got {short_repr(item)}")


def _ensemble_label(configs: tuple[ModelConfig, ...]) -> str:
    def one(cfg: ModelConfig) -> str:
        return cfg.label + (f"={cfg.weight:g}" if len(configs) > 1 else "")

    return "+".join(one(c) for c in configs)
