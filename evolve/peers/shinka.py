"""A ShinkaEvolve task folder, unmodified: `evaluate.py` and `initial.<ext>` (any language).

The evaluator runs as ShinkaEvolve runs it (`evaluate.py --program_path P --results_dir D`, inside the sandbox;
see evaluators/shinka_eval.py) and reports through metrics.json and correct.json. What ShinkaEvolve keeps in
Python launch code is read without running it: the `task_sys_msg = "..."` string of run_evo.py becomes the
system message; a shinka.yaml (else shinka_small.yaml) beside it gives the generations, islands, migration
interval and language.
Everything else of shinka.yaml (its models, novelty and meta-recommendation settings, ...) is named in one note.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from evolve.errors import ConfigError
from evolve.peers import grouped, toolchains

EVALUATOR = "evaluate.py"
SEED_STEM = "initial"
LAUNCHER = "run_evo.py"
CONFIGS = ("shinka.yaml", "shinka_small.yaml")
_HONOURED = {"evo_config.num_generations", "evo_config.language", "evo_config.init_program_path",
             "evo_config.task_sys_msg", "db_config.num_islands", "db_config.migration_interval"}


@dataclass
class ShinkaFolder:
    spec: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def is_shinka_folder(root: Path) -> bool:
    return (root / EVALUATOR).is_file() and any(p.is_file() for p in root.glob(f"{SEED_STEM}.*"))


def read_folder(root: Path) -> ShinkaFolder:
    notes: list[str] = []
    config, config_path = _config(root)
    evo = config.get("evo_config") or {}
    db = config.get("db_config") or {}
    seed = _seed(root, evo.get("init_program_path"))
    toolchains.require(root / seed)
    run: dict[str, Any] = {}
    if isinstance(evo.get("num_generations"), int):
        run["iterations"] = evo["num_generations"]
    if isinstance(db.get("num_islands"), int):
        run["islands"] = db["num_islands"]
    if isinstance(db.get("migration_interval"), int):
        run["migration_interval"] = db["migration_interval"]
    system = evo.get("task_sys_msg") or launcher_system_message(root / LAUNCHER)
    compiled = (root / seed).suffix != ".py"
    spec = {
        "name": root.name,
        "seed": seed,
        "evaluator": EVALUATOR,
        "interface": "shinka",
        "language": evo.get("language") or toolchains.language_of(root / seed),
        "objective": "combined_score",
        "direction": "maximize",
        "system_message": system.strip() if isinstance(system, str) and system.strip() else None,
        "limits": {"wall_s": 180 if compiled else 60, "memory_mb": 4096 if compiled else 2048},
        "run": run,
    }
    if config_path is not None:
        unused = [f"{section}.{key}" for section, values in config.items() if isinstance(values, dict)
                  for key in values if f"{section}.{key}" not in _HONOURED]
        unused += [key for key, values in config.items() if not isinstance(values, dict)]
        if unused:
            notes.append(f"{config_path.name}: not used by Evolve: {grouped(unused)} (models: choose with --model)")
    return ShinkaFolder(spec, notes)


def launcher_system_message(path: Path) -> str | None:
    """The literal string assigned to `task_sys_msg` in run_evo.py, read with ast (the file is never run)."""
    if not path.is_file():
        return None
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError):
        return None
    for node in tree.body:
        if (isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "task_sys_msg"
                                                 for t in node.targets)
                and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
            return node.value.value
    return None


def _seed(root: Path, configured: object) -> str:
    if isinstance(configured, str) and (root / configured).is_file():
        return configured
    found = sorted(p.name for p in root.glob(f"{SEED_STEM}.*") if p.is_file())
    if len(found) != 1:
        raise ConfigError(str(root), "", f"a ShinkaEvolve folder needs one {SEED_STEM}.<ext> beside {EVALUATOR}, "
                          f"found {', '.join(found) or 'none'}")
    return found[0]


def _config(root: Path) -> tuple[dict[str, Any], Path | None]:
    for name in CONFIGS:
        path = root / name
        if path.is_file():
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            except yaml.YAMLError as exc:
                raise ConfigError(str(path), "", f"not valid YAML: {exc}") from None
            if not isinstance(data, dict):
                raise ConfigError(str(path), "", "expected a mapping at the top level")
            return data, path
    return {}, None
