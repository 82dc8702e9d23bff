"""Sweep files: every kind of mistake is one line naming the file and the key, before anything is stored; a good
sweep expands deterministically into runs with their params, cells and full settings."""

from pathlib import Path

import pytest
from conftest import make_toy_task
from typer.testing import CliRunner

from evolve.batch.sweep import load_sweep
from evolve.cli import app
from evolve.errors import ConfigError

GOOD = """\
name: toy-sweep
tasks: [./toy]
models: [scripted, [scripted:a=0.7, scripted:b=0.3]]
settings: {iterations: 3, llm_concurrency: 1}
grid: {islands: [1, 2], edit_mode: [diff, rewrite]}
seeds: 2
"""


def write(tmp_path: Path, text: str) -> Path:
    make_toy_task(tmp_path / "toy")
    path = tmp_path / "sweep.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, key, expected", [
    ("tasks: [./toy, no_such_task]", "tasks[1]", "not a built-in task"),
    ("tasks: [./toy]\nmodels: [scripted, [scripted, 'nope:x']]", "models[1][1]", "unknown provider 'nope'"),
    ("tasks: [./toy]\nmodels: ['openai:gpt-4o-mini=-1']", "models[0]", "must be a finite number >= 0"),
    ("tasks: [./toy]\nmodels: [{spec: scripted, temperature: 9}]", "models[0].temperature", "less than or equal"),
    ("tasks: [./toy]\ngrid: {islandz: [1, 2]}", "grid.islandz", "unknown run setting"),
    ("tasks: [./toy]\nsettings: {iterations: many}", "settings.iterations", "'many'"),
    ("tasks: [./toy]\ngrid: {islands: [2, four]}", "grid.islands[1]", "'four'"),
    ("tasks: [./toy]\ngrid: {operators: [{ga: 1}, {gx: 1}]}", "grid.operators[1]", "unknown operator"),
    ("tasks: [./toy]\ngrid: {islands: []}", "grid.islands", "empty list"),
    ("tasks: [./toy]\ngrid: {limits.wall_s: [5, 0]}", "grid.limits.wall_s[1]", "greater than 0"),
    ("tasks: [./toy]\ngrid: {limits.wal_s: [5]}", "grid.limits.wal_s[0]", "unknown field"),
    ("tasks: [./toy]\nsettings: {limitz.wall_s: 5}", "settings.limitz.wall_s", "unknown run setting"),
    ("tasks: [./toy]\ngrid: {islands: 4}", "grid.islands", "valid list"),
    ("tasks: [./toy]\ngrid: {seed: [1, 2]}", "grid.seed", "`seeds:`"),
    ("tasks: [./toy]\nsettings: {models: [local]}", "settings.models", "`models:`"),
    ("tasks: [./toy]\nseeds: 0", "seeds", "at least 1"),
    ("tasks: [./toy]\nseeds: [1, 1]", "seeds", "without repeats"),
    ("tasks: [./toy]\nbudget: {max_tokens: lots}", "budget.max_tokens", "'lots'"),
    ("tasks: [./toy]\ntaskz: 1", "taskz", "unknown field"),
    ("name: x", "tasks", "Field required"),
    ("tasks: [./toy]\nseeds: true", "seeds", "got a boolean"),
    ("tasks: [./toy, ./toy]", "tasks[1]", "repeats tasks[0]"),
    ("tasks: [./toy]\nmodels: [scripted, scripted]", "models[1]", "repeats models[0]"),
    ("tasks: [./toy]\ngrid: {islands: [2, 2]}", "grid.islands[1]", "repeats grid.islands[0]"),
    ("tasks: [./toy]\nmodels: [[scripted:a=0, scripted:b=0]]", "models[0]", "every weight is 0"),
    ("tasks: [./toy]\ngrid: {islands: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}\nseeds: 1001", "grid", "10,010 runs"),
    ("tasks: [./toy]\nseeds: 1000000000000", "grid", "1,000,000,000,000 runs"),
])
def test_a_bad_sweep_names_the_file_and_the_key(tmp_path, text, key, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_sweep(path)
    err = caught.value
    assert err.file == str(path) and err.field == key, err.message
    assert expected in err.problem, err.message
    assert "\n" not in err.message


def test_yaml_syntax_error_gives_the_line(tmp_path):
    path = write(tmp_path, "tasks: [./toy\ngrid: {islands: [1, 2]}\n")
    with pytest.raises(ConfigError) as caught:
        load_sweep(path)
    assert caught.value.message.startswith(f"{path}: not valid YAML: line ")
    assert "\n" not in caught.value.message


def test_the_command_refuses_a_bad_sweep_before_storing_anything(tmp_path):
    path = write(tmp_path, "tasks: [./toy]\ngrid: {islands: [2, four]}\n")
    db = tmp_path / "evolve.db"
    result = CliRunner().invoke(app, ["batch", "run", str(path), "--storage", str(db)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [(f"Error: {path}: field 'grid.islands[1]': Input should be a valid integer, unable to parse "
                     "string as an integer (got 'four')")]
    assert not db.exists()


def test_expansion_is_tasks_x_models_x_grid_x_seeds_with_stable_cells(tmp_path):
    path = write(tmp_path, GOOD)
    sweep = load_sweep(path)
    assert sweep.name == "toy-sweep"
    assert len(sweep.plans) == 1 * 2 * 2 * 2 * 2
    first = sweep.plans[0]
    assert first.params == {"task": "./toy", "model": "scripted:scripted", "islands": 1, "edit_mode": "diff",
                            "seed": 0}
    assert first.config.iterations == 3 and first.config.islands == 1 and first.config.seed == 0
    assert first.task.root == (tmp_path / "toy").resolve()
    ensemble = next(p for p in sweep.plans if "+" in p.params["model"])
    assert ensemble.params["model"] == "scripted:a=0.7+scripted:b=0.3"
    assert [m.weight for m in ensemble.config.models] == [0.7, 0.3]
    cells: dict[str, set[int]] = {}
    for plan in sweep.plans:
        cells.setdefault(plan.cell, set()).add(plan.params["seed"])
    assert len(cells) == 8 and all(seeds == {0, 1} for seeds in cells.values())
    again = load_sweep(path)  # the same file makes the same runs: params, cells and every setting
    assert [(p.params, p.cell, p.config.model_dump()) for p in again.plans] == \
           [(p.params, p.cell, p.config.model_dump()) for p in sweep.plans]


def test_seed_list_model_settings_and_the_tasks_own_run_section(tmp_path):
    path = write(tmp_path, "tasks: ./toy\nmodels: [{spec: scripted, temperature: 0.1}, scripted]\n"
                           "seeds: [7, 11]\n")
    (tmp_path / "toy" / "task.yaml").write_text((tmp_path / "toy" / "task.yaml").read_text()
                                                + "run: {iterations: 5, islands: 3}\n")
    sweep = load_sweep(path)
    assert [p.params["seed"] for p in sweep.plans] == [7, 11, 7, 11]
    assert sweep.plans[0].config.models[0].temperature == 0.1
    assert sweep.plans[0].config.iterations == 5 and sweep.plans[0].config.islands == 3
    # the same label with other model settings is another configuration
    assert sweep.plans[0].params == {**sweep.plans[2].params, "seed": 7}
    assert sweep.plans[0].cell != sweep.plans[2].cell


@pytest.mark.parametrize("command", ["run", "status", "resume", "export"])
def test_every_batch_command_documents_itself(command):
    result = CliRunner().invoke(app, ["batch", command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output and len(result.output.splitlines()) > 4


def test_dry_run_lists_the_runs_and_stores_nothing(tmp_path):
    path = write(tmp_path, GOOD)
    db = tmp_path / "evolve.db"
    result = CliRunner().invoke(app, ["batch", "run", str(path), "--dry-run", "--storage", str(db)],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "16 runs (dry run" in result.output and "scripted:a=0.7+scripted:b=0.3" in result.output
    assert not db.exists()


def test_a_dotted_key_sets_one_field_and_keeps_the_tasks_others(tmp_path):
    path = write(tmp_path, "tasks: [./toy]\ngrid: {limits.wall_s: [3, 7]}\n")
    plans = load_sweep(path).plans
    assert [p.params["limits.wall_s"] for p in plans] == [3, 7]
    assert [p.config.limits.wall_s for p in plans] == [3, 7]
    assert all(p.config.limits.memory_mb == 512 for p in plans)  # the toy task's own, not the default 2048



ALIAS_BOMB = "".join(f"    - &{a} [{', '.join([f'*{p}'] * 10)}]\n" for p, a in zip("abcdefg", "bcdefgh"))


@pytest.mark.parametrize("section", ["settings:\n  operators:\n", "models:\n  - - spec:\n"])
def test_a_yaml_alias_bomb_is_one_short_line(tmp_path, section):
    """Nine levels of aliases are a billion leaves: an error message must not try to print them."""
    path = write(tmp_path, "tasks: [./toy]\n" + section + "    - &a [x, x, x, x, x, x, x, x, x, x]\n" + ALIAS_BOMB)
    with pytest.raises(ConfigError) as caught:
        load_sweep(path)
    assert len(caught.value.message) < 1000 and "\n" not in caught.value.message


def test_a_sweep_that_is_not_utf8_is_one_line(tmp_path):
    path = write(tmp_path, "")
    path.write_bytes(b"tasks: [\xff\xfe]\n")
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        load_sweep(path)


@pytest.mark.parametrize("args", [["status", "b1"], ["resume", "b1"], ["export", "b1", "--out", "x"]])
def test_batch_commands_on_a_missing_store_create_nothing(tmp_path, args):
    db = tmp_path / "typo.db"
    result = CliRunner().invoke(app, ["batch", *args, "--storage", str(db)])
    assert result.exit_code != 0 and f"no store at {db}" in result.output
    assert not db.exists()


def test_resume_of_a_batch_with_unreadable_stored_settings_is_one_line(tmp_path):
    from evolve.store import Store
    from tests.support.report_store import add_batch

    db = tmp_path / "e.db"
    add_batch(Store(str(db)), "b1", "hand-edited")  # stored settings {}: no max_concurrent
    result = CliRunner().invoke(app, ["batch", "resume", "b1", "--storage", str(db)])
    assert result.exit_code == 2, result.output
    assert "b1's settings (as stored, with the options given): field 'max_concurrent'" in result.output
    assert "Traceback" not in result.output


def test_an_unknown_executor_is_refused_before_anything_is_stored(tmp_path):
    path = write(tmp_path, GOOD)
    db = tmp_path / "b.db"
    result = CliRunner().invoke(app, ["batch", "run", str(path), "--executor", "nope", "--storage", str(db)])
    assert result.exit_code == 2 and "unknown executor 'nope'" in result.output
    assert not db.exists()


def test_console_markup_in_a_sweep_name_or_a_store_path_is_printed_as_written(tmp_path):
    path = write(tmp_path, GOOD.replace("name: toy-sweep", 'name: "x[/bold]y"'))
    result = CliRunner().invoke(app, ["batch", "run", str(path), "--dry-run"])
    assert result.exit_code == 0 and "x[/bold]y: 16 runs" in result.output, result.output
    folder = tmp_path / "[" / "x]"  # the store's path holds `[/x]`, a closing tag to rich
    folder.mkdir(parents=True)
    from evolve.store import Store

    Store(str(folder / "e.db")).close()
    result = CliRunner().invoke(app, ["batch", "status", "--storage", str(folder / "e.db")], env={"COLUMNS": "300"})
    assert result.exit_code == 0 and "x%5D/e.db" in result.output, result.output
