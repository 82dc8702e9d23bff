"""The loop end to end with a deterministic scripted provider (ScriptedProvider), the real sandbox and SQLite."""

import asyncio

import pytest
from conftest import block, make_toy_task

from evolve.llm import LLMEnsemble, LLMError, ScriptedProvider
from evolve.runner import new_run, resume_run


def run_with(task, storage, replies, **settings):
    provider = ScriptedProvider(replies)
    prepared = new_run(task, storage, {"llm_concurrency": 1, "eval_concurrency": 1, **settings},
                       ensemble=LLMEnsemble([(provider, 1.0)]))
    reason = asyncio.run(prepared.controller.run())
    return prepared, provider, reason


class PreparedScriptedProvider(ScriptedProvider):
    """Scripted, plus the optional prepare() hook SDK providers have; records when it ran."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.calls_before_prepare: int | None = None

    async def prepare(self) -> None:
        self.calls_before_prepare = len(self.calls)


def test_the_models_are_prepared_once_before_the_first_proposal(toy_task, storage):
    provider = PreparedScriptedProvider([block("    return 2")])
    prepared = new_run(toy_task, storage, {"iterations": 2, "islands": 1, "llm_concurrency": 1,
                                           "eval_concurrency": 1}, ensemble=LLMEnsemble([(provider, 1.0)]))
    assert asyncio.run(prepared.controller.run()) == "iterations"
    assert provider.calls_before_prepare == 0 and provider.calls  # prepared, then asked


def test_an_internal_error_while_evaluating_one_child_is_stored_and_the_run_goes_on(toy_task, storage):
    provider = ScriptedProvider([block(f"    return {n}") for n in (2, 3)])
    prepared = new_run(toy_task, storage, {"iterations": 2, "islands": 1, "llm_concurrency": 1,
                                           "eval_concurrency": 1}, ensemble=LLMEnsemble([(provider, 1.0)]))
    evaluation = prepared.controller.evaluator
    real, seen = evaluation.evaluate, []

    async def failing_once(source, baseline, twin_of):
        seen.append(source)
        if len(seen) == 2:  # the seed is the first
            raise BrokenPipeError("the worker's pipe broke")
        return await real(source, baseline, twin_of)

    evaluation.evaluate = failing_once
    assert asyncio.run(prepared.controller.run()) == "iterations"
    first, second = children(prepared)
    assert first.status == "crashed" and "BrokenPipeError: the worker's pipe broke" in first.reason
    assert "Traceback" in first.artifacts["traceback"]
    assert second.status == "ok" and second.score == 3.0


def children(prepared):
    return [c for c in prepared.store.iter_candidates(prepared.run_id) if c.edit_kind != "seed"]


def test_run_improves_and_stores_every_candidate_prompt_and_reply(toy_task, storage):
    replies = [block(f"    return {n}") for n in (2, 5, 3)]
    prepared, provider, reason = run_with(toy_task, storage, replies, iterations=3, islands=1)
    assert reason == "iterations"
    kids = children(prepared)
    assert [c.status for c in kids] == ["ok", "ok", "ok"]
    assert [c.score for c in kids] == [2.0, 5.0, 3.0]
    assert prepared.controller.stats.best_score == 5.0
    assert prepared.store.best_candidate(prepared.run_id, maximize=True).score == 5.0
    assert prepared.store.get_run(prepared.run_id)["status"] == "finished"
    for kid in kids:
        [call] = prepared.store.llm_calls_for(kid.id)
        assert call["messages"][0]["role"] == "system" and "value()" in call["messages"][1]["content"]
        assert call["reply"].startswith("Here is a better version")
        assert kid.prompt_tokens > 0 and kid.parent_id is not None and kid.generation >= 1
        assert "# EVOLVE-BLOCK-START" in kid.source  # the fixed markers survive a rewrite


def test_malformed_reply_is_invalid_with_reason_and_repair_is_tried_once(toy_task, storage):
    replies = ["I am not sure what to do.", "Still no code, sorry.", block("    return 7")]
    prepared, provider, _ = run_with(toy_task, storage, replies, iterations=2, islands=1)
    first, second = children(prepared)
    assert first.status == "invalid" and "no code block" in first.reason
    assert len(prepared.store.llm_calls_for(first.id)) == 2  # the reply and one repair attempt
    assert "could not be used" in provider.calls[1][-1]["content"]  # the error was shown to the model
    assert second.status == "ok" and second.score == 7.0
    # the failure is fed back in the next prompt of the same island
    assert "no code block" in provider.calls[2][-1]["content"]


def test_crashing_and_hanging_candidates_are_recorded_and_the_run_goes_on(tmp_path, storage):
    task = make_toy_task(tmp_path / "toy", wall_s=2)
    replies = [block("    raise RuntimeError('boom')"), block("    while True:\n        pass"),
               block("    return 4")]
    prepared, _, reason = run_with(task, storage, replies, iterations=3, islands=1)
    crashed, hung, good = children(prepared)
    assert crashed.status == "crashed" and "RuntimeError: boom" in crashed.reason
    assert "boom" in crashed.artifacts["traceback"]
    assert hung.status == "timeout" and "2 s wall-time limit" in hung.reason
    assert good.status == "ok" and good.score == 4.0 and reason == "iterations"


def test_duplicates_are_rejected_without_evaluation(toy_task, storage):
    replies = [block("    return 2"), block("    # same program, another comment\n    return 2")]
    prepared, _, _ = run_with(toy_task, storage, replies, iterations=2, islands=1)
    first, second = children(prepared)
    assert first.status == "ok"
    assert second.status == "rejected-duplicate" and second.duplicate_of == first.id
    assert second.eval_wall_s == 0.0 and not second.metrics


def test_failed_llm_calls_do_not_burn_iterations(toy_task, storage):
    replies = [LLMError("server", "upstream 500"), block("    return 2"), LLMError("timeout", "slow"),
               block("    return 3")]
    prepared, provider, reason = run_with(toy_task, storage, replies, iterations=2, islands=1)
    assert reason == "iterations" and len(provider.calls) == 4
    assert [c.score for c in children(prepared)] == [2.0, 3.0]
    assert prepared.controller.stats.llm_failures == 2


def test_auth_error_stops_the_run_cleanly(toy_task, storage):
    prepared, _, reason = run_with(toy_task, storage, [LLMError("auth", "bad key")], iterations=5)
    assert "auth" in reason and prepared.store.get_run(prepared.run_id)["status"] == "stopped"
    assert children(prepared) == []


def test_target_score_and_resume_with_more_iterations(toy_task, storage):
    prepared, _, reason = run_with(toy_task, storage, [block("    return 9")], iterations=5, target_score=8)
    assert reason == "target score" and len(children(prepared)) == 1
    provider = ScriptedProvider([block("    return 11"), block("    return 12")])
    resumed = resume_run(prepared.run_id, storage, {"iterations": 3, "target_score": 100},
                         ensemble=LLMEnsemble([(provider, 1.0)]))
    assert asyncio.run(resumed.controller.run()) == "iterations"
    assert [c.score for c in children(resumed)] == [9.0, 11.0, 12.0]
    assert resumed.store.count_candidates(prepared.run_id) == 4  # seed + 3, nothing redone


def test_same_seed_same_run(tmp_path):
    """With a deterministic model and one proposal at a time, a seeded run is reproducible."""
    def script(messages, index):
        return block(f"    return {len(messages[-1]['content']) % 97 + index}")

    results = []
    for name in ("a", "b"):
        task = make_toy_task(tmp_path / name)
        prepared, _, _ = run_with(task, f"sqlite:///{tmp_path / name}.db", script, iterations=6, islands=2, seed=3)
        kids = children(prepared)
        assert all(c.status == "ok" for c in kids), [(c.status, c.reason) for c in kids]
        results.append([(c.parent_id is not None, c.score, c.island) for c in kids])
    assert results[0] == results[1]


def test_seed_that_fails_its_evaluation_is_a_clear_error(tmp_path, storage):
    task = make_toy_task(tmp_path / "toy")
    (task / "program.py").write_text("def value():\n    return 1 / 0\n")
    from evolve.controller import SeedError

    with pytest.raises(SeedError, match="ZeroDivisionError"):
        run_with(task, storage, [block("    return 2")], iterations=1)


def test_openai_compatible_server_faults_are_retried_and_the_run_completes(toy_task, storage):
    """Real HTTP: 429, 5xx, a garbage body, a dropped connection and a too-slow answer are retried (or recorded
    as failed calls) and every iteration still ends as a stored child."""
    from tests.support.chat_server import ChatServer

    faults = ["429", None, "500", "garbage", None, "drop", "slow", None, "503", "no_choices", None]
    with ChatServer(replies=lambda body, i: block(f"    return {i + 2}"), faults=faults, slow_s=3.0) as srv:
        model = {"provider": "openai", "name": "stub", "base_url": srv.openai_base_url, "timeout_s": 1.0,
                 "max_retries": 2, "backoff_base_s": 0.01, "backoff_max_s": 0.05}
        prepared = new_run(toy_task, storage, {"models": [model], "iterations": 4, "islands": 1,
                                               "llm_concurrency": 1, "eval_concurrency": 1})
        reason = asyncio.run(prepared.controller.run())
        sent = len(srv.chat_requests)
    assert reason == "iterations"
    kids = children(prepared)
    assert len(kids) == 4 and all(k.status == "ok" for k in kids)
    assert sent == len(faults)  # every fault cost one more request, none was fatal
    failed = prepared.controller.stats.llm_failures
    stored_calls = sum(len(prepared.store.llm_calls_for(k.id)) for k in kids)
    assert stored_calls == 4 and failed == 0  # retries happen inside one call, within max_retries


def test_functional_twins_reuse_the_score_without_a_full_evaluation(toy_task, storage):
    """Different code, same answers on the task's probes: the second child reuses the first one's score."""
    replies = [block("    return 2"), block("    x = 1\n    return x + 1"), block("    return 3")]
    prepared, _, _ = run_with(toy_task, storage, replies, iterations=3, islands=1)
    first, twin, other = children(prepared)
    assert first.status == "ok" and first.behaviour_hash and first.duplicate_of is None
    assert twin.status == "ok" and twin.score == 2.0 and twin.duplicate_of == first.id
    assert twin.behaviour_hash == first.behaviour_hash and "behaves like candidate" in twin.reason
    assert other.behaviour_hash != first.behaviour_hash and other.score == 3.0
    assert prepared.controller.stats.twins == 1
    resumed = resume_run(prepared.run_id, storage, {"iterations": 3},
                         ensemble=LLMEnsemble([(ScriptedProvider([block("    return 9")]), 1.0)]))
    resumed.controller._restore()
    assert resumed.controller.stats.twins == 1 and first.behaviour_hash in resumed.controller.behaviours
