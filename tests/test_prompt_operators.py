"""Prompt-optimization operators: what each meta-prompt shows, how parents are chosen, how replies are read."""

import json
import random
from collections import Counter

import pytest

from evolve.archive import Sample
from evolve.candidate import Candidate
from evolve.llm import ScriptedProvider
from evolve.prompt_reply import extract_prompt, prompt_fingerprint
from evolve.prompt_variation import PromptVariation
from evolve.task import load_task
from evolve.variation import ProposalContext, VariationError
from tests.support.prompt_tasks import make_prompt_task

OPERATORS = ["paraphrase", "ga", "de", "opro", "reflect"]


@pytest.fixture
def task(tmp_path):
    return load_task(make_prompt_task(tmp_path / "doubling"))


def prompt(text: str, score: float, wrong: tuple[str, ...] = ()) -> Candidate:
    records = [{"id": f"d{i}", "target": str(2 * i), "answer": str(i), "note": "wrong" if f"d{i}" in wrong
                else "correct", "score": 0.0, "output": f"I think it is {i}"} for i in range(1, 9)]
    return Candidate(run_id="r", source=f"{text}\n{{input}}\nAnswer:", score=score,
                     artifacts={"examples": json.dumps(records)})


def population() -> list[Candidate]:
    """Best first, as the controller hands elites over."""
    return [prompt("Double it carefully.", 0.9, wrong=("d3",)), prompt("Double it.", 0.5, wrong=("d1", "d5")),
            prompt("Twice the number.", 0.2), prompt("Repeat the number.", 0.0)]


def propose(task, operator: str, elites=None, parent=None, index=10, seed=0):
    variation = PromptVariation(task, {operator: 1.0} if operator != "paraphrase" else {"ga": 1.0},
                                paraphrases=1 if operator == "paraphrase" else 0)
    elites = population() if elites is None else elites
    parent = parent or elites[1]
    ctx = ProposalContext(Sample(parent, [], "exploit"), elites, None, ScriptedProvider(), random.Random(seed),
                          0 if operator == "paraphrase" else index)
    return variation, variation.propose(ctx)


@pytest.mark.parametrize("operator", OPERATORS)
def test_every_operator_renders_a_meta_prompt_and_its_reply_becomes_a_child(task, operator):
    variation, plan = propose(task, operator)
    system, user = plan.messages[0]["content"], plan.messages[1]["content"]
    assert "{input}" in system and "Double the number" in system  # the task and the placeholder are explained
    assert "<prompt>" in user and "{input}" in user
    assert plan.operator == operator and plan.params["max_tokens"] > 60
    assert (plan.baseline is None) == (operator == "paraphrase")
    child, kind = variation.apply(plan, "Sure!\n<prompt>Double n, then check it.\n{input}\nAnswer:</prompt>")
    assert child == "Double n, then check it.\n{input}\nAnswer:" and kind == operator


def test_ga_crosses_two_parents_drawn_by_roulette_on_their_scores(task):
    draws = Counter()
    for seed in range(300):
        _, plan = propose(task, "ga", seed=seed)
        user = plan.messages[1]["content"]
        assert user.count("{input}") >= 2 and "Step 1" in user and "Step 2" in user
        draws.update(c.source.split("\n")[0] for c in [plan.parent, *plan.others])
        assert plan.parent.score >= plan.others[0].score  # the child must beat the better parent
    assert draws["Double it carefully."] > draws["Double it."] > draws["Twice the number."] > draws["Repeat the number."]


def test_de_shows_two_donors_the_best_and_the_base(task):
    _, plan = propose(task, "de")
    user = plan.messages[1]["content"]
    assert plan.parent.source.startswith("Double it.")  # the archive's parent is the base prompt
    base_at, best_at = user.index("Basic prompt:"), user.index("Prompt 3:")
    assert "Double it carefully." in user[best_at:base_at] and "Double it." in user[base_at:]
    assert "Twice the number." in user and "Repeat the number." in user  # the two donors
    assert len({c.id for c in [plan.parent, *plan.others]}) == 4


def test_opro_lists_the_top_prompts_in_ascending_order_of_score_with_dev_examples(task):
    _, plan = propose(task, "opro")
    user = plan.messages[1]["content"]
    positions = [user.index(text) for text in ("Repeat the number.", "Twice the number.", "Double it.\n",
                                                "Double it carefully.")]
    assert positions == sorted(positions)
    assert "Score: 0" in user and "Score: 90" in user
    assert user.count("Problem: n=") == 3 and "Correct answer:" in user  # examples_shown defaults to 3
    assert "n=10" not in user  # never a test example
    assert plan.parent.score == 0.9


def test_reflect_shows_the_parent_s_failures_with_outputs_and_targets(task):
    _, plan = propose(task, "reflect")
    user = plan.messages[1]["content"]
    assert "Double it." in user
    assert "Problem: n=1" in user and "Problem: n=5" in user and "Problem: n=3" not in user
    assert "Model's output: I think it is 1" in user and "Correct answer: 2" in user
    assert "the answer 1 is wrong" in user


def test_an_operator_that_cannot_run_gives_way(task):
    lonely = [prompt("Double it.", 0.5)]
    variation = PromptVariation(task, {"ga": 1.0, "de": 1.0, "opro": 1.0}, paraphrases=0)
    ctx = ProposalContext(Sample(lonely[0], [], "exploit"), lonely, None, ScriptedProvider(), random.Random(0), 5)
    assert variation.propose(ctx).operator == "opro"  # GA needs two prompts, DE three
    flawless = [prompt("Double it carefully.", 1.0)]
    only_reflect = PromptVariation(task, {"reflect": 1.0}, paraphrases=0)
    flawless[0].artifacts = {"examples": "[]"}
    ctx = ProposalContext(Sample(flawless[0], [], "exploit"), flawless, None, ScriptedProvider(), random.Random(0), 5)
    assert only_reflect.propose(ctx).operator == "paraphrase"  # nothing to reflect on


def test_meta_prompts_shrink_to_fit_a_small_context(task):
    many = [prompt(f"Double it, variant {i} " + "with a long explanation " * 10, 1 - i / 10) for i in range(8)]
    variation = PromptVariation(task, {"opro": 1.0}, paraphrases=0)
    small = ScriptedProvider(context_tokens=450)
    ctx = ProposalContext(Sample(many[0], [], "exploit"), many, None, small, random.Random(0), 5)
    messages = variation.propose(ctx).messages
    user = messages[1]["content"]
    assert sum(small.count_tokens(m["content"]) for m in messages) <= 450
    assert "variant 0" in user and "variant 7" not in user  # the best prompts stay, the worst go first


@pytest.mark.parametrize("reply,expected", [
    ("<prompt>Double it.\n{input}</prompt>", "Double it.\n{input}"),
    ("Step 1: ...\n<prompt>draft {input}</prompt>\nStep 2:\n<PROMPT>Final: double {input}</PROMPT>",
     "Final: double {input}"),
    ("Here it is:\n<prompt>Double {{input}} now", "Double {input} now"),  # cut off before </prompt>
    ("```\nDouble the number.\nNumber: { input }\n```", "Double the number.\nNumber: {input}"),
    ("Sure, here is a new prompt:\n\nRead the number and double it, then answer.\n\nn: [input]\nAnswer:",
     "Read the number and double it, then answer.\n\nn: {input}\nAnswer:"),
    ('New prompt: "Double {input} please."', "Double {input} please."),
])
def test_replies_are_read_leniently(reply, expected):
    assert extract_prompt(reply, "{input}", 100) == expected


@pytest.mark.parametrize("reply,why", [
    ("", "empty"),
    ("I don't know what you want.", "no new prompt found"),
    ("<prompt></prompt>", "empty"),
    ("<prompt>Double the number.</prompt>", "lacks the placeholder {input}"),
    ("<prompt>" + "Double the number carefully. " * 40 + "{input}</prompt>", "over the limit of 100"),
])
def test_unusable_replies_are_refused_with_the_reason(reply, why):
    with pytest.raises(VariationError, match=why):
        extract_prompt(reply, "{input}", 100)


def test_prompts_differing_in_case_or_spacing_are_duplicates():
    assert prompt_fingerprint("Double it.\n{input}") == prompt_fingerprint("double  it. {input} ")
    assert prompt_fingerprint("Double it.") != prompt_fingerprint("Triple it.")
