"""Repository tasks end to end: a real git checkout of examples/slowstats, the real sandbox, SQLite, real `git
apply`; the model is scripted (ScriptedProvider) to propose a faster correct version and a broken one."""

from __future__ import annotations

import asyncio
import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evolve.cli import app
from evolve.errors import EvolveError
from evolve.llm import LLMEnsemble, ScriptedProvider
from evolve.repo_task import RepoEditError, RepoTask, patch_of_run, repo_task_from_flags
from evolve.runner import new_run, resume_run
from evolve.store import Store
from evolve.task import load_task

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "slowstats"
TARGET = "slowstats/pairs.py::count_pairs_with_sum"
CHECK = "python -m pytest -q -p no:cacheprovider tests"
FAST = """# evolve: slowstats/pairs.py::count_pairs_with_sum
def count_pairs_with_sum(values: list[int], target: int) -> int:
    \"\"\"How many index pairs i < j have values[i] + values[j] == target.\"\"\"
    seen: dict[int, int] = {}
    count = 0
    for v in values:
        count += seen.get(target - v, 0)
        seen[v] = seen.get(v, 0) + 1
    return count
"""
COUNTER = """# evolve: slowstats/pairs.py::count_pairs_with_sum
def count_pairs_with_sum(values: list[int], target: int) -> int:
    from collections import Counter

    counts = Counter(values)
    total = 0
    for v, n in counts.items():
        w = target - v
        if w == v:
            total += n * (n - 1) // 2
        elif v < w:
            total += n * counts.get(w, 0)
    return total
"""
BROKEN = FAST.replace("count += seen.get(target - v, 0)", "count += seen.get(target - v, 0) + 1")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                          capture_output=True, text=True, check=True).stdout


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A fresh git checkout of the example package, with an untracked file that children must not get."""
    repo = tmp_path / "slowstats"
    shutil.copytree(EXAMPLE, repo)
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "seed")
    (repo / "untracked_secret.txt").write_text("not tracked\n")
    return repo


def tree_hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def fenced(code: str) -> str:
    return f"Here it is:\n```python\n{code}```\n"


def test_a_run_keeps_the_faster_child_refuses_the_broken_one_and_exports_a_patch_git_applies(checkout, storage,
                                                                                            tmp_path):
    before = tree_hashes(checkout)
    task = repo_task_from_flags(checkout, [TARGET], CHECK, "python bench.py", objective="time_s",
                                direction="minimize")
    provider = ScriptedProvider([fenced(BROKEN), fenced(FAST)])
    prepared = new_run(task, storage, {"iterations": 2, "islands": 1, "llm_concurrency": 1, "eval_concurrency": 1,
                                       "edit_mode": "rewrite"}, ensemble=LLMEnsemble([(provider, 1.0)]))
    assert asyncio.run(prepared.controller.run()) == "iterations"
    store = Store(storage)
    rows = list(store.iter_candidates(prepared.run_id))
    seed = next(c for c in rows if c.edit_kind == "seed")
    children = sorted((c for c in rows if c.edit_kind != "seed"), key=lambda c: c.seq)
    assert seed.status == "ok" and seed.metrics["pairs"] == 1133
    broken, fast = children
    assert broken.status == "invalid" and "the check command" in broken.reason
    assert "FAILED tests/test_pairs.py" in broken.reason  # the failing tests, quoted for the next prompt
    assert "assert" in broken.artifacts["check_output"]
    # the broken child's failure is the feedback of the next proposal
    assert "FAILED tests/test_pairs.py" in provider.calls[1][-1]["content"]
    # the model saw the rest of the file as context, not as something to edit
    assert "def describe(values" in provider.calls[0][0]["content"]
    assert fast.status == "ok" and fast.score < seed.score / 5
    assert tree_hashes(checkout) == before  # the user's checkout was only read

    result = CliRunner().invoke(app, ["best", prepared.run_id, "--patch", "--storage", storage,
                                      "--out", str(tmp_path / "fast.patch")])
    assert result.exit_code == 0, result.output
    git(checkout, "apply", "--check", str(tmp_path / "fast.patch"))
    git(checkout, "apply", str(tmp_path / "fast.patch"))
    assert "seen.get(target - v, 0)" in (checkout / "slowstats/pairs.py").read_text()
    assert git(checkout, "diff", "--stat").count("|") == 1  # one file changed, nothing else
    tests = subprocess.run(["python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=checkout,
                           capture_output=True, text=True, check=False)
    assert tests.returncode == 0, tests.stdout

    # resumed after the checkout changed (the patch is applied): children still start from the run's originals
    resumed = resume_run(prepared.run_id, storage, {"iterations": 3},
                         ensemble=LLMEnsemble([(ScriptedProvider([fenced(COUNTER)]), 1.0)]))
    assert asyncio.run(resumed.controller.run()) == "iterations" and isinstance(resumed.task, RepoTask)
    last = max(store.iter_candidates(prepared.run_id), key=lambda c: c.seq)
    assert last.source == COUNTER and last.status == "ok" and last.score < seed.score / 5, last.reason
    assert resumed.task.originals == task.originals


def test_patch_is_only_for_repository_runs():
    with pytest.raises(EvolveError, match="is not a repository run"):
        patch_of_run({"id": "r1", "environment": {"python": "3.11"}}, "def f():\n    pass\n")


def test_a_method_in_a_class_is_spliced_back_with_its_indentation(checkout):
    (checkout / "slowstats/acc.py").write_text(
        "class Acc:\n    @staticmethod\n    def total(xs):\n        s = 0\n        for x in xs:\n"
        "            s += x\n        return s\n\n    def other(self):\n        return 1\n", encoding="utf-8")
    git(checkout, "add", "-A")
    task = repo_task_from_flags(checkout, ["slowstats/acc.py::Acc.total", TARGET], "true", "echo score=1")
    assert task.seed_source.startswith("# evolve: slowstats/acc.py::Acc.total\n@staticmethod\ndef total(xs):")
    files = task.apply(task.seed_source.replace("    s = 0\n    for x in xs:\n        s += x\n    return s",
                                                "    return sum(xs)"))
    assert files["slowstats/acc.py"].startswith("class Acc:\n    @staticmethod\n    def total(xs):\n"
                                                "        return sum(xs)\n\n    def other(self):")
    with pytest.raises(RepoEditError, match="found slowstats/acc.py::Acc.total"):
        task.apply(task.seed_source.split("\n\n# evolve: slowstats/pairs.py")[0])
    with pytest.raises(RepoEditError, match="exactly one `def total"):
        task.apply(task.seed_source.replace("def total(xs):", "def renamed(xs):"))


def test_the_task_yaml_form_loads_the_same_task(checkout):
    task = load_task(checkout)
    assert isinstance(task, RepoTask) and task.spec.direction == "minimize" and task.spec.objective == "time_s"
    assert [t.ref for t in task.targets] == [TARGET] and task.root == checkout.resolve()


@pytest.mark.parametrize(("change", "message"), [
    (lambda repo: {"repo": repo / "slowstats"}, "is not the top folder of a git checkout"),
    (lambda repo: {"evolve": ["slowstats/nope.py::f"]}, "'slowstats/nope.py' is not a file tracked by git"),
    (lambda repo: {"evolve": ["slowstats/pairs.py::nope"]}, "no function 'nope' at the top level"),
    (lambda repo: {"evolve": ["slowstats/pairs.py"]}, "expected FILE::function"),
    (lambda repo: {"max_repo_mb": 0.001}, "over the 0.001 MB"),
    (lambda repo: {"evolve": [TARGET, TARGET]}, "overlap: name each function once"),
    (lambda repo: {"evolve": ["linked.py::count_pairs_with_sum"]}, "'linked.py' is a symbolic link"),
])
def test_bad_input_is_one_clear_line_before_anything_runs(checkout, change, message):
    (checkout / "linked.py").symlink_to(checkout / "slowstats" / "pairs.py")
    git(checkout, "add", "linked.py")
    args = {"repo": checkout, "evolve": [TARGET], "check": CHECK, "score": "python bench.py", **change(checkout)}
    with pytest.raises(EvolveError, match=message):
        repo_task_from_flags(args.pop("repo"), args.pop("evolve"), args.pop("check"), args.pop("score"), **args)


@pytest.mark.parametrize(("check", "score", "message"), [
    ("python -m pytest -q -p no:cacheprovider tests/test_missing.py", "python bench.py",
     "the check command .* failed on the unchanged checkout"),
    ("true", "echo hello", "reported no 'time_s' metric on the unchanged checkout"),
])
def test_a_seed_that_fails_its_check_or_prints_no_metric_stops_before_any_model_call(checkout, storage, check,
                                                                                      score, message):
    result = CliRunner().invoke(app, ["run", "--repo", str(checkout), "--evolve", TARGET, "--check", check,
                                      "--score", score, "--objective", "time_s", "--minimize", "--storage", storage,
                                      "--model", "scripted:random-edits", "-q"])
    assert result.exit_code == 2
    error = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error) == 1 and re.search(message, error[0]), result.output
    store = Store(storage)
    (run,) = store.list_runs()
    assert store.usage(run["id"]).tokens == 0 and run["status"] == "failed"  # no model call was made


def test_metrics_contract_json_line_key_value_lines_or_metrics_file():
    from evaluators.repo import parse_metrics

    assert parse_metrics("warming up\n{\"time_s\": 0.5, \"note\": \"x\"}\n", None) == {"time_s": 0.5}
    assert parse_metrics("time_s = 0.25\nruns=3\nnoise\n", None) == {"time_s": 0.25, "runs": 3.0}
    assert parse_metrics("{\"time_s\": 9}", b"{\"time_s\": 1.5}") == {"time_s": 1.5}
    assert parse_metrics("nothing here\n", None) == {}


@pytest.mark.parametrize("backend", ["process", "warm"])
def test_a_metrics_file_comes_back_from_each_backend_and_a_failing_score_is_invalid(checkout, backend):
    from evaluators.repo import RepoEvaluator
    from sandbox import get_sandbox

    try:
        sandbox = get_sandbox(backend)
    except RuntimeError as exc:  # warm needs root
        pytest.skip(f"{backend} sandbox unavailable here: {exc}")
    writes = repo_task_from_flags(checkout, [TARGET], "true", "echo '{\"time_s\": 2}' > \"$EVOLVE_METRICS\"; echo x",
                                  objective="time_s")
    fails = repo_task_from_flags(checkout, [TARGET], "true", "echo time_s=1; exit 3", objective="time_s")
    for task, status, expected in ((writes, "ok", {"time_s": 2.0}), (fails, "invalid", {})):
        evaluator = RepoEvaluator.for_task(task, sandbox)
        try:
            result = evaluator.evaluate(task.seed_source)
        finally:
            evaluator.close()
        assert (result.status, result.metrics) == (status, expected), result.reason
    assert "the score command `echo time_s=1; exit 3` failed on the unchanged checkout (exit 3)" in result.reason
