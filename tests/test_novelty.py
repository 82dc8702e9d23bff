"""Novelty rejection with real embeddings (all-MiniLM-L6-v2 from the `novelty` extra, on the CPU), in the filter
and in the loop (scripted replies, real sandbox, SQLite); an embeddings endpoint that is down or lacks the route
turns novelty off with a note, and the run goes on."""

import asyncio

import pytest
from conftest import block

from evolve.candidate import Candidate
from evolve.llm import LLMEnsemble, ScriptedProvider
from evolve.llm.embeddings import MiniLMEmbedder
from evolve.novelty import NoveltyFilter
from evolve.progress import summarize
from evolve.resources import builtin_task_dirs
from evolve.runner import new_run
from tests.support.chat_server import ChatServer
from tests.support.ports import free_port

LOOP = "    total = 0\n    for i in range(10):\n        total += i * i\n    return total"
LOOP_11 = LOOP.replace("range(10)", "range(11)")  # another program (another AST), nearly the same text
OTHER = "    words = 'the quick brown fox'.split()\n    return len(max(words, key=len)) * 1000"


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


async def test_a_nudged_constant_is_rejected_and_a_different_construction_is_kept(embedder):
    seed_source = (builtin_task_dirs()["circle_packing"] / "initial_program.py").read_text()
    seed = Candidate(run_id="r", source=seed_source, score=2.54)
    nudged = Candidate(run_id="r", source=seed_source.replace("[[0.4, 0.4]]", "[[0.41, 0.4]]"))
    other = Candidate(run_id="r", source=seed_source.replace(
        "    g = (np.arange(5) + 0.5) / 5  # a 5x5 grid with spacing 0.2\n",
        "    rng = np.random.default_rng(7)\n    g = np.sort(rng.uniform(0.08, 0.92, 5))  # jittered rows\n"
    ).replace("xs, ys = np.meshgrid(g, g)", "xs, ys = np.meshgrid(g, g[::-1] ** 1.1)"))
    novelty = NoveltyFilter(embedder, threshold=0.995)
    novelty.remember(seed)
    verdict = await novelty.check(nudged)
    assert not verdict.novel and verdict.nearest_id == seed.id and verdict.similarity >= 0.995
    assert "too close to candidate" in verdict.reason
    kept = await novelty.check(other)
    assert kept.novel and kept.similarity < 0.995
    # what was kept is remembered at once: its near-copy is rejected against it, not against the seed
    again = await novelty.check(Candidate(run_id="r", source=other.source.replace("1.1", "1.1001")))
    assert not again.novel and again.nearest_id == other.id


async def test_a_judge_can_overrule_the_embedding_and_its_answer_is_read_strictly(embedder):
    base = Candidate(run_id="r", source=f"def value():\n{LOOP}\n")
    novelty = NoveltyFilter(embedder, threshold=0.9, judge=True)
    novelty.remember(base)
    asked = []

    async def says(answer):
        async def ask(messages):
            asked.append(messages[-1]["content"])
            return answer
        return ask

    near = Candidate(run_id="r", source=f"def value():\n{LOOP_11}\n")
    assert not (await novelty.check(near, await says("SIMILAR: only the bound changed"))).novel
    assert (await novelty.check(near, await says("NOVEL"))).novel
    assert "range(10)" in asked[0] and "range(11)" in asked[0] and "NOVEL" in asked[0]


def test_too_close_children_are_stored_rejected_and_never_evaluated(toy_task, storage):
    provider = ScriptedProvider([block(LOOP), block(LOOP_11), block(OTHER)])
    prepared = new_run(toy_task, storage, {"iterations": 3, "islands": 1, "llm_concurrency": 1,
                                           "eval_concurrency": 1, "novelty": True, "novelty_threshold": 0.95},
                       ensemble=LLMEnsemble([(provider, 1.0)]))
    assert asyncio.run(prepared.controller.run()) == "iterations"
    kids = [c for c in prepared.store.iter_candidates(prepared.run_id) if c.edit_kind != "seed"]
    assert [c.status for c in kids] == ["ok", "rejected-novelty", "ok"]
    rejected = kids[1]
    assert rejected.duplicate_of == kids[0].id and "embedding similarity" in rejected.reason
    assert rejected.eval_wall_s == 0.0 and not rejected.metrics and rejected.score is None
    assert prepared.store.status_counts(prepared.run_id)["rejected-novelty"] == 1
    stats = prepared.controller.stats
    assert stats.evaluations == 2 and stats.completed == 3
    fields = summarize(stats)
    assert "rejected-novelty=1" in fields["failures"] and "evaluations saved" in fields["saved"]


@pytest.mark.parametrize("where", ["down", "no route"])
def test_an_embeddings_endpoint_that_fails_turns_novelty_off_with_a_note(toy_task, storage, where):
    provider = ScriptedProvider([block(LOOP), block(LOOP_11)])
    with ChatServer() as server:
        url = f"http://127.0.0.1:{free_port()}/v1" if where == "down" else server.openai_base_url
        prepared = new_run(toy_task, storage, {"iterations": 2, "islands": 1, "llm_concurrency": 1,
                                               "eval_concurrency": 1, "novelty": True,
                                               "novelty_embedder": f"openai:embedder@{url}"},
                           ensemble=LLMEnsemble([(provider, 1.0)]))
        assert asyncio.run(prepared.controller.run()) == "iterations"
    kids = [c for c in prepared.store.iter_candidates(prepared.run_id) if c.edit_kind != "seed"]
    assert [c.status for c in kids] == ["ok", "ok"]  # both evaluated: novelty fell back to off
    [note] = prepared.store.get_run(prepared.run_id)["environment"]["notes"]
    assert note.startswith("novelty check off: embedder openai:embedder@") and url in note
    assert ("Connection" in note) if where == "down" else ("NotFound" in note)


@pytest.mark.local_model
async def test_the_embedded_gguf_model_embeds_offline_too():
    from evolve.llm.embeddings import GGUFEmbedder, build_embedder

    embedder = build_embedder("local")
    assert isinstance(embedder, GGUFEmbedder)
    rows = await embedder.embed(["def value():\n" + LOOP, "def value():\n" + LOOP, "def value():\n" + OTHER])
    assert rows.shape[0] == 3 and abs(float(rows[0] @ rows[0]) - 1.0) < 1e-5
    assert float(rows[0] @ rows[1]) > 0.9999 > float(rows[0] @ rows[2])
