"""Prompt evaluation with a scripted task model, a real SQLite store and the real answer extraction."""

import asyncio

import pytest

from evaluators.answers import make_judge
from evaluators.prompt import PromptEvaluator
from evolve.candidate import Candidate
from evolve.examples import Example
from evolve.llm import LLMError, ScriptedProvider
from evolve.store import Store
from evolve.task import load_task
from tests.support.prompt_tasks import doubler, make_prompt_task

DOUBLE = "Double the number.\n{input}\nAnswer:"
CAREFUL = "Double the number carefully.\n{input}\nAnswer:"


@pytest.fixture
def task(tmp_path):
    return load_task(make_prompt_task(tmp_path / "doubling"))


def evaluator(task, store, model, **kw) -> PromptEvaluator:
    answer = task.spec.prompt.answer
    return PromptEvaluator(model=model, dev=task.dev, test=task.test, judge=make_judge(answer.extract),
                           placeholder="{input}", objective="accuracy", store=store, minibatch=3, **kw)


def scored(source: str, score: float) -> Candidate:
    return Candidate(run_id="r", source=source, score=score)


def test_scores_the_dev_split_and_caches_every_answer(task, tmp_path):
    store, model = Store(str(tmp_path / "e.db")), ScriptedProvider(doubler)
    result = asyncio.run(evaluator(task, store, model).evaluate(DOUBLE, None))
    assert result.status == "ok" and result.metrics["accuracy"] == 0.5
    assert result.metrics["task_calls"] == 8 and result.metrics["cache_hits"] == 0
    assert "correct 4" in result.artifacts["summary"] and "wrong 4" in result.artifacts["summary"]
    # asked again, by a new evaluator on the reopened store: every answer comes from the cache
    again = asyncio.run(evaluator(task, Store(str(tmp_path / "e.db")), model).evaluate(DOUBLE, None))
    assert len(model.calls) == 8
    assert again.metrics["accuracy"] == 0.5 and again.metrics["task_calls"] == 0 and again.metrics["cache_hits"] == 8


def test_cache_is_keyed_by_model_and_settings(task, tmp_path):
    store, model = Store(str(tmp_path / "e.db")), ScriptedProvider(doubler)
    asyncio.run(evaluator(task, store, model).evaluate(DOUBLE, None))
    asyncio.run(evaluator(task, store, model, max_tokens=32).evaluate(DOUBLE, None))
    asyncio.run(evaluator(task, store, model, model_key="other-server").evaluate(DOUBLE, None))
    assert len(model.calls) == 24


def test_a_child_that_does_not_beat_its_parent_on_the_minibatch_is_not_fully_scored(task, tmp_path):
    store, model = Store(str(tmp_path / "e.db")), ScriptedProvider(doubler)
    ev = evaluator(task, store, model)
    parent_result = asyncio.run(ev.evaluate(CAREFUL, None))  # as the loop does: the parent was fully scored
    assert parent_result.metrics["accuracy"] == 1.0 and len(model.calls) == 8
    child = asyncio.run(ev.evaluate(DOUBLE, scored(CAREFUL, 1.0)))
    assert child.status == "ok" and child.stage == 1
    assert "accuracy" not in child.metrics  # a minibatch score never competes with whole-split scores
    assert child.metrics["task_calls"] == 3 and child.metrics["cache_hits"] == 3  # the parent's answers: cached
    assert child.metrics["examples_skipped"] == 5 and len(model.calls) == 11
    assert "not above its parent" in child.reason


def test_a_child_that_beats_its_parent_is_scored_on_the_whole_dev_split(task, tmp_path):
    store, model = Store(str(tmp_path / "e.db")), ScriptedProvider(doubler)
    ev = evaluator(task, store, model, seed=3)
    asyncio.run(ev.evaluate(DOUBLE, None))
    minibatch_ids = {ex.id for ex in ev._minibatch(CAREFUL)}
    assert any(int(i[1:]) % 2 for i in minibatch_ids), "the seed must draw an odd n for the parent to lose"
    child = asyncio.run(ev.evaluate(CAREFUL, scored(DOUBLE, 0.5)))
    assert child.stage == 0 and child.metrics["accuracy"] == 1.0
    assert child.metrics["minibatch_score"] > child.metrics["parent_minibatch_score"]
    assert child.metrics["task_calls"] == 8 and child.metrics["examples_skipped"] == 0


def test_bad_answers_and_model_errors_are_recorded_per_example_and_scoring_goes_on(task, tmp_path):
    def flaky(messages, index):
        content = messages[-1]["content"]
        if "n=1\n" in content:
            raise LLMError("server", "upstream 502")
        if "n=2\n" in content:
            return "I'm sorry, I cannot help with that."
        if "n=3\n" in content:
            return "no idea"
        if "n=4\n" in content:
            return ""
        return doubler(messages, index)

    store = Store(str(tmp_path / "e.db"))
    result = asyncio.run(evaluator(task, store, ScriptedProvider(flaky)).evaluate(DOUBLE, None))
    assert result.status == "ok" and result.metrics["accuracy"] == 2 / 8  # n=6 and n=8 are right
    notes = {r["id"]: r["note"] for r in __import__("json").loads(result.artifacts["examples"])}
    assert notes["d1"].startswith("error: [server] upstream 502")
    assert (notes["d2"], notes["d3"], notes["d4"]) == ("refused", "unparsable", "empty")
    assert result.metrics["answered"] == 4 / 8
    # the failed call was not cached: asked again, it is retried (and the cached answers are not)
    model = ScriptedProvider(doubler)
    asyncio.run(evaluator(task, store, model).evaluate(DOUBLE, None))
    assert len(model.calls) == 1


def test_a_task_model_that_fails_on_every_example_crashes_the_evaluation(task, tmp_path):
    model = ScriptedProvider([LLMError("auth", "bad key")])
    result = asyncio.run(evaluator(task, Store(str(tmp_path / "e.db")), model).evaluate(DOUBLE, None))
    assert result.status == "crashed" and "failed on every example" in result.reason and "bad key" in result.reason


def test_conclude_scores_seed_and_best_on_the_test_split_once_each(task, tmp_path):
    store, model = Store(str(tmp_path / "e.db")), ScriptedProvider(doubler)
    ev = evaluator(task, store, model)
    seed, best = scored(task.seed_source, 0.0), scored(CAREFUL, 1.0)
    scores = asyncio.run(ev.conclude([seed], best))
    by = {(s.role, s.split): s for s in scores}
    assert by["seed", "test"].score == 0.0 and by["best", "test"].score == 1.0
    assert by["best", "dev"].score == 1.0 and by["seed", "test"].examples == 4
    assert by["best", "test"].task_calls == 4 and len(model.calls) == 8
    assert all("n=10" in call[-1]["content"] for call in model.calls)  # only test inputs were asked


@pytest.mark.parametrize("extract,output,target,expected", [
    ("number", "So 3 + 4 = 7 apples. The answer is 7.", "7", ("7", "correct")),
    ("number", "Answer: 12 + 30 = 42", "42", ("42", "correct")),
    ("number", "She pays $1,250 in total.", "1250", ("1250", "correct")),
    ("number", "I cannot answer that, I am sorry.", "3", (None, "refused")),
    ("label", "Positive. The review praises the screen.", "positive", ("positive", "correct")),
    ("label", "It mentions a negative part, but the answer is positive", "positive", ("positive", "correct")),
    ("label", "The screen is dull, so negative", "positive", ("negative", "wrong")),
    ("label", "It is hard to say.", "positive", (None, "unparsable")),
    ("exact", "Answer: Paris.", "paris", ("Paris.", "correct")),
])
def test_answer_extraction(extract, output, target, expected):
    judge = make_judge(extract, labels={"positive": ["positive"], "negative": ["negative"]})
    judgement = judge(output, Example("x", "in", target))
    assert (judgement.answer, judgement.note) == expected


def test_a_task_defined_metric_scores_answers(tmp_path):
    metric = tmp_path / "metric.py"
    metric.write_text("def score(output, example):\n    return len(set(output.split()) & set(example['keywords']))"
                      " / len(example['keywords']), output.split()[0]\n")
    judge = make_judge("metric", metric_path=metric)
    ex = Example("x", "in", "-", {"keywords": ["red", "blue"]})
    assert judge("red green", ex).score == 0.5 and judge("red green", ex).answer == "red"
    assert judge("red blue", ex).note == "correct"
    assert judge("", ex).note == "empty"
    assert judge("   x", Example("y", "in", "-", {})).note.startswith("error: metric raised KeyError")
