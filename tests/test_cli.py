"""The `evolve` command as a user runs it: real subprocesses, a real SQLite file, a real HTTP model server."""

import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import block, make_toy_task
from typer.testing import CliRunner

from evolve.cli import app
from evolve.store import Store
from tests.support.chat_server import ChatServer

COMMANDS = ["run", "resume", "status", "best", "tasks", "doctor", "ui"]


def evolve(*args: str, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    """Run the installed CLI in a child process, as a user would (no API keys in its environment)."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["COLUMNS"] = "200"
    return subprocess.run([sys.executable, "-m", "evolve", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, **kw)


def counting_replies(body, index):
    """Each reply makes value() return a new, larger number."""
    return block(f"    return {index + 2}")


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_documents_itself(command):
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output and len(result.output.splitlines()) > 4


def test_top_level_help_lists_every_command():
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.output


def test_tasks_lists_builtin_tasks_with_best_known_values():
    result = CliRunner().invoke(app, ["tasks"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "circle_packing" in result.output and "2.63598" in result.output


def test_malformed_task_names_the_file_and_the_field(tmp_path, storage):
    task = make_toy_task(tmp_path / "bad")
    (task / "task.yaml").write_text((task / "task.yaml").read_text().replace("objective: score", "objective: [1]"))
    proc = evolve("run", str(task), "--storage", storage, "-q")
    assert proc.returncode == 2
    assert "task.yaml" in proc.stderr and "objective" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_task_and_unknown_run_are_clear_errors(tmp_path, storage):
    proc = evolve("run", "no_such_task", "--storage", storage, "-q")
    assert proc.returncode == 2 and "circle_packing" in proc.stderr  # says what exists
    proc = evolve("resume", "nope", "--storage", storage, "-q")
    assert proc.returncode == 2 and "no run 'nope'" in proc.stderr


def test_doctor_reports_the_sandbox():
    proc = evolve("doctor")
    assert proc.returncode == 0, proc.stderr
    assert "network" in proc.stdout.lower() and "embedded model runtime" in proc.stdout


def test_run_status_best_against_an_openai_compatible_server(tmp_path, storage):
    task = make_toy_task(tmp_path / "toy")
    with ChatServer(replies=counting_replies) as srv:
        proc = evolve("run", str(task), "--model", f"openai:stub@{srv.openai_base_url}", "-n", "4",
                      "--storage", storage, "--llm-concurrency", "1", "--eval-concurrency", "1", "-q")
    assert proc.returncode == 0, proc.stderr
    assert "stopped: iterations" in proc.stdout and "4 children" in proc.stdout
    [run] = Store(storage).list_runs()
    status = evolve("status", run["id"][:6], "--storage", storage)
    assert status.returncode == 0 and "children: 4 of 4" in status.stdout
    out = tmp_path / "best.py"
    best = evolve("best", run["id"], "--storage", storage, "--out", str(out))
    assert best.returncode == 0, best.stderr
    assert "return 5" in out.read_text()  # the largest value the server proposed


@pytest.mark.slow
def test_killed_run_resumes_without_losing_anything(tmp_path, storage):
    """kill -9 in the middle of a run, then `evolve resume`: every stored child survives and the run completes
    with exactly the requested number of children."""
    task = make_toy_task(tmp_path / "toy")
    with ChatServer(replies=counting_replies, latency_s=0.3) as srv:
        spec = f"openai:stub@{srv.openai_base_url}"
        proc = subprocess.Popen([sys.executable, "-m", "evolve", "run", str(task), "--model", spec, "-n", "10",
                                 "--storage", storage, "-q"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        store = Store(storage)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            runs = store.list_runs()
            if runs and store.count_candidates(runs[0]["id"]) >= 4:  # the seed and three children
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        [run] = store.list_runs()
        before = {c.id: c.score for c in store.iter_candidates(run["id"])}
        assert 4 <= len(before) < 11
        assert store.get_run(run["id"])["status"] == "running"  # killed: never marked stopped
        resumed = evolve("resume", run["id"], "--storage", storage, "-q")
    assert resumed.returncode == 0, resumed.stderr
    after = {c.id: c.score for c in store.iter_candidates(run["id"])}
    assert before.items() <= after.items()  # nothing stored was lost or rescored
    assert len(after) == 11  # the seed + exactly 10 children
    assert store.get_run(run["id"])["status"] == "finished"


@pytest.mark.slow
def test_sigterm_stops_cleanly_and_marks_the_run_stopped(tmp_path, storage):
    task = make_toy_task(tmp_path / "toy")
    with ChatServer(replies=counting_replies, latency_s=0.3) as srv:
        proc = subprocess.Popen([sys.executable, "-m", "evolve", "run", str(task), "--model",
                                 f"openai:stub@{srv.openai_base_url}", "-n", "50", "--storage", storage, "-q"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        store = Store(storage)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            runs = store.list_runs()
            if runs and store.count_candidates(runs[0]["id"]) >= 3:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped: interrupted" in out
    [run] = store.list_runs()
    assert store.get_run(run["id"])["status"] == "stopped"
    assert store.count_candidates(run["id"]) < 51
