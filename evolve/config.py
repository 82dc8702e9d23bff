"""Run settings: one validated model, filled from defaults, then the task's `run:` section, then CLI flags."""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from evolve.errors import ConfigError
from evolve.llm.spec import ModelConfig, parse_model_spec
from evolve.safe_text import short_repr

#: The prompt-optimization operators a run can mix (see evolve/prompt_variation.py).
PROMPT_OPERATORS = ("ga", "de", "opro", "reflect")


class FeatureSpec(BaseModel):
    """One MAP-Elites dimension: a built-in descriptor (code_length, edit_distance) or any evaluator metric."""

    model_config = ConfigDict(extra="forbid")
    name: str
    bins: int = Field(10, ge=1, le=1000)
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _range_is_ordered(self) -> FeatureSpec:
        if self.min is not None and self.max is not None and self.max <= self.min:
            raise ValueError(f"max ({self.max}) must be greater than min ({self.min})")
        return self


class LimitsSpec(BaseModel):
    """Sandbox limits for one evaluation (see sandbox.Limits)."""

    model_config = ConfigDict(extra="forbid")
    wall_s: float = Field(60.0, gt=0)
    cpu_s: float | None = Field(None, gt=0)  # defaults to wall_s
    memory_mb: int = Field(2048, ge=64)
    # what memory_mb caps: the address space (true) or only data memory (false, for CUDA, whose driver
    # reserves far more address space than it uses); unset: false for kernel tasks, true otherwise
    address_space: bool | None = None
    max_processes: int = Field(64, ge=1)
    file_size_mb: int = Field(64, ge=1)
    open_files: int = Field(256, ge=16)
    # kernel doors the sandbox's syscall filter closes that this task needs open (sandbox.syscall_filter.GROUPS)
    allow_syscalls: list[str] = Field(default_factory=list)

    @field_validator("allow_syscalls")
    @classmethod
    def _known_syscall_groups(cls, value: list[str]) -> list[str]:
        from sandbox.syscall_filter import GROUPS, unknown_groups

        if unknown := unknown_groups(value):
            raise ValueError(f"unknown syscall group(s) {', '.join(unknown)}; choose from: {', '.join(GROUPS)}")
        return value


class RunConfig(BaseModel):
    """Everything that shapes one evolution run; stored with the run so it can be resumed and reproduced."""

    model_config = ConfigDict(extra="forbid")
    models: list[ModelConfig] = Field(default_factory=list)  # empty: evolve.llm.default_models()
    iterations: int = Field(100, ge=0)  # stored children (each completed proposal), across resumes
    max_wall_s: float | None = Field(None, gt=0)  # per invocation of run/resume
    max_tokens: int | None = Field(None, gt=0)  # prompt + completion tokens over the whole run
    max_cost_usd: float | None = Field(None, gt=0)
    target_score: float | None = None
    llm_concurrency: int = Field(2, ge=1, le=256)
    eval_concurrency: int = Field(default_factory=lambda: max(1, os.cpu_count() or 1), ge=1, le=256)
    seed: int = 0
    islands: int = Field(2, ge=1, le=64)
    migration_interval: int = Field(10, ge=1)  # children per island between ring migrations
    exploitation: float = Field(0.7, ge=0, le=1)  # share of parents drawn from the island's top elites
    elite_pool: int = Field(5, ge=1)  # how many top elites exploitation draws from
    num_inspirations: int = Field(2, ge=0, le=10)
    # auto: constrained line edits for local models (evolve/constrained_edits.py), diffs for the rest
    edit_mode: Literal["auto", "diff", "rewrite", "constrained"] = "auto"
    repair_attempts: int = Field(1, ge=0, le=3)
    max_consecutive_llm_failures: int = Field(20, ge=1)
    sandbox: str = "auto"
    limits: LimitsSpec | None = None  # None: the task's limits
    # Prompt runs: `models` write prompts, the task model answers with them (None: the first of `models`).
    task_model: ModelConfig | None = None
    operators: dict[str, float] = Field(default_factory=lambda: {"ga": 0.3, "de": 0.2, "opro": 0.2, "reflect": 0.3})
    paraphrases: int = Field(2, ge=0)  # initial population: the seed prompts plus this many model paraphrases
    task_concurrency: int = Field(4, ge=1, le=256)  # task-model calls in flight per evaluation
    max_task_calls: int | None = Field(None, gt=0)  # stop once the task model has been called this often
    # Search policies: which model writes a child (evolve/model_selection.py), which parent it starts from
    # (evolve/selection.py), novelty rejection (evolve/novelty.py), meta-guidance (evolve/meta_guidance.py).
    model_selection: Literal["fixed", "ucb", "thompson"] = "fixed"  # fixed: the models' weights
    bandit_exploration: float = Field(1.0, ge=0)  # UCB's exploration bonus
    bandit_epsilon: float = Field(0.1, ge=0, le=1)  # UCB: share of pulls spread over the runners-up
    bandit_cost_weight: float = Field(0.3, ge=0, le=1)  # 0: gains only; 1: cheapness only
    parent_selection: Literal["exploit-explore", "weighted", "power-law"] = "exploit-explore"
    selection_sharpness: float = Field(10.0, gt=0)  # weighted: how steeply score above the median counts
    power_law_alpha: float = Field(1.0, ge=0)  # power-law: 0 uniform over elites, larger greedier
    novelty: bool = False  # reject children whose code embeds too close to an evaluated one
    novelty_threshold: float = Field(0.995, gt=0, le=1)  # cosine similarity at or above which a child is rejected
    novelty_embedder: str = "minilm"  # minilm | local | local:PATH.gguf | openai:MODEL[@BASE_URL]
    novelty_judge: bool = False  # ask the proposing model whether a too-close child is still new
    meta_interval: int = Field(0, ge=0)  # every this many children, notes on what worked (0: off)
    meta_window: int = Field(8, ge=1, le=50)  # how many of the latest children the notes are written from
    max_evaluations: int | None = Field(None, gt=0)  # stop once this many children reached the evaluator

    @field_validator("task_model", mode="before")
    @classmethod
    def _model_spec(cls, value: object) -> object:
        """A spec string like 'local' or 'openai:NAME@URL' is accepted where a model mapping is."""
        return parse_model_spec(value) if isinstance(value, str) else value

    @field_validator("novelty_embedder")
    @classmethod
    def _known_embedder(cls, value: str) -> str:
        from evolve.llm.embeddings import build_embedder

        build_embedder(value)  # raises ValueError naming the accepted forms; loads nothing
        return value

    @field_validator("operators")
    @classmethod
    def _known_operators(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(PROMPT_OPERATORS))
        if unknown:
            raise ValueError(f"unknown operator(s) {', '.join(unknown)}; known: {', '.join(PROMPT_OPERATORS)}")
        if any(w < 0 for w in value.values()) or sum(value.values()) <= 0:
            raise ValueError("operator weights must be >= 0 with at least one positive")
        return value


def parse_run_config(data: dict[str, Any], *, source: str) -> RunConfig:
    """Validate run settings, naming `source` (a file or 'command line') and the field on error."""
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        raise config_error_from(exc, source, prefix="run") from None


def config_error_from(exc: ValidationError, source: str, prefix: str = "") -> ConfigError:
    """Turn pydantic's first error into a ConfigError naming file, dotted field path and expectation."""
    err = exc.errors()[0]
    path = ".".join(str(p) for p in err["loc"])
    field = f"{prefix}.{path}" if prefix and path else (path or prefix)
    got = err.get("input")
    detail = err["msg"]
    if err["type"] == "extra_forbidden":
        detail = "unknown field (check the spelling)"
    elif not isinstance(got, dict):
        detail += f" (got {short_repr(got)})"
    more = len(exc.errors()) - 1
    return ConfigError(source, field, detail + (f"; and {more} more problem(s)" if more else ""))
