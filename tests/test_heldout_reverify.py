"""Held-out evaluation (`evaluate_test`) and re-verification of the best, end to end: a scripted model (the loop's
unit tests' provider), the real sandbox and SQLite."""

import asyncio
import csv

from conftest import block, make_toy_task
from typer.testing import CliRunner

from evaluators.program import ProgramEvaluator
from evolve.cli import app
from evolve.llm import LLMEnsemble, ScriptedProvider
from evolve.report.build import write_report
from evolve.runner import new_run

# evaluate_test answers ten times the dev score, so a held-out score leaking into evolution would show.
HELD_OUT = """
def evaluate_test(candidate):
    return {"score": 10.0 * candidate.call("value"), "instances": 3}
"""

# The dev score of a program returning 5 is a coin flip between 5 and 0 (a lucky draw); under each fresh seed of
# re-verification the draw differs. Everything else scores its value, steadily.
FLAKY = """
import random

def evaluate(candidate):
    value = candidate.call("value")
    if value == 5:
        return {"score": 5.0 if random.random() < 0.5 else 0.0}
    return {"score": float(value)}
"""


def _run(root, storage, values, **settings):
    provider = ScriptedProvider([block(f"    return {n}") for n in values])
    prepared = new_run(root, storage, {"iterations": len(values), "islands": 1, "llm_concurrency": 1,
                                       "eval_concurrency": 1, **settings}, ensemble=LLMEnsemble([(provider, 1.0)]))
    assert asyncio.run(prepared.controller.run()) == "iterations"
    return prepared


def test_evaluate_test_runs_once_per_seed_and_best_after_evolution_and_is_shown(tmp_path, storage, monkeypatch):
    root = make_toy_task(tmp_path / "toy")
    (root / "evaluate.py").write_text((root / "evaluate.py").read_text() + HELD_OUT)
    calls: list[tuple[str, str]] = []
    real = ProgramEvaluator.evaluate

    def spy(self, source, twin_of=None):
        calls.append((self.split, source))
        return real(self, source, twin_of)

    monkeypatch.setattr(ProgramEvaluator, "evaluate", spy)
    prepared = _run(root, storage, (2, 5, 3))

    # evolution scored every candidate on dev only; the test split came once per seed and best, at the very end
    splits = [split for split, _ in calls]
    assert splits[-2:] == ["test", "test"] and splits.count("test") == 2
    assert [c.score for c in prepared.store.iter_candidates(prepared.run_id)] == [1.0, 2.0, 5.0, 3.0]
    scores = {(s.role, s.split): s.score for s in prepared.store.split_scores(prepared.run_id)}
    assert scores[("seed", "dev")] == 1.0 and scores[("seed", "test")] == 10.0
    assert scores[("best", "dev")] == 5.0 and scores[("best", "test")] == 50.0
    assert "return 1" in calls[-2][1] and "return 5" in calls[-1][1]

    shown = CliRunner().invoke(app, ["status", prepared.run_id, "--storage", storage])
    assert shown.exit_code == 0, shown.output
    best_row = next(line for line in shown.output.splitlines() if line.strip().startswith("best ") and "50" in line)
    assert best_row.split()[1:5] == [prepared.controller.stats.best_id, "5", "50", "(n=3)"] and "+45" in best_row
    best = CliRunner().invoke(app, ["best", prepared.run_id, "--storage", storage])
    assert "test 50 (n=3)" in best.output and "return 5" in best.output

    files = write_report(prepared.store, [prepared.run_id], tmp_path / "report")
    with open(tmp_path / "report" / "heldout.csv", newline="") as fh:
        [row] = list(csv.DictReader(fh))
    assert {k: row[k] for k in ("seed_dev", "seed_test", "best_dev", "best_test", "gap")} == {
        "seed_dev": "1.0", "seed_test": "10.0", "best_dev": "5.0", "best_test": "50.0", "gap": "45.0"}
    assert row["reverified"] == "5 ± 0 (1/1)" and row["flagged"] == ""
    assert 'id="heldout"' in files.page.read_text()


def test_a_task_without_evaluate_test_gets_no_test_scores(toy_task, storage):
    prepared = _run(toy_task, storage, (2,))
    assert not [s for s in prepared.store.split_scores(prepared.run_id) if s.split == "test"]


def test_a_lucky_best_is_flagged_and_the_next_best_is_verified(tmp_path, storage):
    root = make_toy_task(tmp_path / "toy")
    (root / "evaluate.py").write_text(FLAKY)
    with open(root / "task.yaml", "a") as f:
        f.write("reverify: {repeats: 4, tolerance: 0.0}\n")
    prepared = None
    for attempt in range(20):  # until the flaky program draws its lucky 5 during evolution (p = 1/2 each)
        prepared = _run(root, f"{storage}{attempt}", (2, 5, 3))
        if prepared.controller.stats.best_score == 5.0:
            break
    assert prepared is not None and prepared.controller.stats.best_score == 5.0
    scores = prepared.store.split_scores(prepared.run_id)
    flagged = [s for s in scores if s.role == "flagged" and s.split == "reverify"]
    verified = [s for s in scores if s.role == "best" and s.split == "reverify"]
    lucky = prepared.store.get_candidate(flagged[0].candidate_id)
    assert "return 5" in lucky.source
    assert [s.score for s in verified] == [3.0]  # the next best, steady over 4 fresh runs
    spread = next(s for s in scores if s.role == "best" and s.split == "spread")
    assert spread.score == 0.0 and spread.examples == 4

    shown = CliRunner().invoke(app, ["status", prepared.run_id, "--storage", prepared.store.url])
    assert "flagged:" in shown.output and lucky.id in shown.output
    best = CliRunner().invoke(app, ["best", prepared.run_id, "--storage", prepared.store.url])
    assert "return 3" in best.output and "re-verified 3 ± 0 (4/4)" in best.output
    write_report(prepared.store, [prepared.run_id], tmp_path / "report")
    with open(tmp_path / "report" / "heldout.csv", newline="") as fh:
        [row] = list(csv.DictReader(fh))
    assert row["flagged"] == lucky.id and row["best_dev"] == "3.0" and row["reverified"] == "3 ± 0 (4/4)"


def test_rows_say_when_no_checked_candidate_held_and_when_every_repeat_failed():
    from evolve.split_view import flagged as flagged_ids
    from evolve.split_view import split_rows, verified_best
    from evolve.store import SplitScore

    scores = [SplitScore("s", "seed", "dev", 1.0, 0), SplitScore("b", "best", "dev", 9.0, 0),
              SplitScore("b", "flagged", "reverify", 2.0, 3), SplitScore("b", "flagged", "spread", 4.0, 3),
              SplitScore("c", "flagged", "reverify", 0.0, 0), SplitScore("c", "flagged", "spread", 0.0, 3)]
    assert verified_best(scores) is None and flagged_ids(scores) == ["b", "c"]
    rows = {(r.role, r.candidate_id): r for r in split_rows(scores)}
    assert rows[("flagged", "b")].reverified() == "2 ± 2 (3/3)"
    assert rows[("flagged", "c")].reverified() == "failed (0/3)"
    assert rows[("best", "b")].gap is None  # no test split
