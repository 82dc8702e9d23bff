"""Candidate-written text reaches the user's terminal only as data: a real `evolve run`, `status` and `best` in a
pseudo-terminal (where escape sequences would act), against a task whose candidates put an OSC title, an
erase-line, a colour, C1 control bytes and rich markup into their errors, stdout, stderr, metric names and
artifacts. The output must hold none of those sequences raw, and show them as visible escapes where it shows
the text at all."""

from __future__ import annotations

import io
import logging
import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

from conftest import block

from evolve import safe_logging
from evolve.store import Store
from tests.support.chat_server import ChatServer

PAYLOAD = ("\x1b]0;pwned-title\x07 \x1b[2K\rall candidates passed \x1b[38;5;196mred-marker\x1b[0m "
           "\u009b31mc1-marker \x90dcs-marker\x9c [bold]markup-marker[/bold]")
RAW = ["\x1b]0;pwned-title", "\x1b[2K\rall candidates", "\x1b[38;5;196mred", "\u009b31m", "\x90dcs"]

TASK = """\
name: hostile-text
kind: program
description: Candidates whose every output is an escape sequence.
seed: program.py
evaluator: evaluate.py
objective: score
limits: {wall_s: 10, memory_mb: 512}
"""
SEED = f"""\
# EVOLVE-BLOCK-START
def value():
    print({PAYLOAD!r})
    import sys
    print({PAYLOAD!r}, file=sys.stderr)
    return 1
# EVOLVE-BLOCK-END
BANNER = "{PAYLOAD.replace(chr(13), "")}"  # the raw characters in the source itself (no carriage return: a newline)
"""
EVALUATOR = f"""\
def evaluate(candidate):
    value = candidate.call("value")
    return {{"score": float(value), {PAYLOAD!r}: 1.0, "error" if value < 0 else "note": {PAYLOAD!r}}}
"""


def hostile_task(root: Path, seed: str = SEED) -> Path:
    root.mkdir(parents=True)
    (root / "task.yaml").write_text(TASK)
    (root / "program.py").write_text(seed)
    (root / "evaluate.py").write_text(EVALUATOR)
    return root


def in_terminal(*args: str, timeout: float = 180) -> tuple[int, str]:
    """Run the CLI with a pseudo-terminal as stdin, stdout and stderr; its exit code and everything it wrote."""
    master, slave = os.openpty()
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(TERM="xterm-256color", COLUMNS="200", LINES="50")
    proc = subprocess.Popen([sys.executable, "-m", "evolve", *args], stdin=slave, stdout=slave, stderr=slave,
                            env=env, close_fds=True)
    os.close(slave)
    chunks, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not select.select([master], [], [], 0.5)[0]:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 1 << 16)
            except OSError:  # EIO: every holder of the terminal's other side has gone
                break
            if not data:
                break
            chunks.append(data)
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    return proc.returncode, b"".join(chunks).decode("utf-8", "replace")


def assert_only_data(output: str) -> str:
    """Check that no payload sequence reached the terminal raw; return what the user reads: without the colours
    rich itself adds (which may fall inside the shown text), line wraps as spaces."""
    for raw in RAW:
        assert raw not in output, f"{raw!r} reached the terminal raw"
    return re.sub(r"\s+", " ", re.sub(r"\x1b\[[0-9;]*m", "", output))


def test_a_hostile_seed_error_is_shown_as_data(tmp_path):
    seed = SEED.replace("    return 1\n", f"    raise RuntimeError({PAYLOAD!r})\n")
    task = hostile_task(tmp_path / "task", seed)
    storage = f"sqlite:///{tmp_path / 'evolve.db'}"
    code, output = in_terminal("run", str(task), "-n", "1", "--storage", storage, "--model",
                               "scripted:random-edits")
    assert code == 2, output
    seen = assert_only_data(output)
    assert "\\x1b]0;pwned-title" in seen and "\\x9b31mc1-marker" in seen  # shown, as visible escapes
    [run] = Store(storage).list_runs()
    code, output = in_terminal("status", run["id"], "--storage", storage)
    assert code == 0, output
    seen = assert_only_data(output)
    assert "\\x1b[2K\\x0dall candidates passed" in seen
    assert "[bold]markup-marker[/bold]" in seen  # rich markup shown as text, not applied


def test_a_run_of_hostile_candidates_drives_nothing_in_the_terminal(tmp_path):
    task = hostile_task(tmp_path / "task")
    storage = f"sqlite:///{tmp_path / 'evolve.db'}"
    replies = [block(f"    print({PAYLOAD!r})\n    raise ValueError({PAYLOAD!r})"),
               block(f"    import sys\n    sys.stderr.write({PAYLOAD!r})\n    return 2"),
               block("    return -1")]
    with ChatServer(replies=lambda body, index: replies[index % len(replies)]) as srv:
        code, output = in_terminal("run", str(task), "--model", f"openai:stub@{srv.openai_base_url}", "-n", "3",
                                   "--storage", storage, "--llm-concurrency", "1", "--eval-concurrency", "1")
    assert code == 0, output
    assert "stopped: iterations" in output
    assert_only_data(output)
    [run] = Store(storage).list_runs()
    stored = [c for c in Store(storage).iter_candidates(run["id"])]
    assert any("pwned-title" in str(c.artifacts) for c in stored)  # the store keeps the text as it was
    code, output = in_terminal("status", run["id"], "--storage", storage)
    assert code == 0 and "children: 3 of 3" in assert_only_data(output), output

    code, output = in_terminal("best", run["id"], "--storage", storage)
    assert code == 0, output
    output = assert_only_data(output)
    assert 'BANNER = "\\x1b]0;pwned-title\\x07' in output and "control characters are shown as escapes" in output
    exact = tmp_path / "best.py"
    assert in_terminal("best", run["id"], "--storage", storage, "--out", str(exact))[0] == 0
    piped = subprocess.run([sys.executable, "-m", "evolve", "best", run["id"], "--storage", storage],
                           check=False, capture_output=True, text=True, timeout=120)
    banner = PAYLOAD.replace("\r", "")
    assert banner in exact.read_text() and banner in piped.stdout  # a file or a pipe gets the exact source


def test_log_records_are_shown_as_data():
    stream = io.StringIO()
    handler = safe_logging.install(stream)
    try:
        logging.getLogger("evolve.llm.retry").warning("provider said: %s", PAYLOAD)
    finally:
        logging.getLogger("evolve").removeHandler(handler)
    assert_only_data(stream.getvalue())
    assert "provider said: \\x1b]0;pwned-title\\x07" in stream.getvalue()
