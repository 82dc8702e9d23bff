"""Which edit mode a proposal uses, and a grammar through an OpenAI-compatible server: a real HTTP server on
127.0.0.1 (tests/support/chat_server.py) that takes the grammar or refuses it with a 400."""

import asyncio
import random
import re

import pytest
from conftest import make_toy_task

from evolve.archive import Sample
from evolve.candidate import Candidate
from evolve.llm import LLMError, ModelConfig, ScriptedProvider
from evolve.llm.openai_provider import OpenAIProvider
from evolve.program_variation import ProgramVariation
from evolve.runner import new_run
from evolve.task import load_task
from evolve.variation import ProposalContext
from tests.support.chat_server import ChatServer

GRAMMAR = 'root ::= "3: return " [0-9]\n'
MESSAGES = [{"role": "user", "content": "edit"}]


class NamedProvider(ScriptedProvider):
    """A scripted stand-in that only lends its name (and, optionally, grammar support) to the mode choice."""

    def __init__(self, name: str, accepts_grammar: bool = False) -> None:
        super().__init__(["3: return 2"])
        self.name = name
        self.accepts_grammar = accepts_grammar


def propose(variation: ProgramVariation, task, provider):
    parent = Candidate(run_id="r", source=task.seed_source, kind="program", score=1.0)
    return variation.propose(ProposalContext(Sample(parent, [], "exploit"), [parent], None, provider,
                                             random.Random(0), 0))


@pytest.fixture
def task(tmp_path):
    return load_task(make_toy_task(tmp_path / "toy"))


def test_auto_picks_constrained_edits_for_local_models_and_diffs_for_the_rest(task):
    auto = ProgramVariation(task, "auto")
    assert auto.mode_for(NamedProvider("local:smollm2-135m")) == "constrained"
    assert auto.mode_for(NamedProvider("local:qwen2.5-coder-7b")) == "constrained"  # a local GGUF file
    assert auto.mode_for(NamedProvider("openai:gpt-4o-mini")) == "diff"
    assert auto.mode_for(NamedProvider("anthropic:claude-sonnet-4-5")) == "diff"
    forced = ProgramVariation(task, "constrained")
    assert forced.mode_for(NamedProvider("openai:qwen@http://127.0.0.1:1/v1")) == "constrained"
    assert ProgramVariation(task, "rewrite").mode_for(NamedProvider("local:smollm2-135m")) == "rewrite"


def test_constrained_proposals_carry_a_grammar_only_to_models_that_take_one(task):
    variation = ProgramVariation(task, "constrained")
    plan = propose(variation, task, NamedProvider("local:x", accepts_grammar=True))
    assert plan.operator.startswith("constrained") and plan.others == []
    assert '"3: "' in plan.params["grammar"] and plan.params["max_tokens"] <= 120
    assert "3:     return 1" in plan.messages[-1]["content"]
    plain = propose(variation, task, NamedProvider("scripted"))
    assert "grammar" not in plain.params  # the same prompt and reply format, no grammar
    child, kind = variation.apply(plain, "3: return 7")
    assert "    return 7" in child and kind == "constrained-numbers"


def test_constrained_falls_back_to_rewrites_for_other_languages(tmp_path):
    root = make_toy_task(tmp_path / "js")
    (root / "task.yaml").write_text((root / "task.yaml").read_text() + "language: javascript\n")
    task = load_task(root)
    variation = ProgramVariation(task, "auto")
    assert variation.mode_for(NamedProvider("local:smollm2-135m")) == "rewrite"
    assert variation.mode_for(NamedProvider("openai:gpt-4o-mini")) == "diff"


def _provider(srv: ChatServer) -> OpenAIProvider:
    return OpenAIProvider(ModelConfig(provider="openai", name="stub", base_url=srv.openai_base_url,
                                      max_retries=0, timeout_s=5.0))


def test_a_server_that_takes_the_grammar_gets_it_in_llama_cpp_and_vllm_fields():
    with ChatServer(replies=["3: return 5\n"]) as srv:
        reply = asyncio.run(_provider(srv).generate(MESSAGES, grammar=GRAMMAR))
        [request] = srv.chat_requests
    assert reply.text == "3: return 5\n" and reply.notes == []
    assert request.body["grammar"] == GRAMMAR
    assert request.body["structured_outputs"] == {"grammar": GRAMMAR}


def test_a_server_that_refuses_the_grammar_is_asked_without_it_and_the_reply_says_so():
    with ChatServer(replies=["3: return 5\n"], refuse_fields=["grammar"]) as srv:
        provider = _provider(srv)
        first = asyncio.run(provider.generate(MESSAGES, grammar=GRAMMAR))
        bodies = [r.body for r in srv.chat_requests]
        second = asyncio.run(provider.generate(MESSAGES, grammar=GRAMMAR))
        later = [r.body for r in srv.chat_requests[len(bodies):]]
    assert [r.fault for r in srv.chat_requests[:3]] == ["400", "400", None]
    assert "structured_outputs" in bodies[0] and "guided_grammar" in bodies[1]
    assert not {"grammar", "guided_grammar", "structured_outputs"} & set(bodies[2])
    assert first.text == "3: return 5\n" and "refused the grammar" in first.notes[0] and "HTTP 400" in first.notes[0]
    # the ladder is climbed once: later calls go straight to the unguided request, still noted
    assert len(later) == 1 and "grammar" not in later[0] and second.notes == first.notes


def test_a_400_that_is_not_about_the_grammar_is_an_error_and_the_grammar_is_kept():
    with ChatServer(replies=["3: return 5\n"], faults=["400"] * 3) as srv:
        provider = _provider(srv)
        with pytest.raises(LLMError) as err:
            asyncio.run(provider.generate(MESSAGES, grammar=GRAMMAR))
        assert err.value.status == 400
        reply = asyncio.run(provider.generate(MESSAGES, grammar=GRAMMAR))
        assert srv.chat_requests[-1].body["grammar"] == GRAMMAR and reply.notes == []


def test_a_run_against_a_server_that_refuses_the_grammar_completes_and_records_the_fallback(tmp_path):
    task = make_toy_task(tmp_path / "toy")
    storage = f"sqlite:///{tmp_path / 'evolve.db'}"
    with ChatServer(replies=lambda body, i: f"3: return {i + 2}\n", refuse_fields=["grammar"]) as srv:
        model = {"provider": "openai", "name": "stub", "base_url": srv.openai_base_url, "max_retries": 0}
        prepared = new_run(task, storage, {"models": [model], "iterations": 2, "islands": 1, "edit_mode": "constrained",
                                           "llm_concurrency": 1, "eval_concurrency": 1})
        assert asyncio.run(prepared.controller.run()) == "iterations"
    kids = [c for c in prepared.store.iter_candidates(prepared.run_id) if c.edit_kind != "seed"]
    assert [k.status for k in kids] == ["ok", "ok"]
    assert {k.edit_kind for k in kids} == {"constrained-numbers"}
    assert sorted(k.score for k in kids) == [2.0, 3.0]
    for kid in kids:
        [call] = prepared.store.llm_calls_for(kid.id)
        assert call["reply"] and "refused the grammar" in call["error"]


def test_proposals_from_one_parent_spread_over_its_lines():
    """A model that always takes the first line it is offered still changes every line of a parent in turn."""
    from evolve.resources import resource_dir
    from tests.support.gbnf_sampler import GBNF

    task = load_task(resource_dir("tasks") / "circle_packing")
    variation = ProgramVariation(task, "constrained")
    parent = Candidate(run_id="r", source=task.seed_source, kind="program", score=2.54)
    changed = []
    for i in range(5):
        rng = random.Random(i)
        plan = variation.propose(ProposalContext(Sample(parent, [], "exploit"), [parent], None,
                                                 NamedProvider("local:x", accepts_grammar=True), rng, i))
        first = int(re.search(r"choose among lines (\d+)", plan.messages[-1]["content"]).group(1))
        grammar = GBNF(plan.params["grammar"])
        reply = grammar.sample_option("edit", sorted(grammar_lines(plan)).index(first), rng)
        variation.apply(plan, reply)
        changed.append(first)
    assert len(set(changed)) == 5, changed  # the seed has five lines with numbers; each was changed once


def grammar_lines(plan) -> list[int]:
    return [int(n) for n in re.findall(r'"(\d+): "', plan.params["grammar"].split("\n")[1])]


def test_a_value_a_child_of_the_parent_already_tried_is_not_offered_again(task):
    """The toy seed has one number (`return 1`): after children with 2..8, only 0 and 9 remain."""
    from tests.support.gbnf_sampler import GBNF

    variation = ProgramVariation(task, "constrained")
    parent = Candidate(run_id="r", source=task.seed_source, kind="program", score=1.0)
    model = NamedProvider("local:x", accepts_grammar=True)
    for value in range(2, 10):
        plan = variation.propose(ProposalContext(Sample(parent, [], "exploit"), [parent], None, model,
                                                 random.Random(value), value))
        if value < 9:
            variation.apply(plan, f"3: return {value}")

    grammar = GBNF(plan.params["grammar"])
    seen = {grammar.sample(random.Random(i)) for i in range(100)}
    assert seen == {"3: return 0\n", "3: return 9\n"}
