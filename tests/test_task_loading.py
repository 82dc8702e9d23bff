"""Task folders: Evolve's task.yaml, OpenEvolve's folders unmodified, and errors that name file and field."""

import shutil
from pathlib import Path

import pytest

from evolve.config import parse_run_config
from evolve.errors import ConfigError
from evolve.task import load_task

FIXTURES = Path(__file__).parent / "fixtures"


def test_builtin_task_loads_by_name():
    task = load_task("circle_packing")
    assert task.spec.objective == "sum_radii" and task.spec.direction == "maximize"
    assert "EVOLVE-BLOCK-START" in task.seed_source
    assert task.evaluator_path.name == "evaluate.py"
    assert [f.name for f in task.spec.features] == ["code_length", "edit_distance"]


def test_openevolve_folder_is_accepted_unmodified():
    task = load_task(FIXTURES / "openevolve_minimize")
    assert task.spec.seed == "initial_program.py" and task.spec.evaluator == "evaluator.py"
    assert task.spec.objective == "combined_score"
    assert task.spec.limits.wall_s == 30
    assert task.spec.cascade_thresholds == [0.5]
    assert [(f.name, f.bins) for f in task.spec.features] == [("code_length", 8), ("edit_distance", 8)]
    assert "search algorithm" in task.spec.system_message
    config = parse_run_config(task.spec.run, source="x")
    assert (config.iterations, config.seed, config.islands, config.edit_mode) == (40, 7, 2, "diff")
    assert config.exploitation == 0.6 and config.eval_concurrency == 2
    (model,) = config.models  # the llm section: used unless --model is given
    assert (model.label, model.base_url, model.temperature, model.top_p, model.max_tokens, model.timeout_s) == (
        "openai:qwen2.5-coder:7b", "http://localhost:11434/v1", 0.8, 0.9, 2048, 120)
    assert config.num_inspirations == 3  # prompt.num_top_programs + num_diverse_programs
    (note,) = task.notes  # whatever is not honoured, in one note
    assert note.startswith("config.yaml: not used by Evolve: checkpoint_interval, log_level, max_code_length; "
                           "database: population_size, archive_size")


@pytest.fixture
def task_copy(tmp_path):
    dst = tmp_path / "task"
    shutil.copytree(load_task("circle_packing").root, dst)
    return dst


def rewrite(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize("old,new,field,expected", [
    ("direction: maximize", "direction: upward", "direction", "'maximize' or 'minimize'"),
    ("seed: initial_program.py", "seed: missing.py", "seed", "not found"),
    ("limits: {wall_s: 60, memory_mb: 2048}", "limits: {wall_s: -1}", "limits.wall_s", "greater than 0"),
    ("objective: sum_radii", "objective: sum_radii\nobjectiv: typo", "objectiv", "unknown field"),
    ("  - {name: code_length, bins: 10}", "  - {name: code_length, bins: 0}", "features.0.bins", "greater than"),
    ("seed: initial_program.py", "seed: ../../etc/passwd", "seed", "outside the task folder"),
])
def test_malformed_task_yaml_names_file_and_field(task_copy, old, new, field, expected):
    rewrite(task_copy / "task.yaml", old, new)
    with pytest.raises(ConfigError) as info:
        load_task(task_copy)
    message = str(info.value)
    assert str(task_copy / "task.yaml") in message
    assert f"field '{field}'" in message
    assert expected in message


def test_yaml_syntax_error_names_the_file(task_copy):
    (task_copy / "task.yaml").write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="task.yaml: not valid YAML"):
        load_task(task_copy)


def test_missing_task_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="not a task folder"):
        load_task(tmp_path)
    with pytest.raises(ConfigError, match="built-in: .*circle_packing"):
        load_task("no_such_task_anywhere")


def test_run_settings_errors_name_the_field():
    with pytest.raises(ConfigError) as info:
        parse_run_config({"iterations": "many"}, source="task.yaml")
    assert "field 'run.iterations'" in str(info.value) and "'many'" in str(info.value)
    with pytest.raises(ConfigError, match="run.edit_mode"):
        parse_run_config({"edit_mode": "patch"}, source="cli")
