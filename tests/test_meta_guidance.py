"""Meta-guidance in the loop (a scripted model, the real sandbox and SQLite): every K children the model is asked
for notes from the latest diffs and outcomes; the call is stored (purpose "meta"); later prompts show the notes;
a resumed run starts from the stored notes."""

import asyncio

from conftest import block

from evolve.llm import LLMEnsemble, ScriptedProvider
from evolve.runner import new_run, resume_run

NOTES = "- returning larger constants raised the score\n- code that did not parse was wasted"


def scripted(messages, index):
    """Mutation prompts get a program returning a larger number; the meta request gets the notes."""
    if "latest attempts" in messages[-1]["content"]:
        return NOTES
    return block(f"    return {index + 2}") if index != 1 else "no code at all"


def test_notes_are_requested_every_k_children_stored_and_shown_in_later_prompts(toy_task, storage):
    provider = ScriptedProvider(scripted)
    settings = {"iterations": 4, "islands": 1, "llm_concurrency": 1, "eval_concurrency": 1, "meta_interval": 2,
                "repair_attempts": 0}
    prepared = new_run(toy_task, storage, settings, ensemble=LLMEnsemble([(provider, 1.0)]))
    assert asyncio.run(prepared.controller.run()) == "iterations"
    prompts = [call[-1]["content"] for call in provider.calls]
    meta = [i for i, p in enumerate(prompts) if "latest attempts" in p]
    assert meta == [2, 5]  # after the 2nd and the 4th child
    request = prompts[2]
    assert "+    return 2" in request and "scored 2" in request  # the first child's diff and outcome
    assert "invalid: reply has no code block" in request  # the second child's failure
    assert all(NOTES not in p for p in prompts[:2])  # no notes before the first summary
    assert "Notes on what earlier attempts" in prompts[3] and NOTES in prompts[3]
    assert "Your earlier notes" in prompts[5] and NOTES in prompts[5]  # the next summary builds on them

    stored = prepared.store.latest_call(prepared.run_id, "meta")
    assert stored["reply"] == NOTES and stored["candidate_id"] is None and stored["prompt_tokens"] > 0

    resumed = resume_run(prepared.run_id, storage, {"iterations": 5}, ensemble=LLMEnsemble([(provider, 1.0)]))
    asyncio.run(resumed.controller.run())
    assert NOTES in provider.calls[-1][-1]["content"]  # the resumed run's first prompt has the stored notes
