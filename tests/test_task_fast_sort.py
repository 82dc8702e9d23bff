"""The fast_sort task (tasks/fast_sort): every comparison is answered and counted by the evaluator."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from evaluators.candidate_channel import CandidateError, InProcessCandidate
from evolve.task import load_task
from tests.support.tasks import evaluate_in_sandbox, load_evaluator, with_own_driver

TASK_DIR = Path(__file__).resolve().parents[1] / "tasks" / "fast_sort"
SEED = (TASK_DIR / "initial_program.py").read_text()
BINARY_INSERTION = """
def sort(xs, less):
    out = []
    for x in xs:
        lo, hi = 0, len(out)
        while lo < hi:
            mid = (lo + hi) // 2
            if less(x, out[mid]):
                hi = mid
            else:
                lo = mid + 1
        out.insert(lo, x)
    return out
"""
MERGE = """
def sort(xs, less):
    if len(xs) <= 1:
        return list(xs)
    a, b = sort(xs[:len(xs) // 2], less), sort(xs[len(xs) // 2:], less)
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        if less(b[j], a[i]):
            out.append(b[j])
            j += 1
        else:
            out.append(a[i])
            i += 1
    return out + a[i:] + b[j:]
"""
FORD_JOHNSON = """
def sort(xs, less):
    n = len(xs)
    if n <= 1:
        return list(xs)
    partner = {}  # larger item of each pair -> its smaller partner
    for i in range(0, n - 1, 2):
        a, b = (xs[i], xs[i + 1]) if less(xs[i], xs[i + 1]) else (xs[i + 1], xs[i])
        partner[b] = a
    chain = sort(list(partner), less)
    pend = [partner[x] for x in chain] + ([xs[-1]] if n % 2 else [])
    bounds = list(chain) + [None]  # pend[j] is smaller than bounds[j]; the odd one out has no bound
    chain.insert(0, pend[0])
    done, t_prev, t, k = 1, 1, 1, 1
    while done < len(pend):  # insert in Jacobsthal groups, each group from its last item down
        t_prev, t = t, (2 ** (k + 2) + (-1) ** (k + 1)) // 3
        k += 1
        for j in range(min(t, len(pend)) - 1, t_prev - 1, -1):
            lo, hi = 0, len(chain) if bounds[j] is None else chain.index(bounds[j])
            while lo < hi:
                mid = (lo + hi) // 2
                if less(pend[j], chain[mid]):
                    hi = mid
                else:
                    lo = mid + 1
            chain.insert(lo, pend[j])
            done += 1
    return chain
"""


@pytest.fixture(scope="module")
def ev():
    return load_evaluator(TASK_DIR)


def _sorter(body: str) -> InProcessCandidate:
    return InProcessCandidate(f"def sort(xs, less):\n    {body}\n", task_dir=TASK_DIR)


def _forged(tmp_path: Path, start_body: str) -> InProcessCandidate:
    """The seed with a driver whose start() returns `start_body`."""
    return with_own_driver(tmp_path, SEED, f"def start(program, n):\n    return {start_body}\n")


def test_task_yaml_loads():
    spec = load_task(TASK_DIR).spec
    assert (spec.objective, spec.direction, spec.interface) == ("comparison_ratio", "minimize", "call")
    assert spec.candidate_files == ["driver.py"]
    assert "# EVOLVE-BLOCK-START" in SEED and "less(x, out[i - 1])" in SEED


def test_seed_scores_its_documented_value(ev):
    result = ev.evaluate(InProcessCandidate(SEED, task_dir=TASK_DIR))
    assert "error" not in result
    assert result["comparison_ratio"] == load_task(TASK_DIR).spec.seed_score
    assert f"{result['comparison_ratio']:.4f}" in (TASK_DIR / "README.md").read_text()


@pytest.mark.parametrize("program, expected", [(BINARY_INSERTION, 1.0026), (MERGE, 0.8943), (FORD_JOHNSON, 0.9515)])
def test_better_sorts_score_better(ev, program, expected):
    result = ev.evaluate(InProcessCandidate(program, task_dir=TASK_DIR))
    assert result["comparison_ratio"] == pytest.approx(expected, abs=1e-4)
    assert f"{expected:.4f}" in (TASK_DIR / "README.md").read_text()


def test_ford_johnson_meets_its_worst_case_bound(ev):
    """Merge insertion never needs more than sum ceil(log2(3k/4)) comparisons: the counting is exact."""
    candidate = InProcessCandidate(FORD_JOHNSON, task_dir=TASK_DIR)
    for kind, values in ev.INPUTS:
        n = len(values)
        assert ev.count_comparisons(candidate, values) <= sum(math.ceil(math.log2(3 * k / 4)) for k in range(1, n + 1))


@pytest.mark.parametrize("start_body, reason", [
    ('{"result": list(range(n))}', "not sorted|guessed"),  # claims the input was sorted, with no comparison
    ('{"comparisons": 0}', "instead of a comparison or a result"),
    ('{"compare": [0, n]}', "must compare two of the items"),
    ('{"result": [0] * n}', "each of its"),
])
def test_forged_drivers_are_rejected(ev, tmp_path, start_body, reason):
    result = ev.evaluate(_forged(tmp_path, start_body))
    assert re.search(reason, result["error"]) and "comparison_ratio" not in result


def test_a_guessed_order_is_rejected_even_when_right(ev):
    untouched = _sorter("return list(xs)")
    with pytest.raises(ev.Invalid, match="guessed"):
        ev.count_comparisons(untouched, [1, 2, 3, 4, 5])
    with pytest.raises(ev.Invalid, match="guessed"):  # one comparison too few to know the order
        ev.count_comparisons(_sorter("less(xs[0], xs[1])\n    return list(xs)"), [1, 2, 3])
    assert ev.count_comparisons(InProcessCandidate(SEED, task_dir=TASK_DIR), [1, 2, 3, 4, 5]) == 4


def test_ties_need_proof_too(ev):
    seed = InProcessCandidate(SEED, task_dir=TASK_DIR)
    assert ev.count_comparisons(seed, [2, 2, 2]) == 2
    with pytest.raises(ev.Invalid, match="guessed"):
        ev.count_comparisons(_sorter("less(xs[0], xs[1])\n    return list(xs)"), [2, 2, 2])


def test_repeated_comparisons_are_capped(ev):
    with pytest.raises(ev.Invalid, match="more than n"):
        ev.count_comparisons(_sorter("[less(xs[0], xs[1]) for _ in range(11)]\n    return xs"), [0, 1, 2, 3, 4])


@pytest.mark.parametrize("body", ["raise ValueError('boom')", "less(xs[0], xs[1])\n    raise ValueError('late')",
                                  "return iter(xs)"])
def test_a_failing_sort_raises_candidate_error(ev, body):
    with pytest.raises(CandidateError):
        ev.evaluate(_sorter(body))


def test_probes_are_small_deterministic_and_answered_by_the_seed(ev):
    probes = ev.probes()
    assert probes == ev.probes() and 1 <= len(probes) <= 10
    seed = InProcessCandidate(SEED, task_dir=TASK_DIR)
    assert [seed.call(name, *args) for name, args in probes[:2]] == [
        {"asked": [[1, 0]], "result": [1, 0]},
        {"asked": [[1, 0], [2, 0], [2, 1]], "result": [1, 2, 0]},
    ]


def test_seed_in_the_real_sandbox():
    """End to end: the seed in its own sandbox, the evaluator in another, talking over the channel."""
    spec = load_task(TASK_DIR).spec
    result = evaluate_in_sandbox(TASK_DIR)
    assert result.status == "ok", result.reason
    assert result.metrics[spec.objective] == spec.seed_score
    assert result.behaviour_hash
