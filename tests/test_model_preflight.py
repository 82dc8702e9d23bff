"""Model errors up front: a missing key, an unknown model or an unreachable server is one line before a run is
created (evolve/llm/preflight.py), for every provider and for models taken from a peer's config. Servers are
real HTTP servers on 127.0.0.1 (tests/support/chat_server.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from evolve.cli import app
from evolve.errors import EvolveError
from evolve.llm import parse_model_spec
from evolve.llm.preflight import check
from evolve.runner import new_run
from evolve.store import Store
from tests.support.chat_server import ChatServer
from tests.support.ports import free_port

FIXTURES = Path(__file__).parent / "fixtures"


def _error(spec: str, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(EvolveError) as err:
        check([parse_model_spec(spec)], environ={} if environ is None else environ)
    assert "\n" not in err.value.message
    return err.value.message


def test_missing_keys_are_named_for_each_vendor():
    assert _error("openai:gpt-4o-mini").startswith(
        "model openai:gpt-4o-mini: the environment variable OPENAI_API_KEY is not set")
    assert "ANTHROPIC_API_KEY is not set" in _error("anthropic:claude-haiku-4-5")


def test_unreachable_and_unknown_models_on_an_openai_compatible_server():
    port = free_port()
    assert "cannot reach http://127.0.0.1" in _error(f"openai:m@http://127.0.0.1:{port}/v1")
    with ChatServer(models=["qwen-a", "qwen-b"]) as srv:
        assert "does not serve 'qwen-c' (it serves: qwen-a, qwen-b)" in _error(f"openai:qwen-c@{srv.openai_base_url}")
        check([parse_model_spec(f"openai:qwen-b@{srv.openai_base_url}")], environ={})
    with ChatServer(model="one-file.gguf") as srv:  # a one-model server (llama.cpp) answers to any name
        check([parse_model_spec(f"openai:anything@{srv.openai_base_url}")], environ={})


def test_local_model_file_must_exist(tmp_path):
    assert "not found" in _error(f"local:{tmp_path / 'missing.gguf'}")


def test_cli_run_without_a_key_is_one_line_and_creates_no_run(toy_task, storage, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    result = CliRunner().invoke(app, ["run", str(toy_task), "--model", "openai:gpt-4o-mini", "--storage", storage])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "Error: model openai:gpt-4o-mini: the environment variable OPENAI_API_KEY is not set (set it, or choose "
        "another model with --model, e.g. --model local)"]
    assert Store(storage).list_runs() == []


def test_models_from_a_peers_config_are_checked_and_named(storage):
    with pytest.raises(EvolveError, match=r"model openai:stand-in \(from config.yaml\): cannot reach http://127.0.0.1:9"):
        new_run(FIXTURES / "openevolve_artifacts", storage, {})
    assert Store(storage).list_runs() == []


def test_model_flag_overrides_a_peers_config(storage):
    from evolve.runner import settings_from_cli

    prepared = new_run(FIXTURES / "openevolve_artifacts", storage, settings_from_cli(["scripted"]))
    assert [m.label for m in prepared.config.models] == ["scripted:scripted"]
    assert prepared.config.iterations == 6  # the rest of config.yaml still applies
