"""An OpenEvolve task folder, unmodified: `initial_program.*`, `evaluator.py` and (optionally) `config.yaml`.

Every key of config.yaml that shapes a run is mapped onto Evolve's task and run settings: the llm section
becomes the run's models (used unless `--model` is given), the prompt section's counts and artifact switch,
the database's islands, migration, exploitation and MAP-Elites features, the evaluator's timeout, cascade,
parallelism and LLM feedback. Keys Evolve does not honour are named together in ONE note shown at start.
The evaluator keeps OpenEvolve's contract (`evaluate(program_path)`, `interface: path`) and its fitness rule:
`combined_score`, else the mean of the numeric metrics that are not feature dimensions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evolve.errors import ConfigError
from evolve.peers import grouped, toolchains

CONFIG = "config.yaml"
EVALUATOR = "evaluator.py"
SEED_STEM = "initial_program"
OPENAI_API_BASE = "https://api.openai.com/v1"
#: OpenEvolve's built-in feature names mapped to Evolve's; any other name is an evaluator metric.
FEATURES = {"complexity": "code_length", "diversity": "edit_distance", "score": "combined_score"}
#: Defaults of OpenEvolve's llm section, applied to each model that does not set its own.
LLM_DEFAULTS: dict[str, Any] = {"api_base": OPENAI_API_BASE, "temperature": 0.7, "top_p": None,
                                "max_tokens": 4096, "timeout": 60, "retries": 3, "retry_delay": 5,
                                "api_key": None, "random_seed": None}
#: OpenEvolve's prompt.system_message default names a template, not a message.
_TEMPLATE_NAME = "system_message"
_ENV_REF = re.compile(r"^\$\{([^}]+)\}$")

# Keys of config.yaml that Evolve reads (dotted). Anything else present in the file goes into the one note.
_HONOURED = {
    "max_iterations", "random_seed", "diff_based_evolution", "language",
    "llm.models", "llm.primary_model", "llm.primary_model_weight", "llm.secondary_model",
    "llm.secondary_model_weight", *(f"llm.{k}" for k in LLM_DEFAULTS),
    "prompt.system_message", "prompt.num_top_programs", "prompt.num_diverse_programs", "prompt.include_artifacts",
    "database.num_islands", "database.migration_interval", "database.exploitation_ratio",
    "database.feature_dimensions", "database.feature_bins", "database.random_seed",
    "evaluator.timeout", "evaluator.cascade_evaluation", "evaluator.cascade_thresholds",
    "evaluator.parallel_evaluations", "evaluator.use_llm_feedback", "evaluator.llm_feedback_weight",
    "evaluator.enable_artifacts",
}
_SECTIONS = ("llm", "prompt", "database", "evaluator")


@dataclass
class OpenEvolveFolder:
    """What the loader needs: TaskSpec fields, the evaluator's extra harness settings, the one note."""

    spec: dict[str, Any]
    evaluator_spec: dict[str, Any]
    llm_feedback_weight: float | None = None
    notes: list[str] = field(default_factory=list)


def is_openevolve_folder(root: Path) -> bool:
    return (root / EVALUATOR).is_file() and any(root.glob(f"{SEED_STEM}.*"))


def seed_file(root: Path, config_path: Path) -> str:
    """`initial_program.<ext>`: the one present (OpenEvolve's examples also use .rs, .r, .txt)."""
    found = sorted(p.name for p in root.glob(f"{SEED_STEM}.*") if p.is_file())
    if not found:
        raise ConfigError(str(root), "", f"an OpenEvolve folder needs {SEED_STEM}.<ext> beside {EVALUATOR}")
    if len(found) > 1 and f"{SEED_STEM}.py" in found:
        return f"{SEED_STEM}.py"
    if len(found) > 1:
        raise ConfigError(str(config_path), "", f"several seeds ({', '.join(found)}); keep one")
    return found[0]


def read_folder(root: Path, cfg: dict[str, Any], config_path: Path) -> OpenEvolveFolder:
    """Map OpenEvolve's config (already parsed YAML; {} when the folder has none) to Evolve's settings."""
    sections = {name: _section(cfg, name, config_path) for name in _SECTIONS}
    db, ev, prompt, llm = sections["database"], sections["evaluator"], sections["prompt"], sections["llm"]
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
    shown = [prompt.get(k) for k in ("num_top_programs", "num_diverse_programs") if prompt.get(k) is not None]
    if shown:
        run["num_inspirations"] = min(10, sum(int(n) for n in shown))
    notes: list[str] = []
    models = llm_models(llm, config_path, notes)
    if models:
        run["models"] = models
    dims = db.get("feature_dimensions") or ["complexity", "diversity"]
    bins = db.get("feature_bins", 10)
    features = [{"name": FEATURES.get(name, name), "bins": bins.get(name, 10) if isinstance(bins, dict) else bins}
                for name in dims]
    seed = seed_file(root, config_path)
    toolchains.require(root / seed)
    system = prompt.get("system_message")
    cascade = ev.get("cascade_evaluation", True)
    spec = {
        "name": root.name,
        "seed": seed,
        "evaluator": EVALUATOR,
        "interface": "path",  # OpenEvolve evaluators import the program themselves
        "language": cfg.get("language") or toolchains.language_of(root / seed),
        "objective": "combined_score",
        "system_message": None if system in (None, _TEMPLATE_NAME) else system,
        "limits": {"wall_s": ev["timeout"]} if ev.get("timeout") is not None else {},
        "cascade_thresholds": (ev.get("cascade_thresholds") or []) if cascade else [],
        "features": features,
        "show_artifacts": bool(prompt.get("include_artifacts", True) and ev.get("enable_artifacts", True)),
        "run": run,
    }
    weight = float(ev.get("llm_feedback_weight", 0.1)) if ev.get("use_llm_feedback") else None
    others = sorted(p.name for p in root.glob("*.y*ml") if p.is_file() and p != config_path)
    if not config_path.is_file():
        notes.append(f"no {config_path.name}: OpenEvolve's defaults apply" + (
            f"; to use another config, name it: evolve run {root / others[0]}" if others else ""))
    ignored = _unhonoured(cfg)
    if ignored:
        notes.append(f"{config_path.name}: not used by Evolve: {grouped(ignored)}")
    # OpenEvolve's fitness excludes the feature dimensions that are evaluator metrics
    exclude = [name for name in dims if name not in FEATURES]
    return OpenEvolveFolder(spec, {"fitness_exclude": exclude}, weight, notes)


def llm_models(llm: dict[str, Any], config_path: Path, notes: list[str]) -> list[dict[str, Any]]:
    """The llm section's models as Evolve model settings: `models` (or primary/secondary_model), each with the
    section's shared values where it sets none; the key read from OPENAI_API_KEY (or the `${VAR}` named)."""
    entries = [dict(m) for m in llm.get("models") or [] if isinstance(m, dict)]
    if llm.get("primary_model"):
        entries.append({"name": llm["primary_model"], "weight": llm.get("primary_model_weight") or 1.0})
    if llm.get("secondary_model") and (llm.get("secondary_model_weight") is None
                                       or llm["secondary_model_weight"] > 0):
        entries.append({"name": llm["secondary_model"], "weight": llm.get("secondary_model_weight") or 0.2})
    shared = {k: llm.get(k, default) for k, default in LLM_DEFAULTS.items()}
    models = []
    for i, entry in enumerate(entries):
        if not entry.get("name"):
            raise ConfigError(str(config_path), f"llm.models[{i}].name", "each model needs a name")
        merged = {k: entry.get(k) if entry.get(k) is not None else shared[k] for k in LLM_DEFAULTS}
        models.append(_model(entry["name"], float(entry.get("weight", 1.0)), merged, config_path, notes))
    return models


def _model(name: str, weight: float, opts: dict[str, Any], config_path: Path, notes: list[str]) -> dict[str, Any]:
    base = str(opts["api_base"]).rstrip("/")
    model: dict[str, Any] = {
        "provider": "openai", "name": name, "weight": weight, "base_url": None if base == OPENAI_API_BASE else base,
        "temperature": opts["temperature"] if opts["temperature"] is not None else 0.7,
        "top_p": opts["top_p"], "max_tokens": opts["max_tokens"], "timeout_s": opts["timeout"],
        "max_retries": opts["retries"], "backoff_base_s": opts["retry_delay"], "seed": opts["random_seed"],
    }
    key = opts["api_key"]
    ref = _ENV_REF.match(str(key)) if key else None
    if ref:
        model["api_key_env"] = ref.group(1)
    elif key:
        note = (f"{config_path.name}: llm api_key is written in the file; Evolve never stores keys with a run, "
                "so it reads OPENAI_API_KEY instead (or write api_key: ${VAR})")
        if note not in notes:
            notes.append(note)
    return {k: v for k, v in model.items() if v is not None}


def _unhonoured(cfg: dict[str, Any]) -> list[str]:
    """Dotted keys present in the config that no setting of Evolve takes."""
    keys = []
    for key, value in cfg.items():
        if key in _SECTIONS and isinstance(value, dict):
            keys += [f"{key}.{sub}" for sub in value if f"{key}.{sub}" not in _HONOURED]
        elif key not in _HONOURED and key not in _SECTIONS:
            keys.append(key)
    return keys


def _section(cfg: dict[str, Any], key: str, path: Path) -> dict[str, Any]:
    value = cfg.get(key) or {}
    if not isinstance(value, dict):
        raise ConfigError(str(path), key, f"expected a mapping, got {type(value).__name__}")
    return value
