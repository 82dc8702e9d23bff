"""A repository task: evolve one or more functions where they live, in an existing git checkout.

The candidate the model edits is the source of the target functions, each under a `# evolve: FILE::NAME` line;
a function's span (decorators to last line, found with `ast`) is its evolvable region, so no EVOLVE-BLOCK
markers are needed, and the rest of its file is read-only context shown to the model. A child is the checkout's
tracked files with the functions replaced (evaluators/repo.py runs the repository's own check and score
commands on it in the sandbox). The user's checkout is only read; the best child leaves as a patch that
`git apply` takes (`evolve best RUN --patch`).

Two forms build the same task: `evolve run --repo PATH --evolve FILE::NAME --check CMD --score CMD`, and a
task.yaml with `kind: repo` (its `repo:` is relative to the task.yaml's folder).
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evolve.config import FeatureSpec, LimitsSpec, config_error_from
from evolve.errors import ConfigError, EvolveError

HEADER = "# evolve: "  # the line that names the function below it in a candidate
_CONTEXT_CHARS = 8000  # in all: the read-only context shown to the model (small models have little room)
_HEADER_RE = re.compile(r"^# evolve: (\S+)\s*$", re.MULTILINE)


class RepoTaskSpec(BaseModel):
    """The fields of a `kind: repo` task.yaml (and what the `--repo` flags set)."""

    model_config = ConfigDict(extra="forbid")
    name: str = ""  # default: the checkout's folder name
    kind: Literal["repo"] = "repo"
    description: str = ""
    repo: str  # the checkout (a task.yaml's is relative to its folder)
    evolve: list[str] = Field(min_length=1)  # FILE::FUNCTION or FILE::Class.method, FILE relative to the repo
    check: str  # shell command that must exit 0 for a child to be valid (the repository's tests)
    score: str  # shell command that reports the metrics (see evaluators/repo.py for the contract)
    objective: str = "score"
    direction: Literal["maximize", "minimize"] = "maximize"
    max_repo_mb: float = Field(50.0, gt=0)  # tracked files above this size in all: refused (each child copies them)
    system_message: str | None = None
    limits: LimitsSpec = Field(default_factory=LimitsSpec)
    features: list[FeatureSpec] = Field(
        default_factory=lambda: [FeatureSpec(name="code_length"), FeatureSpec(name="edit_distance")],
        min_length=1, max_length=3)
    run: dict[str, Any] = Field(default_factory=dict)
    # what the program-task code reads from any task's spec
    language: Literal["python"] = "python"
    best_known: float | None = None
    cascade_thresholds: list[float] = Field(default_factory=list)
    show_artifacts: bool = True  # failing tests' output reaches the next prompt


@dataclass(frozen=True)
class Target:
    """One evolvable function: where it sits in its file (0-based line span) and how it is indented."""

    file: str  # relative to the repository, POSIX separators
    qualname: str  # function or Class.method
    start: int
    end: int  # exclusive
    indent: str

    @property
    def ref(self) -> str:
        return f"{self.file}::{self.qualname}"


class RepoEditError(ValueError):
    """A candidate that cannot be put back into the repository (the model sees why on repair)."""


class RepoTask:
    """A validated repository task: the checkout, its targets, the seed candidate and the original files."""

    llm_feedback_weight: float | None = None  # a repository's score comes from its own commands, no LLM judge

    def __init__(self, spec: RepoTaskSpec, spec_file: Path, originals: dict[str, str] | None = None) -> None:
        self.spec = spec
        self.spec_file = spec_file
        self.root = Path(spec.repo)
        self.notes: list[str] = []
        where = str(spec_file)
        self.tracked = tracked_files(self.root, where)
        self._check_size(where)
        self.originals = originals if originals is not None else self._read_targets(where)
        self.targets = [_find_target(self.originals, ref, where) for ref in spec.evolve]
        _check_disjoint(self.targets, where)
        self.seed_source = join_functions(
            (t, _dedent(self.originals[t.file].splitlines(keepends=True)[t.start:t.end], t.indent))
            for t in self.targets)
        self.seed_sources = [self.seed_source]
        self.splice = FunctionSplice(self.originals, self.targets)
        self.files = [self.root / name for name in self.originals]
        if not spec.name:
            self.spec = spec = spec.model_copy(update={"name": self.root.name})
        if not spec.description.strip():
            self.spec = spec.model_copy(update={"description": self._describe()})

    @property
    def ref(self) -> Path:
        """The run's stored task_path: the checkout (a resume rebuilds the task from the run's `repo_task` record)."""
        return self.root

    @property
    def name(self) -> str:
        return self.spec.name

    def better(self, a: float, b: float) -> bool:
        return a > b if self.spec.direction == "maximize" else a < b

    # ---- loading ----------------------------------------------------------------------------------------
    def _check_size(self, where: str) -> None:
        total = sum(p.stat().st_size for p in (self.root / f for f in self.tracked) if p.is_file())
        if total > self.spec.max_repo_mb * 1e6:
            raise ConfigError(where, "max_repo_mb", f"the tracked files of {self.root} hold {total / 1e6:.1f} MB, "
                              f"over the {self.spec.max_repo_mb:g} MB that each child may copy into the sandbox; "
                              "raise max_repo_mb (--max-repo-mb) or evolve a smaller checkout")

    def _read_targets(self, where: str) -> dict[str, str]:
        originals: dict[str, str] = {}
        for ref in self.spec.evolve:
            rel = _split_ref(ref, where)[0]
            if rel not in self.tracked:
                raise ConfigError(where, "evolve", f"{ref!r}: {rel!r} is not a file tracked by git in {self.root}")
            if (self.root / rel).is_symlink():  # children write this file: never through a link, out of the copy
                raise ConfigError(where, "evolve", f"{ref!r}: {rel!r} is a symbolic link; name the file it points to")
            try:
                originals[rel] = (self.root / rel).read_text(encoding="utf-8")
            except UnicodeDecodeError:
                raise ConfigError(where, "evolve", f"{ref!r}: {rel!r} is not UTF-8 text") from None
        return originals

    def _describe(self) -> str:
        """The task for the model: which functions, and their files around them as read-only context."""
        refs = ", ".join(f"`{t.ref}`" for t in self.targets)
        intro = (f"Improve the function(s) {refs} of a Python repository. Each is shown under its "
                 f"`{HEADER}FILE::NAME` line: keep those lines, each function's name and signature (the rest "
                 "of the repository calls it) and its behaviour, which the repository's tests check. Define any "
                 "helper inside the function. The rest of each file is read-only context:")
        parts = [intro]
        for rel in self.originals:
            lines = self.originals[rel].splitlines(keepends=True)
            for t in sorted((t for t in self.targets if t.file == rel), key=lambda t: -t.start):
                lines[t.start:t.end] = [f"{t.indent}# ... {t.qualname}: the function you edit ...\n"]
            text = "".join(lines)
            share = _CONTEXT_CHARS // len(self.originals)
            if len(text) > share:
                text = text[:share] + "\n# ... (rest of the file not shown)\n"
            parts.append(f"--- {rel} ---\n{text.rstrip()}")
        return "\n".join(parts)

    def apply(self, source: str) -> dict[str, str]:
        return self.splice.apply(source)

    def record(self) -> dict[str, Any]:
        """What a stored run keeps to rebuild this task (resume, patch export) without rereading the checkout."""
        return {"spec": self.spec.model_dump(mode="json"), "spec_file": str(self.spec_file),
                "originals": self.originals, "head": _git(self.root, "rev-parse", "HEAD", check=False)}

    def folder_digest(self) -> str:
        """The tracked files' paths and contents: what each child is made of."""
        digest = hashlib.sha256()
        for rel in sorted(self.tracked):
            path = self.root / rel
            if path.is_file() and not path.is_symlink():
                digest.update(rel.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
        return digest.hexdigest()


class FunctionSplice:
    """Puts a candidate's functions back into the original files; renders the change as a patch."""

    def __init__(self, originals: dict[str, str], targets: list[Target]) -> None:
        self.originals = originals
        self.targets = targets

    def apply(self, source: str) -> dict[str, str]:
        """The target files' new contents with the candidate's functions in place of the originals."""
        functions = split_functions(source, self.targets)
        changed = dict(self.originals)
        for target in sorted(self.targets, key=lambda t: -t.start):  # bottom up: earlier spans stay valid
            lines = changed[target.file].splitlines(keepends=True)
            lines[target.start:target.end] = _indent(functions[target.ref], target.indent)
            changed[target.file] = "".join(lines)
        for rel, text in changed.items():
            try:
                ast.parse(text)
            except SyntaxError as exc:
                raise RepoEditError(f"{rel} does not parse with the new function(s): line {exc.lineno}: "
                                    f"{exc.msg}") from None
        return changed

    def patch(self, source: str) -> str:
        """A patch (git's unified diff format) from the original files to the candidate's, for `git apply`."""
        out: list[str] = []
        for rel, new in self.apply(source).items():
            old = self.originals[rel]
            if old == new:
                continue
            out.append(f"diff --git a/{rel} b/{rel}\n")
            for line in difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                             f"a/{rel}", f"b/{rel}"):
                out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
        return "".join(out)


def join_functions(pieces: Any) -> str:
    """The candidate text: each function under its header line."""
    return "\n\n".join(f"{HEADER}{t.ref}\n{text.rstrip()}\n" for t, text in pieces)


def split_functions(source: str, targets: list[Target]) -> dict[str, str]:
    """Each target's function text from a candidate; with one target the header line may be missing."""
    refs = [t.ref for t in targets]
    marks = list(_HEADER_RE.finditer(source))
    if not marks and len(targets) == 1:
        pieces = {refs[0]: source}
    else:
        names = [m.group(1) for m in marks]
        if sorted(names) != sorted(refs):
            raise RepoEditError(f"the candidate must hold each function under its `{HEADER}FILE::NAME` line, once: "
                                f"expected {', '.join(refs)}; found {', '.join(names) or 'none'}")
        if source[:marks[0].start()].strip():
            raise RepoEditError(f"code before the first `{HEADER}` line: only the functions may change")
        ends = [m.start() for m in marks[1:]] + [len(source)]
        pieces = {m.group(1): source[m.end():end] for m, end in zip(marks, ends, strict=True)}
    for target in targets:
        _check_function(pieces[target.ref], target)
    return pieces


def _check_function(text: str, target: Target) -> None:
    try:
        body = ast.parse(text).body
    except SyntaxError as exc:
        raise RepoEditError(f"{target.ref} does not parse: line {exc.lineno}: {exc.msg}") from None
    name = target.qualname.rsplit(".", 1)[-1]
    if (len(body) != 1 or not isinstance(body[0], (ast.FunctionDef, ast.AsyncFunctionDef))
            or body[0].name != name):
        raise RepoEditError(f"{target.ref}: the candidate must be exactly one `def {name}(...)` (put helpers "
                            "and imports inside it), nothing else at the top level")


def _find_target(originals: dict[str, str], ref: str, where: str) -> Target:
    rel, qualname = _split_ref(ref, where)
    try:
        tree = ast.parse(originals[rel])
    except SyntaxError as exc:
        raise ConfigError(where, "evolve", f"{rel} does not parse as Python: line {exc.lineno}: {exc.msg}") from None
    body, node = tree.body, None
    for part in qualname.split("."):
        node = next((n for n in reversed(body) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                                 ast.ClassDef)) and n.name == part), None)
        if node is None:
            break
        body = node.body
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        raise ConfigError(where, "evolve", f"{ref!r}: no function {qualname!r} at the top level of {rel} "
                          "(expected FILE::function or FILE::Class.method)")
    start = min([d.lineno for d in node.decorator_list] + [node.lineno]) - 1
    line = originals[rel].splitlines()[node.lineno - 1]
    assert node.end_lineno is not None
    return Target(rel, qualname, start, node.end_lineno, line[:node.col_offset])


def _check_disjoint(targets: list[Target], where: str) -> None:
    """Each function once, and none inside another (their spans are replaced independently)."""
    for i, a in enumerate(targets):
        for b in targets[i + 1:]:
            if a.file == b.file and a.start < b.end and b.start < a.end:
                raise ConfigError(where, "evolve", f"{a.ref!r} and {b.ref!r} overlap: name each function once, "
                                  "and not one inside the other")


def _split_ref(ref: str, where: str) -> tuple[str, str]:
    rel, sep, qualname = ref.partition("::")
    if not sep or not rel or not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", qualname):
        raise ConfigError(where, "evolve", f"{ref!r}: expected FILE::function or FILE::Class.method, "
                          "e.g. 'pkg/mod.py::solve'")
    rel = Path(rel).as_posix()
    if Path(rel).is_absolute() or ".." in Path(rel).parts:
        raise ConfigError(where, "evolve", f"{ref!r}: the file must be relative to the repository, inside it")
    return rel, qualname


def _dedent(lines: list[str], indent: str) -> str:
    return "".join(line.removeprefix(indent) for line in lines)


def _indent(text: str, indent: str) -> list[str]:
    lines = text.strip("\n").splitlines(keepends=True)
    lines[-1] = lines[-1] if lines[-1].endswith("\n") else lines[-1] + "\n"
    return [indent + line if line.strip() else line for line in lines]


def _run_git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=60,
                              check=False)
    except FileNotFoundError:
        raise EvolveError("git is not installed: repository tasks need it (e.g. apt-get install git)") from None


def _git(root: Path, *args: str, check: bool = True) -> str:
    done = _run_git(root, *args)
    if done.returncode != 0 and check:
        raise EvolveError(done.stderr.strip() or f"git {' '.join(args)} failed")
    return done.stdout.strip() if done.returncode == 0 else ""


def tracked_files(root: Path, where: str) -> set[str]:
    """The checkout's tracked files (relative, POSIX); refuses a path that is not the top of a git checkout."""
    if not root.is_dir():
        raise ConfigError(where, "repo", f"{root} is not a folder")
    top = _run_git(root, "rev-parse", "--show-toplevel")
    if top.returncode != 0 or Path(top.stdout.strip()).resolve() != root.resolve():
        raise ConfigError(where, "repo", f"{root} is not the top folder of a git checkout (git rev-parse "
                          "--show-toplevel" + (f" says {top.stdout.strip()}" if top.returncode == 0 else " fails")
                          + ")")
    return {name for name in _git(root, "ls-files", "-z").split("\0") if name}


def load_repo_task(data: dict[str, Any], spec_file: Path) -> RepoTask:
    """A `kind: repo` task.yaml's fields (its `repo:` relative to the file's folder)."""
    try:
        spec = RepoTaskSpec.model_validate(data)
    except ValidationError as exc:
        raise config_error_from(exc, str(spec_file)) from None
    repo = (spec_file.parent / spec.repo).resolve()
    return RepoTask(spec.model_copy(update={"repo": str(repo)}), spec_file)


def repo_task_from_flags(repo: Path, evolve: list[str], check: str | None, score: str | None,
                         **fields: Any) -> RepoTask:
    """The `evolve run --repo` form; `fields` are the other spec fields given (objective, direction, ...)."""
    missing = [flag for flag, value in (("--evolve", evolve), ("--check", check), ("--score", score)) if not value]
    if missing:
        raise EvolveError(f"--repo needs {', '.join(missing)} (e.g. --evolve 'pkg/mod.py::function' --check "
                          "'python -m pytest -q' --score 'python bench.py')")
    data = {"repo": str(repo.expanduser().resolve()), "evolve": evolve, "check": check, "score": score,
            **{k: v for k, v in fields.items() if v is not None}}
    try:
        spec = RepoTaskSpec.model_validate(data)
    except ValidationError as exc:
        raise config_error_from(exc, "the command line") from None
    return RepoTask(spec, Path(spec.repo))


def repo_task_from_record(record: dict[str, Any]) -> RepoTask:
    """The task of a stored run, as it was when the run started (its original files, not today's checkout)."""
    spec = RepoTaskSpec.model_validate(record["spec"])
    return RepoTask(spec, Path(record["spec_file"]), originals=record["originals"])


def patch_of_run(row: dict[str, Any], source: str) -> str:
    """The patch of a stored repository run's candidate, against the files as they were when the run started."""
    record = row["environment"].get("repo_task")
    if not record:
        raise EvolveError(f"run {row['id']} is not a repository run (--patch is for runs started with --repo or "
                          "a kind: repo task)")
    originals = record["originals"]  # no checkout needed: the run kept the files as they were
    targets = [_find_target(originals, ref, f"run {row['id']}") for ref in record["spec"]["evolve"]]
    text = FunctionSplice(originals, targets).patch(source)
    if not text:
        raise EvolveError(f"the best candidate of run {row['id']} is the unchanged seed: there is nothing to patch")
    return text
