"""The cache_eviction task (tasks/cache_eviction): the evaluator simulates the cache and checks every victim."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evaluators.candidate_channel import CandidateError, InProcessCandidate
from evolve.task import load_task
from tests.support.tasks import evaluate_in_sandbox, load_evaluator, with_own_driver

TASK_DIR = Path(__file__).resolve().parents[1] / "tasks" / "cache_eviction"
SEED = (TASK_DIR / "initial_program.py").read_text()
LRU = 'return int(np.argmin(cache["last_access"]))'
# Newcomers on probation: evict the newest entry not requested again since it came in, else LRU.
PROBATION = """
once = cache["count"] == 1
if once.any():
    return int(np.argmax(np.where(once, cache["inserted"], -1)))
return int(np.argmin(cache["last_access"]))
""".replace("\n", "\n    ").strip()
LFU = 'return int(np.lexsort((cache["last_access"], cache["count"]))[0])'
FIFO = 'return int(np.argmin(cache["inserted"]))'


@pytest.fixture(scope="module")
def ev():
    return load_evaluator(TASK_DIR)


def _policy(body: str) -> InProcessCandidate:
    return InProcessCandidate(SEED.replace(LRU, body), task_dir=TASK_DIR)


def _forged(tmp_path: Path, body: str) -> InProcessCandidate:
    """The seed with a driver whose advance() returns `body`."""
    return with_own_driver(tmp_path, SEED, "def start(program, capacity):\n    pass\n\n"
                                             f"def advance(program, now, requests):\n    return {body}\n")


def test_task_yaml_loads(ev):
    spec = load_task(TASK_DIR).spec
    assert (spec.objective, spec.direction, spec.interface) == ("hit_rate", "maximize", "call")
    assert spec.candidate_files == ["driver.py"]
    assert "# EVOLVE-BLOCK-START" in SEED and LRU in SEED
    optimum = np.mean([ev.belady_hits(t, ev.CAPACITY) / len(t) for t in ev.TRACES.values()])
    assert f"{optimum:.5f}" == "0.61875" and "0.61875" in spec.description


def test_seed_scores_its_documented_value(ev):
    result = ev.evaluate(InProcessCandidate(SEED, task_dir=TASK_DIR))
    assert "error" not in result
    assert result["hit_rate"] == load_task(TASK_DIR).spec.seed_score
    assert f"{result['hit_rate']:.4f}" in (TASK_DIR / "README.md").read_text()


def test_a_better_policy_scores_better_and_none_beats_belady(ev):
    seed = ev.evaluate(InProcessCandidate(SEED, task_dir=TASK_DIR))
    better = ev.evaluate(_policy(PROBATION))
    assert better["hit_rate"] > seed["hit_rate"] + 0.1
    for result in (seed, better, ev.evaluate(_policy(LFU)), ev.evaluate(_policy(FIFO))):
        for name, trace in ev.TRACES.items():
            assert result[f"hit_rate_{name}"] <= ev.belady_hits(trace, ev.CAPACITY) / len(trace)


def test_the_policy_never_sees_a_request_before_its_decision(ev):
    seed = InProcessCandidate(SEED, task_dir=TASK_DIR)
    ends: list[int] = []

    class Recording:
        def call(self, name, *args):
            if name == "driver:advance":
                now, requests = args
                assert now == (ends[-1] if ends else 0)  # consecutive pieces of the trace
                ends.append(now + len(requests))
            return seed.call(name, *args)

    trace = ev.TRACES["zipf"][:500]
    ev.candidate_hits(Recording(), trace, 16)
    assert [end - 1 for end in ends] == _lru_decisions(trace, 16)  # each piece ends where a victim is due


def _lru_decisions(trace: list[int], capacity: int) -> list[int]:
    """The requests of an LRU cache that miss on a full cache."""
    recent: dict[int, None] = {}
    decisions = []
    for i, key in enumerate(trace):
        if key not in recent and len(recent) == capacity:
            decisions.append(i)
            del recent[next(iter(recent))]
        recent.pop(key, None)
        recent[key] = None
    return decisions


@pytest.mark.parametrize("body, reason", [
    ('{"hit_rate": 1.0}', "is not in the cache"),  # a claimed score instead of a victim
    ("requests[-1]", "is not in the cache"),  # the requested key itself
    ("None", "is not in the cache"),
    ("True", "is not in the cache"),
])
def test_forged_victims_are_rejected(ev, tmp_path, body, reason):
    result = ev.evaluate(_forged(tmp_path, body))
    assert reason in result["error"] and "hit_rate" not in result


@pytest.mark.parametrize("body", ["raise ValueError('boom')", "return 64", "return 1.5"])
def test_a_failing_policy_raises_candidate_error(ev, body):
    with pytest.raises(CandidateError):
        ev.evaluate(_policy(body))


def test_probes_are_small_deterministic_and_answered_by_the_seed(ev):
    probes = ev.probes()
    assert 1 <= len(probes) <= 10
    seed = InProcessCandidate(SEED, task_dir=TASK_DIR)
    for (name, args), (again_name, again) in zip(probes, ev.probes()):
        assert name == again_name == "choose_victim" and args[1:] == again[1:]
        assert all(np.array_equal(args[0][k], again[0][k]) for k in args[0])
        assert seed.call(name, *args) == int(np.argmin(args[0]["last_access"]))


def test_seed_in_the_real_sandbox():
    """End to end: the seed in its own sandbox, the evaluator in another, talking over the channel."""
    spec = load_task(TASK_DIR).spec
    result = evaluate_in_sandbox(TASK_DIR)
    assert result.status == "ok", result.reason
    assert result.metrics[spec.objective] == spec.seed_score
    assert result.behaviour_hash
