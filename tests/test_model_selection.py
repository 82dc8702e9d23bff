"""Model selection: the bandits on known reward streams, and in the loop (resume, one model, `evolve status`),
with scripted stand-in models, the real sandbox and SQLite."""

import asyncio
import random

from conftest import block
from typer.testing import CliRunner

from evolve.candidate import Candidate
from evolve.cli import app
from evolve.llm import LLMEnsemble, ScriptedProvider
from evolve.model_selection import AsymmetricUCB, ModelLedger, ThompsonSampling, model_stats
from evolve.runner import new_run, resume_run
from evolve.store import Store


def stream(bandit, improve: dict[str, float], cost: dict[str, float], pulls: int, seed: int = 0) -> dict[str, int]:
    """Run `bandit` for `pulls` children: model m's child beats its parent (by 1.0) with probability improve[m]
    and costs cost[m]; returns how often each model was chosen."""
    rng = random.Random(seed)
    ledger = ModelLedger(list(improve), maximize=True)
    parent = Candidate(run_id="r", source="", score=0.0)
    ledger.observe(parent)
    chosen = dict.fromkeys(improve, 0)
    for _ in range(pulls):
        arms = list(ledger.arms.values())
        arm = arms[bandit.choose(arms, rng)]
        chosen[arm.name] += 1
        better = rng.random() < improve[arm.name]
        ledger.observe(Candidate(run_id="r", source="", parent_id=parent.id, model=arm.name, score=1.0 if better
                                 else 0.0, cost_usd=cost[arm.name]))
    return chosen


def test_ucb_and_thompson_choose_the_model_that_improves_more_often():
    for bandit in (AsymmetricUCB(cost_weight=0.0), ThompsonSampling(cost_weight=0.0)):
        chosen = stream(bandit, {"good": 0.6, "bad": 0.1}, {"good": 0.0, "bad": 0.0}, pulls=200)
        assert chosen["good"] > 2 * chosen["bad"], (bandit, chosen)
        assert chosen["bad"] >= 3  # it still explores


def test_cost_awareness_moves_pulls_to_the_cheaper_of_two_equal_models():
    improve = {"cheap": 0.4, "dear": 0.4}
    cost = {"cheap": 0.001, "dear": 0.01}
    blind = stream(AsymmetricUCB(cost_weight=0.0), improve, cost, pulls=200)
    aware = stream(AsymmetricUCB(cost_weight=0.5), improve, cost, pulls=200)
    assert aware["cheap"] > blind["cheap"] and aware["cheap"] > 0.75 * 200, (blind, aware)
    thompson = stream(ThompsonSampling(cost_weight=0.5), improve, cost, pulls=200)
    assert thompson["cheap"] > 0.75 * 200, thompson


def test_ucb_tries_every_model_before_trusting_any():
    chosen = stream(AsymmetricUCB(epsilon=0.0), {"a": 1.0, "b": 0.0, "c": 0.0}, dict.fromkeys("abc", 0.0), pulls=3)
    assert chosen == {"a": 1, "b": 1, "c": 1}


def two_models():
    """Model 'good' returns a larger number each time; model 'bad' writes code that does not parse."""
    good = ScriptedProvider(lambda messages, i: block(f"    return {i + 2}"), name="good")
    bad = ScriptedProvider(["```python\ndef value(:\n```"], name="bad")
    return good, bad


def test_ucb_in_the_loop_prefers_the_better_model_and_resume_rebuilds_its_statistics(toy_task, storage):
    good, bad = two_models()
    settings = {"iterations": 16, "islands": 1, "llm_concurrency": 1, "eval_concurrency": 1,
                "model_selection": "ucb", "repair_attempts": 0}
    prepared = new_run(toy_task, storage, settings, ensemble=LLMEnsemble([(good, 1.0), (bad, 1.0)]))
    asyncio.run(prepared.controller.run())
    live = {name: (a.pulls, a.improved, a.gain) for name, a in prepared.controller.search.models.ledger.arms.items()}
    assert live["scripted:good"][0] > live["scripted:bad"][0] >= 1
    assert live["scripted:good"][1] > 0 and live["scripted:bad"][1] == 0

    resumed = resume_run(prepared.run_id, storage, {"iterations": 16},
                         ensemble=LLMEnsemble([(good, 1.0), (bad, 1.0)]))
    resumed.controller._restore()
    rebuilt = {name: (a.pulls, a.improved, a.gain) for name, a in resumed.controller.search.models.ledger.arms.items()}
    assert rebuilt == live
    stored = {a.name: (a.pulls, a.improved, a.gain) for a in model_stats(
        prepared.store.iter_candidates(prepared.run_id), maximize=True)}
    assert stored == live

    result = CliRunner().invoke(app, ["status", prepared.run_id, "--storage", storage], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "models (selection: ucb)" in result.output
    line = next(ln for ln in result.output.splitlines() if "scripted:good" in ln)
    pulls, improved = line.split()[1:3]
    assert (int(pulls), int(improved)) == live["scripted:good"][:2]


def test_a_bandit_with_one_model_falls_back_to_it_and_the_run_records_why(toy_task, storage):
    only = ScriptedProvider([block("    return 3")], name="only")
    prepared = new_run(toy_task, storage, {"iterations": 2, "islands": 1, "llm_concurrency": 1,
                                           "eval_concurrency": 1, "model_selection": "thompson"},
                       ensemble=LLMEnsemble([(only, 1.0)]))
    assert asyncio.run(prepared.controller.run()) == "iterations"
    [note] = prepared.controller.stats.notes
    assert "needs two or more models" in note and "scripted:only" in note
    assert prepared.store.get_run(prepared.run_id)["environment"]["notes"] == [note]
    result = CliRunner().invoke(app, ["status", prepared.run_id, "--storage", storage], env={"COLUMNS": "200"})
    assert "needs two or more models" in result.output


def test_the_run_flags_reach_the_stored_settings_and_status_shows_both_stand_ins(storage):
    runner = CliRunner()
    result = runner.invoke(app, ["run", "circle_packing", "-n", "4", "-q", "--storage", storage,
                                 "--model", "scripted:random-edits", "--model", "scripted:sloppy-edits",
                                 "--model-selection", "thompson", "--parent-selection", "weighted",
                                 "--max-evaluations", "3", "--llm-concurrency", "1", "--eval-concurrency", "1"],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    [run] = Store(storage).list_runs()
    assert run["config"]["model_selection"] == "thompson" and run["config"]["parent_selection"] == "weighted"
    assert run["config"]["max_evaluations"] == 3
    status = runner.invoke(app, ["status", run["id"], "--storage", storage], env={"COLUMNS": "200"})
    assert "models (selection: thompson)" in status.output
    assert "scripted:random-edits" in status.output and "scripted:sloppy-edits" in status.output
