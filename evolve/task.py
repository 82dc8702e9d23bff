"""Load a task folder: Evolve's `task.yaml`, or a peer's folder unmodified: OpenEvolve (`initial_program.*`,
`evaluator.py`, `config.yaml`; evolve/peers/openevolve.py) or ShinkaEvolve (`initial.<ext>`, `evaluate.py`;
evolve/peers/shinka.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from evolve.config import FeatureSpec, LimitsSpec, config_error_from
from evolve.errors import ConfigError
from evolve.examples import Example, load_examples
from evolve.peers import openevolve, shinka
from evolve.reverify import ReverifySpec
from evolve.resources import builtin_task_dirs


class AnswerSpec(BaseModel):
    """How a prompt task reads the task model's answer and scores it (`prompt.answer` in task.yaml)."""

    model_config = ConfigDict(extra="forbid")
    # label: the target is a label, recognised by its verbalizers; number: the last number (or the one after
    # "answer is"); exact: the answer line equals the target, ignoring case and punctuation; metric: the task's
    # own score(output, example) -> float in [0, 1], from `metric`.
    extract: Literal["label", "number", "exact", "metric"] = "exact"
    labels: dict[str, list[str]] = Field(default_factory=dict)  # label -> words that mean it in an answer
    metric: str | None = None  # a Python file in the task folder defining score(output, example)
    max_tokens: int = Field(128, ge=1)  # the task model's answer length
    temperature: float = Field(0.0, ge=0.0, le=2.0)  # 0: answers are reproducible, so caching them is sound

    @model_validator(mode="after")
    def _complete(self) -> AnswerSpec:
        if self.extract == "label" and not self.labels:
            raise ValueError("extract: label needs `labels` (label -> verbalizer words)")
        if self.extract == "metric" and not self.metric:
            raise ValueError("extract: metric needs `metric` (a file defining score(output, example))")
        return self


class PromptSpec(BaseModel):
    """The `prompt:` section of a prompt task: its data, the placeholder and how answers are scored."""

    model_config = ConfigDict(extra="forbid")
    placeholder: str = Field("{input}", min_length=1)  # replaced by each example's input (plain text, no format)
    dev: str  # JSONL split that evolution scores on
    test: str  # JSONL split held out: scored once, for the seed and the best, after evolution
    input_field: str = "input"
    target_field: str = "target"
    answer: AnswerSpec = Field(default_factory=AnswerSpec)
    minibatch: int = Field(5, ge=1)  # a child is scored on the whole dev split only if it beats its parent here
    max_prompt_tokens: int = Field(400, ge=16)  # longer children are refused as rambling
    examples_shown: int = Field(3, ge=0, le=20)  # dev examples shown in OPRO and reflective meta-prompts


class TaskSpec(BaseModel):
    """The fields of task.yaml."""

    model_config = ConfigDict(extra="forbid")
    name: str
    kind: Literal["program", "prompt", "kernel"] = "program"
    description: str = ""
    seed: str | list[str]  # one file, or several (prompt tasks: the seed prompts of the initial population)
    evaluator: str = "evaluate.py"
    # call: evaluate(candidate) talks to the candidate in its own sandbox (evaluators/candidate_channel.py), so
    # a candidate cannot forge its score. path: OpenEvolve's evaluate(program_path), which imports the candidate
    # into the evaluator's process (compatible, but a candidate could tamper with its own evaluation).
    # shinka: ShinkaEvolve's `evaluate.py --program_path P --results_dir D` (like path: not tamper-proof).
    interface: Literal["call", "path", "shinka"] = "call"
    candidate_files: list[str] = Field(default_factory=list)  # task files copied beside the candidate (drivers)
    language: str = "python"
    objective: str = "combined_score"
    direction: Literal["maximize", "minimize"] = "maximize"
    best_known: float | None = None
    best_known_by: str = ""  # who holds the best known value (shown by `evolve tasks`)
    seed_score: float | None = None  # the seed's score, documented (tests check it)
    system_message: str | None = None
    show_artifacts: bool = True  # the parent's artifacts (stderr, evaluator notes) shown in the next prompt
    limits: LimitsSpec = Field(default_factory=LimitsSpec)
    cascade_thresholds: list[float] = Field(default_factory=list)
    features: list[FeatureSpec] = Field(
        default_factory=lambda: [FeatureSpec(name="code_length"), FeatureSpec(name="edit_distance")],
        min_length=1,
        max_length=3,
    )
    run: dict[str, Any] = Field(default_factory=dict)  # defaults for RunConfig, validated when a run starts
    prompt: PromptSpec | None = None  # kind: prompt only
    reverify: ReverifySpec = Field(default_factory=ReverifySpec)  # program runs: how the best is re-checked

    @property
    def seeds(self) -> list[str]:
        return [self.seed] if isinstance(self.seed, str) else list(self.seed)


class Task:
    """A validated task: its folder, spec, seed sources and evaluator path (or, for prompts, its splits)."""

    def __init__(self, root: Path, spec: TaskSpec, spec_file: Path, notes: list[str] | None = None) -> None:
        self.root = root
        self.spec = spec
        self.spec_file = spec_file
        self.notes = notes or []  # what the loader adapted or ignored, shown to the user
        self.evaluator_spec: dict[str, Any] = {}  # a peer format's additions to the harness spec
        self.llm_feedback_weight: float | None = None  # OpenEvolve's use_llm_feedback: the judge's weight
        if not spec.seeds:
            raise ConfigError(str(spec_file), "seed", "name at least one seed file")
        if (spec.kind == "prompt") != (spec.prompt is not None):
            raise ConfigError(str(spec_file), "prompt", "kind: prompt needs a `prompt:` section (dev and test "
                              "split files at least)" if spec.prompt is None else
                              f"the `prompt:` section is only for kind: prompt, not kind: {spec.kind}")
        single = isinstance(spec.seed, str)
        self.seed_paths = [_existing_file(root, rel, spec_file, "seed" if single else f"seed.{i}")
                           for i, rel in enumerate(spec.seeds)]
        self.seed_sources = [_read_seed(path) for path in self.seed_paths]
        self.seed_path, self.seed_source = self.seed_paths[0], self.seed_sources[0]
        self.candidate_files = [_existing_file(root, name, spec_file, f"candidate_files[{i}]")
                                for i, name in enumerate(spec.candidate_files)]
        for i, path in enumerate(self.candidate_files):
            if path.suffix != ".py" or not path.stem.isidentifier():
                raise ConfigError(str(spec_file), f"candidate_files[{i}]",
                                  f"expected a Python module file name like driver.py, got {path.name!r}")
        self.dev: list[Example] = []
        self.test: list[Example] = []
        self.metric_path: Path | None = None
        self.evaluator_path: Path | None = None  # programs only
        if spec.prompt is None:
            self.evaluator_path = _existing_file(root, spec.evaluator, spec_file, "evaluator")
            self.files = [spec_file, *self.seed_paths, self.evaluator_path, *self.candidate_files]
        else:
            self._load_prompt_data(spec.prompt)

    def _load_prompt_data(self, prompt: PromptSpec) -> None:
        """Splits, placeholder and answer settings of a prompt task, checked before any model is called."""
        split_paths = {}
        for split in ("dev", "test"):
            path = _existing_file(self.root, getattr(prompt, split), self.spec_file, f"prompt.{split}")
            split_paths[split] = path
            examples = load_examples(path, input_field=prompt.input_field, target_field=prompt.target_field)
            setattr(self, split, examples)
            labels = prompt.answer.labels
            for ex in examples if prompt.answer.extract == "label" else []:
                if ex.target not in labels:
                    raise ConfigError(f"{path} (example {ex.id})", prompt.target_field,
                                      f"target {ex.target!r} is not one of prompt.answer.labels ({', '.join(labels)})")
        for path, source in zip(self.seed_paths, self.seed_sources, strict=True):
            if prompt.placeholder not in source:
                raise ConfigError(str(path), "seed", f"the seed prompt lacks the placeholder {prompt.placeholder!r} "
                                  "(set by prompt.placeholder in task.yaml) where each example's input goes")
        if prompt.answer.metric:
            self.metric_path = _existing_file(self.root, prompt.answer.metric, self.spec_file, "prompt.answer.metric")
        extra = [self.metric_path] if self.metric_path else []
        self.files = [self.spec_file, *self.seed_paths, *split_paths.values(), *extra]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def ref(self) -> Path:
        """What load_task needs to load this same task again: the folder, or the OpenEvolve config file that
        was named instead of the folder's config.yaml (stored with a run, so a resume reads the same one)."""
        named = self.spec_file.suffix in (".yaml", ".yml") and self.spec_file.name not in ("task.yaml", "config.yaml")
        return self.spec_file if named else self.root

    def better(self, a: float, b: float) -> bool:
        """True when score `a` is strictly better than `b` in this task's direction."""
        return a > b if self.spec.direction == "maximize" else a < b


def resolve_task_path(ref: str) -> Path:
    """A task reference is a folder path or the name of a built-in task (or an OpenEvolve config file)."""
    path = Path(ref).expanduser()
    if path.is_dir():
        return path.resolve()
    if path.is_file() and path.suffix in (".yaml", ".yml"):
        return path.resolve().parent
    builtin = builtin_task_dirs()
    if ref in builtin:
        return builtin[ref]
    known = ", ".join(builtin) or "none"
    raise ConfigError(ref, "", f"no such task folder, and not a built-in task (built-in: {known})")


def load_task(ref: str | Path) -> Task:
    """Load and validate a task folder; errors name the file, the field and what was expected."""
    root = resolve_task_path(str(ref))
    native = root / "task.yaml"
    if native.is_file():
        return _load_native(root, native)
    given = Path(ref).expanduser()
    config = given.resolve() if given.is_file() else root / openevolve.CONFIG
    if config.is_file() or openevolve.is_openevolve_folder(root):
        return _load_openevolve(root, config)
    if shinka.is_shinka_folder(root):
        return _load_shinka(root)
    raise ConfigError(str(root), "", "not a task folder: expected task.yaml, an OpenEvolve folder "
                      "(initial_program.*, evaluator.py, config.yaml) or a ShinkaEvolve folder "
                      "(initial.<ext>, evaluate.py)")


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
    if data.get("kind") == "repo":  # functions of a git checkout: evolve/repo_task.py
        from evolve.repo_task import load_repo_task

        return load_repo_task(data, path)  # type: ignore[return-value]  # reads like a Task to the engine
    try:
        spec = TaskSpec.model_validate(data)
    except ValidationError as exc:
        raise config_error_from(exc, str(path)) from None
    return Task(root, spec, path)


def _load_openevolve(root: Path, path: Path) -> Task:
    """OpenEvolve's folder and config (evolve/peers/openevolve.py); `path` may not exist (all defaults)."""
    folder = openevolve.read_folder(root, _read_yaml(path) if path.is_file() else {}, path)
    task = _validated(root, folder.spec, path if path.is_file() else root / openevolve.EVALUATOR, folder.notes)
    task.evaluator_spec = folder.evaluator_spec
    task.llm_feedback_weight = folder.llm_feedback_weight
    return task


def _load_shinka(root: Path) -> Task:
    """ShinkaEvolve's folder (evolve/peers/shinka.py): the evaluator is a script, run with its command line."""
    folder = shinka.read_folder(root)
    return _validated(root, folder.spec, root / shinka.EVALUATOR, folder.notes)


def _validated(root: Path, data: dict[str, Any], path: Path, notes: list[str]) -> Task:
    try:
        spec = TaskSpec.model_validate(data)
    except ValidationError as exc:
        raise config_error_from(exc, str(path)) from None
    return Task(root, spec, path, notes)


def _read_seed(path: Path) -> str:
    source = path.read_text(encoding="utf-8")
    if not source.strip():
        raise ConfigError(str(path), "", "the seed file is empty")
    return source


def _existing_file(root: Path, rel: str, spec_file: Path, field: str) -> Path:
    path = (root / rel).resolve()
    if not path.is_relative_to(root.resolve()):
        raise ConfigError(str(spec_file), field, f"{rel!r} points outside the task folder")
    if not path.is_file():
        raise ConfigError(str(spec_file), field, f"file {rel!r} not found in {root}")
    return path
