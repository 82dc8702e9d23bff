"""`evolve batch export` against a hand computation on a small store written through the real Store API, and
its CSVs against formula injection (a cell a spreadsheet would run)."""

import csv

import pytest

from evolve.batch.export import export_batch
from evolve.candidate import Candidate
from evolve.store import Store
from tests.support.report_store import add_batch, add_run, make_task_folder

HOSTILE = "=HYPERLINK(\"http://evil.example\",\"x\")"


def test_export_best_so_far_and_cumulative_spend_match_a_hand_computation(tmp_path):
    pytest.importorskip("pyarrow")
    store = Store(f"sqlite:///{tmp_path / 'e.db'}")
    add_batch(store, "b1", "export-check")
    folder = make_task_folder(tmp_path / "tasks", "alpha", best_known=20.0)
    run_id = add_run(store, task="alpha", task_path=str(folder), batch_id="b1", cell="c1", gain=0.5,
                     params={"task": "alpha", "model": HOSTILE, "edit_mode": "-2+3", "seed": 1})
    # a prompt task's child: its task model's spend is in its metrics, not in an LLM call of the run
    store.add_candidate(Candidate(run_id=run_id, source="prompt child", parent_id=None, status="ok", score=9.0,
                                  metrics={"score": 9.0, "task_tokens": 40, "task_cost_usd": 0.5}, code_hash="p"))
    files = export_batch(store, "b1", tmp_path / "out")
    store.close()
    assert {p.name for p in files} == {"runs.csv", "runs.parquet", "candidates.csv", "candidates.parquet"}
    with (tmp_path / "out" / "candidates.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    # seed 10; children (see CHILDREN): ok 10.5, invalid, ok 11.0, crashed, timeout, duplicate, twin, ok 11.5
    assert [float(r["best_so_far"]) for r in rows] == [10, 10.5, 10.5, 11, 11, 11, 11, 11, 11.5, 11.5]
    assert [int(r["tokens_cum"]) for r in rows] == [150 * k for k in range(9)] + [1240]
    assert [round(float(r["cost_usd_cum"]), 9) for r in rows] == [round(150e-6 * k, 9) for k in range(9)] + [0.5012]
    assert {r["run_id"] for r in rows} == {run_id}
    with (tmp_path / "out" / "runs.csv").open() as fh:
        (run,) = list(csv.DictReader(fh))
    # the run's totals are the last cumulative values: LLM calls and the task model's spend
    assert float(run["best_score"]) == 11.5 and int(run["tokens"]) == 1240
    assert float(run["cost_usd"]) == pytest.approx(0.5012)
    # text a spreadsheet would evaluate is quoted in the CSVs and kept as it is in Parquet
    for row in [*rows, run]:
        assert row["model"] == "'" + HOSTILE and row["edit_mode"] == "'-2+3"
    import pandas as pd
    assert set(pd.read_parquet(tmp_path / "out" / "candidates.parquet")["model"]) == {HOSTILE}


def test_batch_usage_counts_the_task_models_spend_as_a_lone_runs_budget_does(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'u.db'}")
    add_batch(store, "b1", "usage")
    folder = make_task_folder(tmp_path / "tasks", "alpha", best_known=20.0)
    run_id = add_run(store, task="alpha", task_path=str(folder), batch_id="b1", cell="c1", gain=0.5,
                     params={"task": "alpha", "seed": 1})
    assert store.batch_usage("b1").tokens == 1200
    store.add_candidate(Candidate(run_id=run_id, source="prompt child", status="ok", score=9.0,
                                  metrics={"score": 9.0, "task_tokens": 40, "task_cost_usd": 0.5}, code_hash="p"))
    usage = store.batch_usage("b1")
    assert usage.tokens == 1240 and usage.cost_usd == pytest.approx(0.5012)
    store.close()


@pytest.mark.parametrize("command", [["batch", "export", "b1"], ["report", "b1"]])
def test_an_out_path_that_is_a_file_is_one_line(tmp_path, command):
    from typer.testing import CliRunner

    from evolve.cli import app

    store = Store(str(tmp_path / "e.db"))
    add_batch(store, "b1", "out-check")
    add_run(store, task="alpha", task_path=str(make_task_folder(tmp_path / "tasks", "alpha", 20.0)), batch_id="b1",
            cell="c1", gain=0.5, params={"task": "alpha", "seed": 1})
    store.close()
    (tmp_path / "taken").write_text("a file")
    result = CliRunner().invoke(app, [*command, "--out", str(tmp_path / "taken"), "--storage", str(tmp_path / "e.db")])
    assert result.exit_code == 2 and f"--out {tmp_path / 'taken'}: a file is there, not a folder" in result.output
    assert (tmp_path / "taken").read_text() == "a file"
