"""A lone surrogate (what a JSON escape such as \\udcff decodes to) in a candidate's error message or a model's reply:
such a string cannot be encoded, and one made the next prompt or the store's write fail and the whole run with it.
The real toy task, sandbox and SQLite, a scripted model, and the dashboard's page of the candidate."""

from conftest import make_toy_task
from starlette.testclient import TestClient

from evolve.candidate import Candidate
from evolve.store import Store
from evolve.ui.app import create_app
from evolve.ui.readonly import open_readonly
from tests.support.ui_runs import _block, make_run


def test_a_run_goes_on_past_lone_surrogates_and_shows_them_as_replacements(tmp_path, storage):
    make_toy_task(tmp_path / "toy")
    replies = [_block("    raise RuntimeError('\\udcff bad')"),  # escaped in the evaluator's JSON report
               _block("    return 5  # \udcff in the reply itself"),
               _block("    return 4")]
    run_id = make_run(tmp_path / "toy", storage, replies)
    store = Store(storage)
    assert store.get_run(run_id)["status"] == "finished"
    children = [c for c in store.iter_candidates(run_id) if c.edit_kind != "seed"]
    crashed = next(c for c in children if c.status == "crashed")
    assert crashed.reason == "RuntimeError: ? bad"
    assert {c.score for c in children if c.status == "ok"} >= {4.0, 5.0}
    assert all("\udcff" not in call["reply"] for c in children for call in store.llm_calls_for(c.id))
    client = TestClient(create_app(open_readonly(storage)), base_url="http://127.0.0.1")
    assert "RuntimeError: ? bad" in client.get(f"/candidates/{crashed.id}").text


def test_the_store_writes_lone_surrogates_as_replacements(storage):
    from evolve.store import TaskOutput

    store = Store(storage)
    store.add_task_output("k", "task-model", TaskOutput("answer \udcff", 1, 1, 0.0))
    assert store.task_outputs(["k"])["k"].output == "answer ?"
    run_id = store.create_run(task_name="t", task_path="/t", kind="program", objective="score",
                              direction="maximize", config={}, environment={})
    store.set_run_status(run_id, "failed", "seed crashed: \udcff")
    store.add_candidate(Candidate(
        run_id=run_id, source="x", reason="why \udcff", metrics={"m\udcff": 1.0}, artifacts={"a": "\udcff"}))
    [cand] = store.iter_candidates(run_id)
    assert (cand.reason, cand.metrics, cand.artifacts) == ("why ?", {"m?": 1.0}, {"a": "?"})
    assert store.get_run(run_id)["stop_reason"] == "seed crashed: ?"
