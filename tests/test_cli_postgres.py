"""Every store-using command against a real PostgreSQL server: run and resume as a user runs them (subprocesses,
a real HTTP model server), then status, best and store version; the URL's password is never printed."""

from conftest import make_toy_task
from test_cli import counting_replies, evolve
from typer.testing import CliRunner

from evolve.cli import app
from evolve.store import Store

try:
    from tests.support.chat_server import ChatServer
except ImportError:
    from support.chat_server import ChatServer

PASSWORD = "s3cret-pw"  # the throwaway server trusts local connections, so any password is accepted


def test_run_status_best_resume_on_postgresql(tmp_path, postgres_url):
    storage = postgres_url.replace("evolve@", f"evolve:{PASSWORD}@")
    task = make_toy_task(tmp_path / "toy")
    outputs = []
    with ChatServer(replies=counting_replies) as srv:
        model = f"openai:stub@{srv.openai_base_url}"
        run = evolve("run", str(task), "--model", model, "-n", "3", "--storage", storage, "--llm-concurrency", "1",
                     "--eval-concurrency", "1", "-q")
        assert run.returncode == 0, run.stderr
        [row] = Store(storage).list_runs()
        resume = evolve("resume", row["id"][:6], "-n", "5", "--storage", storage, "-q")
        assert resume.returncode == 0, resume.stderr
        outputs += [run, resume]
    assert "storage postgresql+psycopg://evolve:***@127.0.0.1" in run.stdout
    assert "stopped: iterations · 5 children" in resume.stdout
    runner = CliRunner()
    status, listing, best, version = (runner.invoke(app, [*args, "--storage", storage]).output for args in
                                      (["status", row["id"]], ["status"], ["best", row["id"]], ["store", "version"]))
    assert "children: 5 of 5" in status and row["id"] in listing
    assert "return 6" in best  # the largest value the server proposed in five children
    assert "schema version 2; this Evolve uses schema version 2" in version
    assert all(PASSWORD not in p.stdout + p.stderr for p in outputs)
    assert all(PASSWORD not in text for text in (status, listing, best, version))
    assert [c.seq for c in Store(storage).iter_candidates(row["id"])] == list(range(6))


def test_store_commands_document_themselves():
    for args in (["store", "--help"], ["store", "upgrade", "--help"], ["store", "version", "--help"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0 and "Usage:" in result.output, result.output
