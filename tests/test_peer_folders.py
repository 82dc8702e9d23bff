"""OpenEvolve and ShinkaEvolve task folders, unmodified: loaded, evaluated in the real sandbox and evolved with a
scripted model (ScriptedProvider) and real SQLite. The folders under tests/fixtures are small ones written here
in each peer's format."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from evaluators.program import ProgramEvaluator
from evolve.config import parse_run_config
from evolve.edits import apply_reply
from evolve.errors import ConfigError, EvolveError
from evolve.llm import LLMEnsemble, ScriptedProvider
from evolve.peers import toolchains
from evolve.peers.convert import convert_folder
from evolve.peers.llm_feedback import LLMFeedbackEvaluation
from evolve.evaluation import ProgramEvaluation
from evolve.runner import new_run
from evolve.store import Store
from evolve.task import load_task
from sandbox import get_sandbox

FIXTURES = Path(__file__).parent / "fixtures"


def _evaluate(task, source=None):
    evaluator = ProgramEvaluator.for_task(task, get_sandbox("auto"))
    try:
        return evaluator.evaluate(source or task.seed_source)
    finally:
        evaluator.close()


def test_openevolve_config_is_honoured_and_the_rest_named_in_one_note():
    task = load_task(FIXTURES / "openevolve_artifacts")
    config = parse_run_config(task.spec.run, source="x")
    (model,) = config.models
    assert (model.label, model.weight, model.base_url, model.temperature, model.top_p, model.max_tokens,
            model.timeout_s, model.max_retries, model.api_key_env) == (
        "openai:stand-in", 2.0, "http://127.0.0.1:9/v1", 0.4, 0.95, 512, 20, 1, "OPENAI_API_KEY")
    assert (config.iterations, config.seed, config.islands, config.edit_mode, config.num_inspirations) == (
        6, 3, 1, "rewrite", 2)
    assert task.spec.show_artifacts is False and task.spec.cascade_thresholds == []
    assert [(f.name, f.bins) for f in task.spec.features] == [("size", 4)]
    assert task.notes == ["config.yaml: not used by Evolve: database: population_size"]


def test_openevolve_evaluator_imports_evaluation_result_and_is_ranked_by_openevolves_fitness():
    result = _evaluate(load_task(FIXTURES / "openevolve_artifacts"))
    assert result.status == "ok", result.reason
    # no combined_score: the mean of the numeric non-feature metrics (closeness 1/7, exact 0; not size, not the flag)
    assert result.metrics["combined_score"] == pytest.approx((1 / 7 + 0.0) / 2)
    assert result.artifacts["report"] == "off by 6 in total" and result.artifacts["flag"] == "True"


def test_shinka_folder_runs_its_evaluate_script_and_splits_public_from_private():
    task = load_task(FIXTURES / "shinka_sum")
    assert (task.spec.interface, task.spec.seed, task.spec.system_message) == (
        "shinka", "initial.py", "Make the three numbers sum as close to 3 as possible.")
    result = _evaluate(task)
    assert result.status == "ok", result.reason
    assert result.metrics == pytest.approx({"combined_score": 0.6, "total": 0.6, "largest": 0.3})
    assert result.artifacts["text_feedback"] == "the sum is 0.60; the best possible is 3"
    assert '"secret_margin": 2.4' in result.artifacts["private_metrics"]
    bad = _evaluate(task, task.seed_source.replace("[0.2, 0.3, 0.1]", "[0.2, 0.3, 1.5]"))
    assert bad.status == "invalid" and bad.reason == "Validation failed: every number must lie in [0, 1]"


def test_compiled_seed_runs_with_its_toolchain_or_is_refused_in_one_line():
    if toolchains.missing(FIXTURES / "shinka_cpp" / "initial.cpp"):
        with pytest.raises(ConfigError, match=r"cpp seeds need g\+\+.*apt-get install g\+\+"):
            load_task(FIXTURES / "shinka_cpp")
        return
    task = load_task(FIXTURES / "shinka_cpp")
    assert task.spec.language == "cpp"
    result = _evaluate(task)
    assert (result.status, result.metrics) == ("ok", {"combined_score": 1.0, "solved": 4.0})
    wrong = _evaluate(task, task.seed_source.replace("total += i;", "total += 2 * i;"))
    assert wrong.status == "invalid" and wrong.reason == "4 wrong answers"


def test_missing_toolchain_is_one_clear_line(tmp_path):
    (tmp_path / "evaluate.py").write_text("print('never run')\n")
    (tmp_path / "initial.wl").write_text("(* EVOLVE-BLOCK-START *)\nf[n_] := n\n(* EVOLVE-BLOCK-END *)\n")
    with pytest.raises(ConfigError) as err:
        load_task(tmp_path)
    assert "wolfram seeds need wolframscript" in err.value.message and "\n" not in err.value.message


@pytest.mark.parametrize("comment", ["!", "//", "#"])
def test_evolve_block_markers_in_each_languages_comment_syntax(comment):
    parent = f"keep\n{comment} EVOLVE-BLOCK-START\nx = 1\n{comment} EVOLVE-BLOCK-END\ntail\n"
    reply = "<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n"
    assert apply_reply(parent, reply, mode="diff", language="fortran").source == parent.replace("x = 1", "x = 2")


def _scripted_run(task_dir, storage, replies, **settings):
    provider = ScriptedProvider(replies)
    prepared = new_run(task_dir, storage, {"llm_concurrency": 1, "eval_concurrency": 1, "islands": 1, **settings},
                       ensemble=LLMEnsemble([(provider, 1.0)]))
    reason = asyncio.run(prepared.controller.run())
    return prepared, provider, reason


def test_openevolve_folder_evolves_without_showing_artifacts_when_the_config_says_so(storage):
    better = "```python\n# EVOLVE-BLOCK-START\ndef guess():\n    return [1, 2, 3]\n# EVOLVE-BLOCK-END\n```"
    prepared, provider, _ = _scripted_run(FIXTURES / "openevolve_artifacts", storage, [better], iterations=2)
    best = prepared.store.best_candidate(prepared.run_id, True)
    assert best.score == pytest.approx(1.0)  # closeness 1 and exact 1: their mean, OpenEvolve's fitness
    assert all("off by" not in m["content"] for call in provider.calls for m in call)


def test_shinka_folder_evolves_with_public_feedback_and_without_private_metrics(storage):
    better = "```python\n# EVOLVE-BLOCK-START\ndef run_experiment(seed=0):\n    return [1.0, 1.0, 0.9]\n# EVOLVE-BLOCK-END\n```"
    prepared, provider, _ = _scripted_run(FIXTURES / "shinka_sum", storage, [better], iterations=2,
                                          edit_mode="rewrite")
    assert prepared.store.best_candidate(prepared.run_id, True).score == pytest.approx(2.9)
    shown = "\n".join(m["content"] for call in provider.calls for m in call)
    assert "the sum is 0.60" in shown and "total=0.6" in shown
    assert "secret_margin" not in shown and "private_metrics" not in shown


def test_llm_feedback_weights_a_judges_scores_into_fitness():
    task = load_task(FIXTURES / "openevolve_artifacts")
    judge = ScriptedProvider(['Sure: {"readability": 1.0, "efficiency": 0.5, "reasoning": "short and clear"}'])
    inner = ProgramEvaluation(ProgramEvaluator.for_task(task, get_sandbox("auto")))
    wrapped = LLMFeedbackEvaluation(inner, LLMEnsemble([(judge, 1.0)]), 0.1, "combined_score", "python")

    async def go():
        try:
            return await wrapped.evaluate(task.seed_source, None, lambda _: None)
        finally:
            await wrapped.aclose()

    result = asyncio.run(go())
    base = (1 / 7) / 2
    assert result.metrics["combined_score"] == pytest.approx(0.7 * base + 0.3 * 0.75)
    assert result.metrics["llm_readability"] == pytest.approx(0.1)
    assert result.metrics["llm_average"] == pytest.approx(0.075)
    assert result.artifacts["llm_reasoning"] == "short and clear"
    assert "program" in judge.calls[0][-1]["content"] and "def guess" in judge.calls[0][-1]["content"]


def test_convert_writes_a_call_interface_folder_that_scores_the_same(tmp_path):
    out = tmp_path / "converted"
    report = convert_folder(str(FIXTURES / "openevolve_artifacts"), out)
    assert "scores 0.0714286 both ways" in report
    task = load_task(out)
    assert task.spec.interface == "call" and (out / "openevolve_evaluator.py").is_file()
    better = task.seed_source.replace("[0, 0, 0]", "[1, 2, 4]")
    assert _evaluate(task, better).metrics["combined_score"] == pytest.approx(
        _evaluate(load_task(FIXTURES / "openevolve_artifacts"), better).metrics["combined_score"])


def test_convert_says_when_it_cannot(tmp_path):
    folder = tmp_path / "runs_a_process"
    shutil.copytree(FIXTURES / "openevolve_artifacts", folder)
    (folder / "evaluator.py").write_text("import subprocess\n\ndef evaluate(path):\n    return {'combined_score': 1.0}\n")
    with pytest.raises(EvolveError, match="runs the program as a separate process"):
        convert_folder(str(folder), tmp_path / "out")
    assert not (tmp_path / "out").exists()
    with pytest.raises(EvolveError, match="only OpenEvolve folders"):
        convert_folder(str(FIXTURES / "shinka_sum"), tmp_path / "out")



def test_use_llm_feedback_in_the_config_puts_a_judge_on_every_evaluation(tmp_path, storage):
    folder = tmp_path / "with_feedback"
    shutil.copytree(FIXTURES / "openevolve_artifacts", folder)
    config = folder / "config.yaml"
    config.write_text(config.read_text().replace("  cascade_evaluation: false",
                                                 "  cascade_evaluation: false\n  use_llm_feedback: true\n"
                                                 "  llm_feedback_weight: 0.25"))
    assert load_task(folder).llm_feedback_weight == 0.25
    judge = ScriptedProvider(['{"readability": 0.5}'])
    prepared = new_run(folder, storage, {"iterations": 0}, ensemble=LLMEnsemble([(judge, 1.0)]))
    assert isinstance(prepared.controller.evaluator, LLMFeedbackEvaluation)
    asyncio.run(prepared.controller.run())
    (seed,) = prepared.store.iter_candidates(prepared.run_id)
    assert seed.metrics["llm_readability"] == pytest.approx(0.125) and len(judge.calls) == 1


def test_openevolve_folder_without_config_yaml_runs_on_defaults_and_says_how_to_pick_one(tmp_path, storage):
    folder = tmp_path / "no_config"
    shutil.copytree(FIXTURES / "openevolve_artifacts", folder)
    (folder / "config.yaml").rename(folder / "config_phase_1.yaml")
    task = load_task(folder)
    assert task.notes == [f"no config.yaml: OpenEvolve's defaults apply; to use another config, name it: "
                          f"evolve run {folder.resolve() / 'config_phase_1.yaml'}"]
    assert load_task(folder / "config_phase_1.yaml").spec.show_artifacts is False  # the named config is read
    prepared = new_run(folder, storage, {"iterations": 0}, ensemble=LLMEnsemble([(ScriptedProvider(), 1.0)]))
    asyncio.run(prepared.controller.run())
    assert prepared.controller.stats.best_score == pytest.approx((1 / 7 + 0.0 + 3) / 3)  # no feature excluded


def test_shinka_yaml_gives_generations_and_islands_and_names_the_rest(tmp_path):
    folder = tmp_path / "with_yaml"
    shutil.copytree(FIXTURES / "shinka_sum", folder)
    (folder / "shinka.yaml").write_text("max_evaluation_jobs: 2\ndb_config:\n  num_islands: 3\n  archive_size: 9\n"
                                        "evo_config:\n  num_generations: 7\n  llm_models: [gpt-x]\n")
    task = load_task(folder)
    assert task.spec.run == {"iterations": 7, "islands": 3}
    assert task.notes == ["shinka.yaml: not used by Evolve: db_config: archive_size; evo_config: llm_models; "
                          "max_evaluation_jobs (models: choose with --model)"]


def test_a_run_from_a_named_config_resumes_with_that_config(tmp_path, storage):
    from evolve.runner import resume_run

    folder = tmp_path / "phases"
    shutil.copytree(FIXTURES / "openevolve_artifacts", folder)
    (folder / "config.yaml").rename(folder / "config_phase_2.yaml")
    prepared = new_run(folder / "config_phase_2.yaml", storage, {"iterations": 0},
                       ensemble=LLMEnsemble([(ScriptedProvider(), 1.0)]))
    asyncio.run(prepared.controller.run())
    resumed = resume_run(prepared.run_id, storage, {}, ensemble=LLMEnsemble([(ScriptedProvider(), 1.0)]))
    assert resumed.task.spec_file.name == "config_phase_2.yaml" and resumed.task.spec.show_artifacts is False
