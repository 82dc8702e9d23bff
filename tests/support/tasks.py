"""Helpers shared by the tests of the built-in tasks: load an evaluator in-process, or run one in the sandbox."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from evaluators.candidate_channel import InProcessCandidate
from evaluators.program import ProgramEvaluator
from evaluators.result import EvalResult
from evolve.task import load_task
from sandbox import get_sandbox

TASKS = Path(__file__).resolve().parents[2] / "tasks"


def load_evaluator(task_dir: Path) -> ModuleType:
    """The task's evaluate.py as a module in this process (to test its logic with InProcessCandidate)."""
    spec = importlib.util.spec_from_file_location(f"{task_dir.name}_evaluate_under_test", task_dir / "evaluate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def with_own_driver(folder: Path, program: str, driver: str) -> InProcessCandidate:
    """`program` beside a driver.py of our own writing in `folder`: a candidate owns its whole process, driver
    included, so this is what a hostile one could answer the evaluator (forged results, bad values)."""
    (folder / "driver.py").write_text(driver)
    return InProcessCandidate(program, task_dir=folder)


def evaluate_in_sandbox(task_dir: Path, source: str | None = None) -> EvalResult:
    """End to end: the candidate (default: the seed) in its own sandbox, the evaluator in another; the
    probes run too (no twin is ever found), so `behaviour_hash` is set where the task has probes."""
    task = load_task(task_dir)
    evaluator = ProgramEvaluator.for_task(task, get_sandbox("process"))
    return evaluator.evaluate(task.seed_source if source is None else source, twin_of=lambda behaviour: None)
