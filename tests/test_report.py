"""`evolve report` end to end on real SQLite stores: a batch written through the Store API, real runs of the toy
task (scripted model, real sandbox) and a run full of hostile text."""

import asyncio
import csv
import re
import xml.etree.ElementTree as ET

import pytest
from conftest import block
from matplotlib import image
from typer.testing import CliRunner

from evolve.cli import app
from evolve.llm import LLMEnsemble, ScriptedProvider
from evolve.runner import new_run
from evolve.store import Store
from tests.support.report_store import add_batch, add_run, make_batch_store, make_task_folder

FIGURES = ["best_vs_evaluations", "best_vs_tokens", "best_vs_cost", "final_scores"]


def report(*args: str):
    return CliRunner().invoke(app, ["report", *args])


def panels(svg_path) -> int:
    """Axes drawn in a matplotlib SVG (hidden spare axes are not written)."""
    root = ET.parse(svg_path).getroot()
    return sum(1 for el in root.iter() if re.fullmatch(r"axes_\d+", el.get("id", "")))


def test_a_batch_report_has_figures_tables_and_a_verdict_and_opens_offline(tmp_path):
    storage, batch_id = make_batch_store(tmp_path, tasks=("alpha", "beta"))
    out = tmp_path / "out"
    result = report(batch_id[:6], "--out", str(out), "--storage", storage)
    assert result.exit_code == 0, result.output
    page = (out / "report.html").read_text()
    assert not re.search(r"https?:", page)  # no CDN, no request: every figure is a data: URI
    assert not re.findall(r"""(?:src|href)=["'](?!data:)""", page)
    assert page.count('src="data:image/png;base64,') == len(FIGURES)
    for name in FIGURES:
        png = image.imread(out / "figures" / f"{name}.png")
        assert png.shape[0] > 300 and png.shape[1] > 600
        assert panels(out / "figures" / f"{name}.svg") == 2  # one panel per task
    # final scores: islands=1 gains 0.5/0.6/0.7 per step (finals 11.5, 11.8, 12.1), islands=4 2.0/2.2/2.4
    finals = list(csv.DictReader((out / "final_scores.csv").open()))
    assert [(r["task"], r["configuration"], float(r["median"])) for r in finals] == [
        ("alpha", "islands=1", 11.8), ("alpha", "islands=4", 16.6), ("beta", "islands=1", 11.8),
        ("beta", "islands=4", 16.6)]
    assert {(float(r["ci_low"]), float(r["ci_high"]), float(r["seed_program_score"]), float(r["best_known"]))
            for r in finals} == {(11.5, 12.1, 10.0, 20.0), (16.0, 17.2, 10.0, 20.0)}
    assert "islands=4 better in 100% of resamples; the 95% interval excludes 0" in page
    # outcomes: each run's 8 children are 3 valid, 1 twin (scored by its twin) and one of each failure
    rates = {r["configuration"]: r for r in csv.DictReader((out / "outcome_rates.csv").open())}
    assert {k: int(v) for k, v in rates["islands=1"].items() if k not in ("task", "configuration")} == {
        "runs": 3, "children": 24, "valid": 9, "invalid": 3, "crashed": 3, "timeout": 3, "sandbox-violation": 0,
        "duplicate": 3, "twin": 3, "other": 0}
    runs = list(csv.DictReader((out / "runs.csv").open()))
    assert len(runs) == 12 and {int(r["tokens"]) for r in runs} == {1200}
    assert [float(r["cost_usd"]) for r in runs] == pytest.approx([8 * 150e-6] * 12)
    for heading in ("Final best score per task and configuration", "Which configuration is better",
                    "Children by outcome per configuration", "Runs: spend and outcome", "bad reply 1"):
        assert heading in page


def test_a_baseline_limits_the_comparisons_and_a_wrong_one_is_one_clear_line(tmp_path):
    storage, batch_id = make_batch_store(tmp_path)
    out = tmp_path / "out"
    assert report("islands-sweep", "--out", str(out), "--storage", storage, "--baseline", "islands=4").exit_code == 0
    rows = list(csv.DictReader((out / "comparisons.csv").open()))
    assert [(r["a"], r["b"]) for r in rows] == [("islands=1", "islands=4")]
    assert float(rows[0]["p_b_better"]) == 1.0
    wrong = report(batch_id, "--out", str(out), "--storage", storage, "--baseline", "islands=9")
    assert wrong.exit_code == 2
    assert wrong.output.strip().splitlines() == [
        "Error: --baseline 'islands=9' is none of the configurations: islands=1; islands=4"]


def test_a_missing_store_or_an_unknown_run_is_one_line(tmp_path):
    missing = report("abc", "--out", str(tmp_path / "o"), "--storage", str(tmp_path / "none.db"))
    assert missing.exit_code == 2 and "no store at" in missing.output and not (tmp_path / "none.db").exists()
    storage, _ = make_batch_store(tmp_path)
    unknown = report("zzz", "--out", str(tmp_path / "o"), "--storage", storage)
    assert unknown.exit_code == 2 and "no batch or run 'zzz'" in unknown.output


def test_real_runs_report_by_run_id_alone_and_together(toy_task, tmp_path, storage):
    run_ids = []
    for seed in (1, 2):
        replies = [block(f"    return {seed + n}") for n in (1, 2, 3)]
        prepared = new_run(toy_task, storage, {"iterations": 3, "islands": 1, "seed": seed, "llm_concurrency": 1,
                                               "eval_concurrency": 1},
                           ensemble=LLMEnsemble([(ScriptedProvider(replies), 1.0)]))
        assert asyncio.run(prepared.controller.run()) == "iterations"
        run_ids.append(prepared.run_id)
    one = tmp_path / "one"
    assert report(run_ids[0][:8], "--out", str(one), "--storage", storage).exit_code == 0
    page = (one / "report.html").read_text()
    assert f"run {run_ids[0]}" in page and "No comparison" in page and "median of" not in page
    assert [float(r["final_best"]) for r in csv.DictReader((one / "runs.csv").open())] == [4.0]
    both = tmp_path / "both"
    assert report(*run_ids, "--out", str(both), "--storage", storage).exit_code == 0
    finals = list(csv.DictReader((both / "final_scores.csv").open()))
    # lone runs that differ only by seed are one configuration with two seeds
    assert len(finals) == 1 and finals[0]["seeds"] == "2" and float(finals[0]["median"]) == 4.5
    assert finals[0]["per_seed"] == "1:4 2:5"


HOSTILE = "<script>alert(1)</script>\x1b]0;owned\x07$x^2$_"


def test_hostile_names_metrics_and_reasons_render_as_text(tmp_path):
    storage = f"sqlite:///{tmp_path / 'h.db'}"
    store = Store(storage)
    add_batch(store, "bad", HOSTILE)
    folder = make_task_folder(tmp_path, "task", 1.0)
    for task, seed, setting in ((HOSTILE, 1, HOSTILE), (HOSTILE, 2, HOSTILE), (HOSTILE, 1, "plain"),
                                ("=cmd|' /C calc'!A0", 1, "plain")):
        add_run(store, task=task, task_path=str(folder), batch_id="bad", gain=1.0, objective=HOSTILE,
                reasons=HOSTILE, params={"task": "t", "seed": seed, "mode": setting}, cell=task[:5] + setting[:5])
    store.close()
    out = tmp_path / "out"
    result = report("bad", "--out", str(out), "--storage", storage)
    assert result.exit_code == 0, result.output
    page = (out / "report.html").read_text()
    assert "<script" not in page and "\x1b" not in page and "\x07" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;\\x1b]0;owned\\x07$x^2$_" in page  # shown, escaped, as text
    assert page.count("<table>") == 6
    for name in FIGURES:
        assert image.imread(out / "figures" / f"{name}.png").size
    rows = list(csv.DictReader((out / "final_scores.csv").open()))
    assert any(r["task"].startswith("'=cmd") for r in rows)  # a spreadsheet will not run it
