"""`evolve import`: an OpenEvolve checkpoint and a ShinkaEvolve database (written in their formats by
tests/support/peer_runs.py) become runs that `evolve status/best` show and `evolve resume` continues with a
scripted model (ScriptedProvider), the real sandbox and real SQLite."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evolve.cli import app
from evolve.errors import EvolveError
from evolve.llm import LLMEnsemble, ScriptedProvider
from evolve.peers.importer import import_run
from evolve.runner import resume_run
from evolve.store import Store
from tests.support.peer_runs import openevolve_program, write_openevolve_checkpoint, write_shinka_database

FIXTURES = Path(__file__).parent / "fixtures"
GUESS = "# EVOLVE-BLOCK-START\ndef guess():\n    return {}\n# EVOLVE-BLOCK-END\n"
SUM = "# EVOLVE-BLOCK-START\ndef run_experiment(seed=0):\n    return {}\n# EVOLVE-BLOCK-END\n"


@pytest.fixture
def openevolve_task(tmp_path) -> Path:
    """The fixture folder with an OpenEvolve output beside it: 2 islands, a seed, 3 children, one failed."""
    task = tmp_path / "oe_task"
    shutil.copytree(FIXTURES / "openevolve_artifacts", task)
    programs = [
        openevolve_program("p0", GUESS.format("[0, 0, 0]"), None, 0, {"closeness": 1 / 7, "exact": 0.0, "size": 3}),
        openevolve_program("p1", GUESS.format("[1, 2, 2]"), "p0", 1, {"closeness": 0.5, "exact": 0.0, "size": 3},
                           artifacts={"report": "off by 1 in total"}),
        openevolve_program("p2", GUESS.format("[1, 2, 3]"), "p1", 2, {"combined_score": 0.9, "closeness": 1.0},
                           island=1),
        openevolve_program("p3", GUESS.format("boom"), "p0", 1, {"error": 0.0, "timeout": True}, island=1),
    ]
    write_openevolve_checkpoint(task / "openevolve_output", 5, programs[:2], [["p0"], ["p1"]])  # older one
    write_openevolve_checkpoint(task / "openevolve_output", 10, programs, [["p0", "p1"], ["p2", "p3"]])
    return task


def test_openevolve_checkpoint_imports_as_a_run_and_resumes(openevolve_task, storage):
    done = import_run(openevolve_task / "openevolve_output", storage)
    assert done.peer.path.name == "checkpoint_10" and done.task.root == openevolve_task.resolve()
    assert done.counts == {"ok": 3, "crashed": 1}
    store = Store(storage)
    cands = {c.source.split("return ")[1].split("\n")[0]: c for c in store.iter_candidates(done.run_id)}
    assert cands["[1, 2, 2]"].score == pytest.approx(0.25)  # OpenEvolve's fitness: mean of closeness and exact
    assert cands["[1, 2, 3]"].score == 0.9 and cands["[1, 2, 3]"].island == 1
    assert cands["[1, 2, 3]"].parent_id == cands["[1, 2, 2]"].id and cands["[1, 2, 2]"].generation == 1
    assert cands["[0, 0, 0]"].edit_kind == "seed" and cands["[1, 2, 2]"].artifacts["report"] == "off by 1 in total"
    row = store.get_run(done.run_id)
    assert (row["status"], row["config"]["islands"], row["config"]["iterations"]) == ("stopped", 2, 6)

    cli = CliRunner()
    status = cli.invoke(app, ["status", done.run_id, "--storage", storage])
    assert status.exit_code == 0 and "children: 3 of 6" in status.output and "best combined_score: 0.9" in status.output
    assert "return [1, 2, 3]" in cli.invoke(app, ["best", done.run_id, "--storage", storage]).output

    better = "```python\n# EVOLVE-BLOCK-START\ndef guess():\n    return [1, 2, 1 + 2]\n# EVOLVE-BLOCK-END\n```"
    provider = ScriptedProvider([better])
    prepared = resume_run(done.run_id, storage, {"iterations": 5, "llm_concurrency": 1, "eval_concurrency": 1},
                          ensemble=LLMEnsemble([(provider, 1.0)]))
    asyncio.run(prepared.controller.run())
    assert (prepared.controller.stats.completed, prepared.controller.stats.session_children) == (5, 2)
    best = store.best_candidate(done.run_id, True)
    assert best.score == pytest.approx(1.0) and "1 + 2" in best.source  # scored by Evolve: mean(1, 1)
    assert store.get_candidate(best.parent_id).run_id == done.run_id  # bred from an imported program


def test_shinka_results_import_keeps_correctness_and_private_metrics(tmp_path, storage):
    task = tmp_path / "shinka_task"
    shutil.copytree(FIXTURES / "shinka_sum", task)
    write_shinka_database(task / "results_small", [
        {"id": "a", "code": SUM.format("[0.2, 0.3, 0.1]"), "generation": 0, "combined_score": 0.6, "correct": True,
         "public": {"total": 0.6, "shape": "three"}, "private": {"secret_margin": 2.4}, "text_feedback": "ok"},
        {"id": "b", "code": SUM.format("[1, 1, 2]"), "parent_id": "a", "generation": 1, "combined_score": 4.0,
         "correct": False, "text_feedback": "every number must lie in [0, 1]", "island": 1},
        {"id": "c", "code": SUM.format("[1, 1, 0.5]"), "parent_id": "a", "generation": 1, "combined_score": 2.5,
         "correct": True, "public": {"total": 2.5}},
    ])
    result = CliRunner().invoke(app, ["import", str(task / "results_small"), "--storage", storage])
    assert result.exit_code == 0, result.output
    assert "imported 3 programs from shinka" in result.output
    store = Store(storage)
    (run,) = store.list_runs()
    cands = {c.score: c for c in store.iter_candidates(run["id"])}
    assert set(cands) == {0.6, 2.5, None}  # the incorrect one is stored, unscored, as invalid
    assert cands[None].status == "invalid" and cands[None].reason == "every number must lie in [0, 1]"
    assert cands[0.6].metrics == {"total": 0.6, "combined_score": 0.6} and cands[0.6].artifacts["shape"] == "three"
    assert cands[0.6].artifacts["private_metrics"] == '{"secret_margin": 2.4}' and cands[2.5].model == "gpt-test"
    assert store.best_candidate(run["id"], True).score == 2.5


def test_import_needs_the_task_when_it_cannot_find_it(tmp_path, storage):
    write_shinka_database(tmp_path / "lonely", [{"id": "a", "code": SUM.format("[0, 0, 0]"), "generation": 0,
                                                 "combined_score": 0.0, "correct": True}])
    with pytest.raises(EvolveError, match="pass it with --task FOLDER"):
        import_run(tmp_path / "lonely", storage)
    done = import_run(tmp_path / "lonely" / "programs.sqlite", storage, task_ref=str(FIXTURES / "shinka_sum"))
    assert done.counts == {"ok": 1}
    result = CliRunner().invoke(app, ["import", str(tmp_path), "--storage", storage])
    assert result.exit_code == 2 and "not an OpenEvolve checkpoint" in result.output
