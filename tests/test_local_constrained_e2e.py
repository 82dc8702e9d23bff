"""The embedded model under a grammar, for real: the README's first command makes children that apply, and a
second Ctrl-C ends the run at once even while the model is generating."""

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from evolve.store import Store

pytestmark = [pytest.mark.slow, pytest.mark.local_model]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}


def test_constrained_edits_from_the_embedded_model_apply_and_evaluate(tmp_path):
    storage = f"sqlite:///{tmp_path / 'evolve.db'}"
    proc = subprocess.run(
        [sys.executable, "-m", "evolve", "run", "circle_packing", "-n", "6", "--seed", "2", "--storage", storage,
         "-q"], check=False, capture_output=True, text=True, timeout=900, env=_env(), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    store = Store(storage)
    [run] = store.list_runs()
    children = [c for c in store.iter_candidates(run["id"]) if c.edit_kind != "seed"]
    assert len(children) == 6
    # auto chose constrained edits for the embedded model; a reply that failed to apply keeps the proposal's
    # operator as its edit kind, so this says that every numbers-only reply applied and parsed
    assert {c.edit_kind for c in children} <= {"constrained-numbers", "constrained-line", "constrained+line"}
    assert any(c.edit_kind == "constrained-numbers" for c in children)
    assert any(c.status == "ok" for c in children), [(c.status, c.reason) for c in children]
    for child in children:
        [call] = store.llm_calls_for(child.id)[:1]
        assert call["completion_tokens"] <= 60  # one short line, not a program


def _stored_candidates(path) -> int:
    """Candidates in the run's database, read without opening a Store (which would race the run for the
    schema it is creating)."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            return db.execute("select count(*) from candidates").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_a_second_ctrl_c_ends_the_run_while_the_model_is_generating(tmp_path):
    storage = f"sqlite:///{tmp_path / 'evolve.db'}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "evolve", "run", "circle_packing", "-n", "50", "--seed", "3", "--storage", storage,
         "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(), cwd=tmp_path)
    try:
        deadline = time.monotonic() + 300
        while not _stored_candidates(tmp_path / "evolve.db") and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert _stored_candidates(tmp_path / "evolve.db"), "the seed was never stored"
        time.sleep(1.0)  # the first proposals are now with the model (its first prompt takes seconds to read)
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)
        time.sleep(0.3)
        start = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        elapsed = time.monotonic() - start
    finally:
        if proc.poll() is None:
            proc.kill()
    out = proc.stdout.read() if proc.stdout else ""
    assert "stopped: interrupted" in out, out + (proc.stderr.read() if proc.stderr else "")
    print(f"exit {elapsed:.2f} s after the second Ctrl-C")
    assert elapsed < 2.0, f"the run took {elapsed:.1f} s to end after the second Ctrl-C"
    [run] = Store(storage).list_runs()
    assert run["status"] == "stopped"


async def test_the_local_provider_follows_a_grammar():
    from evolve.llm import build_provider, parse_model_spec

    provider = build_provider(parse_model_spec("local"))
    grammar = 'root ::= "13: centers = [" [0-9] "." [0-9] "]\\n"\n'
    messages = [{"role": "user", "content": "Write line 13 with a new number."}]
    for seed in range(3):
        reply = await provider.generate(messages, grammar=grammar, max_tokens=24, seed=seed)
        assert re.fullmatch(r"13: centers = \[[0-9]\.[0-9]\]\n", reply.text), reply.text
