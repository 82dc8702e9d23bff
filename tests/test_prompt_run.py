"""Prompt runs end to end: the real loop, store, archive and CLI, with scripted (or HTTP-stub) models."""

import asyncio
import os
import subprocess
import sys

import pytest

from evolve.errors import ConfigError
from evolve.llm import LLMEnsemble, ScriptedProvider
from evolve.runner import new_run, resume_run
from evolve.store import Store
from evolve.task import load_task
from tests.support.chat_server import ChatServer
from tests.support.prompt_tasks import TEST, doubler, make_prompt_task, tagged

DOUBLE = "Double the number.\n{input}\nAnswer:"
CAREFUL = "Double the number carefully, step by step.\n{input}\nAnswer:"


def run_prompts(task, storage, replies, **settings):
    optimizer, task_model = ScriptedProvider(replies), ScriptedProvider(doubler)
    prepared = new_run(task, storage, {"llm_concurrency": 1, "eval_concurrency": 1, "islands": 1, **settings},
                       ensemble=LLMEnsemble([(optimizer, 1.0)]), task_model=task_model)
    reason = asyncio.run(prepared.controller.run())
    return prepared, optimizer, task_model, reason


def children(prepared):
    return [c for c in prepared.store.iter_candidates(prepared.run_id) if c.edit_kind != "seed"]


@pytest.fixture
def task(tmp_path):
    return make_prompt_task(tmp_path / "doubling")


def test_a_prompt_run_improves_on_the_seed_and_reports_held_out_scores(task, storage):
    replies = [tagged(DOUBLE), "I have no idea.", "Still nothing.", tagged(CAREFUL), tagged("Repeat it.\n{input}")]
    prepared, _, task_model, reason = run_prompts(
        task, storage, replies, iterations=4, paraphrases=1, operators={"opro": 1.0})
    assert reason == "iterations"
    paraphrase, invalid, careful, repeat = children(prepared)
    assert paraphrase.edit_kind == "paraphrase" and paraphrase.score == 0.5
    assert invalid.status == "invalid" and "no new prompt found" in invalid.reason  # after one repair turn
    assert len(prepared.store.llm_calls_for(invalid.id)) == 2
    assert careful.edit_kind == "opro" and careful.score == 1.0 and careful.parent_id == paraphrase.id
    assert careful.features["step_by_step"] == 1.0 and careful.features["length_tokens"] > 5
    # "Repeat" loses to its parent on the minibatch: never scored on the whole dev split
    assert repeat.status == "ok" and repeat.score is None and repeat.eval_stage == 1
    assert repeat.metrics["examples_skipped"] == 5
    scores = {(s.role, s.split): s.score for s in prepared.store.split_scores(prepared.run_id)}
    assert scores == {("seed", "dev"): 0.0, ("seed", "test"): 0.0, ("best", "dev"): 1.0, ("best", "test"): 1.0}
    stats = prepared.controller.stats
    assert stats.best_score == 1.0 and stats.split_scores
    # seed 8 + paraphrase 8 + careful 3 (minibatch) + 5 (rest) + repeat 3 + test 4 x 2 = 35; cached: 6
    assert stats.spend["task_calls"] == len(task_model.calls) == 35
    assert stats.spend["cache_hits"] == 6


def test_the_test_split_is_never_touched_during_evolution(task, storage):
    replies = [tagged(DOUBLE), tagged(CAREFUL), tagged("Double it.\n{input}")]
    _, optimizer, task_model, _ = run_prompts(
        task, storage, replies, iterations=3, paraphrases=0, operators={"opro": 1.0, "reflect": 1.0, "ga": 1.0})
    test_inputs = [row["input"] for row in TEST]
    is_test = [any(f"{x}\n" in call[-1]["content"] for x in test_inputs) for call in task_model.calls]
    first = is_test.index(True)
    assert not any(is_test[:first]) and all(is_test[first:])  # only after the loop: the last calls made
    assert sum(is_test) == 2 * len(TEST)  # seed and best, once each
    for call in optimizer.calls:  # nor does the optimizer ever see a test example
        assert not any(x in m["content"] for m in call for x in test_inputs)


def test_a_child_without_the_placeholder_is_invalid_and_the_run_goes_on(task, storage):
    replies = ["<prompt>Double the number.</prompt>", "<prompt>Double the number.</prompt>", tagged(DOUBLE)]
    prepared, *_ = run_prompts(task, storage, replies, iterations=2, paraphrases=0, operators={"opro": 1.0})
    bad, good = children(prepared)
    assert bad.status == "invalid" and "lacks the placeholder {input}" in bad.reason
    assert good.status == "ok" and good.score == 0.5


def test_duplicate_prompts_are_not_scored_again(task, storage):
    replies = [tagged(DOUBLE), tagged("double   the number.\n{input}\nanswer:")]
    prepared, *_ = run_prompts(task, storage, replies, iterations=2, paraphrases=2)
    first, twin = children(prepared)
    assert twin.status == "rejected-duplicate" and twin.duplicate_of == first.id


def test_task_call_budget_stops_the_run_and_resume_continues(task, storage):
    replies = [tagged(DOUBLE), tagged(CAREFUL), tagged("Double it.\n{input}")]
    prepared, *_ = run_prompts(task, storage, replies, iterations=5, paraphrases=3, max_task_calls=20)
    assert prepared.controller.stop_reason == "task-call budget"
    assert len(children(prepared)) == 2  # seed 8 + 8 + 8 calls >= 20
    resumed = resume_run(prepared.run_id, storage, {"max_task_calls": 1000},
                         ensemble=LLMEnsemble([(ScriptedProvider([tagged(CAREFUL)]), 1.0)]),
                         task_model=ScriptedProvider(doubler))
    assert asyncio.run(resumed.controller.run()) == "iterations"
    assert len(children(resumed)) == 5 and resumed.controller.stats.best_score == 1.0


def test_prompt_task_errors_name_the_file_and_the_field(tmp_path):
    task = make_prompt_task(tmp_path / "t1", seed="Double the number.\nAnswer:")
    with pytest.raises(ConfigError, match=r"seed.txt: field 'seed': the seed prompt lacks the placeholder"):
        load_task(task)
    task = make_prompt_task(tmp_path / "t2")
    (task / "dev.jsonl").write_text('{"id": "a", "input": "n=1", "target": "2"}\n{"id": "b", "input": 3}\n')
    with pytest.raises(ConfigError, match=r"dev.jsonl:2: field 'target': expected a string or a number, got missing"):
        load_task(task)
    (task / "dev.jsonl").write_text('{"input": "n=1", "target": "2"}\nnot json\n')
    with pytest.raises(ConfigError, match=r"dev.jsonl:2: not a JSON object"):
        load_task(task)
    make_prompt_task(task)
    yaml = (task / "task.yaml").read_text()
    (task / "task.yaml").write_text(yaml.replace("test: test.jsonl", "test: missing.jsonl"))
    with pytest.raises(ConfigError, match=r"task.yaml: field 'prompt.test': file 'missing.jsonl' not found"):
        load_task(task)
    (task / "task.yaml").write_text(yaml.replace("{extract: number, max_tokens: 16}", "{extract: label}"))
    with pytest.raises(ConfigError, match=r"field 'prompt.answer': .*needs `labels`"):
        load_task(task)
    (task / "task.yaml").write_text(yaml.replace("kind: prompt", "kind: program"))
    with pytest.raises(ConfigError, match=r"field 'prompt': the `prompt:` section is only for kind: prompt"):
        load_task(task)


def test_cli_runs_a_prompt_task_with_an_optimizer_and_a_task_model_on_two_servers(task, storage):
    """`evolve run --model ... --task-model ...`, as a user runs it, against two OpenAI-compatible servers."""
    def optimizer(body, i):
        return tagged(CAREFUL if i else DOUBLE)

    def answerer(body, i):
        return doubler(body["messages"], i)

    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["COLUMNS"] = "200"
    with ChatServer(replies=optimizer) as opt, ChatServer(replies=answerer) as ans:
        proc = subprocess.run(
            [sys.executable, "-m", "evolve", "run", str(task), "--model", f"openai:writer@{opt.openai_base_url}",
             "--task-model", f"openai:reader@{ans.openai_base_url}", "-n", "2", "--storage", storage, "-q",
             "--llm-concurrency", "1", "--eval-concurrency", "1"],
            capture_output=True, text=True, timeout=120, env=env, check=False)
        answered = len(ans.chat_requests)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "task model openai:reader" in out and "stopped: iterations" in out
    assert "seed" in out and "best" in out and "test accuracy" in out and "1.000 (n=4)" in out
    assert f"task-model calls: {answered}" in out
    store = Store(storage)
    [run] = store.list_runs()
    status = subprocess.run([sys.executable, "-m", "evolve", "status", run["id"], "--storage", storage],
                            capture_output=True, text=True, timeout=60, env=env, check=False)
    assert status.returncode == 0 and "test accuracy" in status.stdout
    assert store.get_run(run["id"])["config"]["task_model"]["name"] == "reader"
