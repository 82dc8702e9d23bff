"""Each built-in task with a held-out test set: its `evaluate_test` scores the seed in the real sandbox (through
the same evaluator server as evolution, on the test split), and the test instances differ from the dev ones."""

from __future__ import annotations

import pytest

from evaluators.program import ProgramEvaluator
from evolve.evaluation import defines_function
from evolve.task import load_task
from sandbox import get_sandbox
from tests.support.tasks import TASKS

WITH_TEST_SETS = ("bin_packing", "tsp_construction", "symbolic_regression", "optimizer_discovery",
                  "cache_eviction", "fast_sort")


def test_the_tasks_with_held_out_sets_are_exactly_these():
    have = {p.name for p in TASKS.iterdir() if (p / "evaluate.py").is_file()
            and defines_function(p / "evaluate.py", "evaluate_test")}
    assert have == set(WITH_TEST_SETS)


@pytest.mark.parametrize("name", WITH_TEST_SETS)
def test_the_seed_scores_on_the_held_out_split_in_the_sandbox(name):
    task = load_task(TASKS / name)
    dev = ProgramEvaluator.for_task(task, get_sandbox("process"))
    test = dev.variant(split="test")
    try:
        on_dev, on_test = dev.evaluate(task.seed_source), test.evaluate(task.seed_source)
    finally:
        dev.close()
        test.close()
    objective = task.spec.objective
    assert on_dev.status == "ok" and on_test.status == "ok", (on_dev.reason, on_test.reason)
    assert on_dev.metrics[objective] == pytest.approx(task.spec.seed_score)
    # other instances: a different score, of the same order (drawn the same way)
    assert on_test.metrics[objective] != on_dev.metrics[objective]
    assert abs(on_test.metrics[objective] - on_dev.metrics[objective]) < 0.5 * abs(on_dev.metrics[objective]) + 0.1
