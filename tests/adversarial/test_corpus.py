"""The adversarial corpus: every program in programs/ is a hostile candidate with the outcome it must get.

Each program's header says `# expect: STATUS [STATUS...]` (any of them is right), optionally `# reason: REGEX`
(searched in the stored reason) and `# score: N` (default 0: no hostile candidate may earn the task's point).
Placeholders {OUTSIDE}, {TASK}, {ENGINE_PID}, {PORT}, {UNIX_SOCKET}, {ENGINE_FILE} and {REPO_ANSWER} are
filled in with real targets. For every program the test also checks that no file outside its folder changed,
that no process of it is left alive, that the planted API key appears nowhere, and that nothing reached a
listener on 127.0.0.1 or on a world-writable unix socket of the host.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import psutil
import pytest

from evaluators.program import ProgramEvaluator
from evolve.task import load_task
from sandbox import get_sandbox
from sandbox.identity import SLOT_BASE_UID
from tests.support.docker_engine import ensure_engine

HERE = Path(__file__).parent
PROGRAMS = sorted((HERE / "programs").glob("*.py"))
PLANTED_KEY = "sk-planted-adversarial-0123456789"

pytestmark = pytest.mark.slow


def expectations(path: Path) -> tuple[set[str], str | None, float]:
    header = dict(re.findall(r"^# (expect|reason|score): (.+)$", path.read_text(), re.M))
    return set(header["expect"].split()), header.get("reason"), float(header.get("score", 0))


class Listener:
    """A listener that counts who reached it: TCP on the host's 127.0.0.1, or a unix socket anyone may use."""

    def __init__(self, unix_path: Path | None = None) -> None:
        if unix_path is None:
            self.sock = socket.create_server(("127.0.0.1", 0))
            self.port = self.sock.getsockname()[1]
        else:
            self.sock = socket.create_server(str(unix_path), family=socket.AF_UNIX)
            os.chmod(unix_path, 0o777)
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()


@pytest.fixture(scope="module", params=["process", "warm", "docker"])
def world(request, tmp_path_factory):
    if request.param == "docker" and (reason := ensure_engine()):
        pytest.skip(f"the docker backend needs a Docker engine: {reason}")
    outside = tmp_path_factory.mktemp("outside")
    (outside / "canary.txt").write_text("untouched")
    (outside / "secret.txt").write_text("the engine's secret")
    os.chmod(outside / "secret.txt", 0o600)
    # Outside /tmp (which the sandbox replaces anyway) and world-readable, like an installed task: only the
    # sandbox's hiding of the task folder keeps the answer from the candidate.
    holder = Path(tempfile.mkdtemp(prefix="evolve-adversarial-", dir="/var/tmp"))
    task_dir = holder / "adversarial"
    shutil.copytree(HERE / "task", task_dir)
    for path in (holder, task_dir, *task_dir.iterdir()):
        path.chmod(0o755 if path.is_dir() else 0o644)
    # world-readable files of the engine's (a database, a second copy of the answers) and a socket of the
    # host's, beside the task, in a folder a checkout could be in: the sandbox must show none of them
    engine_file = holder / "evolve.db"
    engine_file.write_text((HERE / "task" / "answer.txt").read_text())
    engine_file.chmod(0o644)
    unix_listener = Listener(holder / "host.sock")
    task = load_task(task_dir)
    evaluator = ProgramEvaluator.for_task(task, get_sandbox(request.param))
    assert evaluator.sandbox.name == request.param
    old_key = os.environ.get("OPENAI_API_KEY")
    os.environ["OPENAI_API_KEY"] = PLANTED_KEY
    listener = Listener()
    yield {
        "outside": outside,
        "task": task_dir,
        "evaluator": evaluator,
        "listener": listener,
        "unix_listener": unix_listener,
        "engine_file": engine_file,
        "rss_before": psutil.Process().memory_info().rss,
    }
    listener.sock.close()
    unix_listener.sock.close()
    shutil.rmtree(holder, ignore_errors=True)
    if old_key is None:
        os.environ.pop("OPENAI_API_KEY", None)
    else:
        os.environ["OPENAI_API_KEY"] = old_key


def snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def render(path: Path, world: dict) -> str:
    source = path.read_text()
    for key, value in (
        ("{OUTSIDE}", world["outside"]),
        ("{TASK}", world["task"]),
        ("{ENGINE_PID}", os.getpid()),
        ("{PORT}", world["listener"].port),
        ("{UNIX_SOCKET}", world["unix_listener"].sock.getsockname()),
        ("{ENGINE_FILE}", world["engine_file"]),
        ("{REPO_ANSWER}", HERE / "task" / "answer.txt"),
    ):
        source = source.replace(key, str(value))
    return source


def sandbox_processes() -> set[int]:
    """Pids running under a sandbox slot uid that belong to this test: our descendants, or orphans adopted by
    the host's init (a process that escaped its sandbox). Other engines' candidates on the machine are not."""
    found = set()
    for proc in psutil.process_iter(["uids", "ppid"]):
        uids = proc.info["uids"]
        if uids is None or uids.real < SLOT_BASE_UID:
            continue
        try:
            ours = proc.info["ppid"] == 1 or any(p.pid == os.getpid() for p in proc.parents())
        except psutil.Error:  # gone meanwhile
            continue
        if ours:
            found.add(proc.pid)
    return found


def test_corpus_is_big_enough():
    assert len(PROGRAMS) >= 25


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.stem)
def test_hostile_candidate_gets_its_outcome_and_harms_nothing(program, world):
    expect, reason_pattern, score = expectations(program)
    before_outside, before_task = snapshot(world["outside"]), snapshot(world["task"])
    connections = world["listener"].connections, world["unix_listener"].connections

    # with a twin lookup, so the engine itself sends the task's probes first and reads the replies
    result = world["evaluator"].evaluate(render(program, world), twin_of=lambda behaviour: None)
    world["evaluator"].close()  # its evaluator servers too: after this, no process of the run may be left

    assert result.status in expect, f"{result.status}: {result.reason}"
    if reason_pattern:
        assert result.reason and re.search(reason_pattern, result.reason), result.reason
    if result.status == "ok":
        assert result.metrics["score"] == score
    else:
        assert result.reason, "a failed candidate must say why"
    stored = json.dumps([result.reason, result.artifacts])
    assert PLANTED_KEY not in stored
    assert len(stored) < 64_000  # artifacts are bounded, whatever the candidate printed
    assert snapshot(world["outside"]) == before_outside
    assert snapshot(world["task"]) == before_task
    assert not Path("/etc/evolve-pwned").exists() and not Path("/usr/evolve-pwned").exists()
    assert not (world["outside"] / "pickled").exists()
    assert (world["listener"].connections, world["unix_listener"].connections) == connections
    deadline = time.monotonic() + 3
    while (left := sandbox_processes()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"processes left alive: {sorted(left)}"


def test_engine_memory_stayed_bounded(world):
    """After a gigabyte of output, memory bombs and thousands of threads, the engine grew by little."""
    grown_mb = (psutil.Process().memory_info().rss - world["rss_before"]) / 2**20
    assert grown_mb < 200, grown_mb


def test_engine_environment_never_reaches_the_candidate(tmp_path):
    """An engine *started* with an API key (so it is in its initial environ block, which forked helpers share)
    evaluates candidates that look for it in os.environ and /proc/*/environ."""
    task_dir = tmp_path / "adversarial"
    shutil.copytree(HERE / "task", task_dir)
    hunt = textwrap.dedent("""
        import os
        def run():
            found = []
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    try:
                        with open(f"/proc/{pid}/environ", "rb") as f:
                            found.append(f.read().decode(errors="replace"))
                    except OSError as exc:
                        found.append(type(exc).__name__)
            found.append(repr(dict(os.environ)))
            print(found)
            raise RuntimeError(repr(found))
    """)
    script = textwrap.dedent(f"""
        import json, sys
        from evaluators.program import ProgramEvaluator
        from evolve.task import load_task
        from sandbox import Limits, get_sandbox
        task = load_task({str(task_dir)!r})
        ev = ProgramEvaluator(evaluator_path=task.evaluator_path, program_name=task.seed_path.name,
                              objective="score", thresholds=[], sandbox=get_sandbox("process"),
                              task_root=task.root, limits=Limits(wall_s=5, memory_mb=512))
        r = ev.evaluate(sys.stdin.read())
        print(json.dumps({{"status": r.status, "reason": r.reason, "artifacts": r.artifacts}}))
    """)
    env = {**os.environ, "OPENAI_API_KEY": PLANTED_KEY, "ANTHROPIC_API_KEY": PLANTED_KEY}
    proc = subprocess.run(
        [sys.executable, "-c", script],
        input=hunt,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=Path(__file__).parents[2],
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["status"] == "crashed" and "RuntimeError" in report["reason"]
    assert "PATH" in report["artifacts"]["stdout"]  # it did read its own environment
    assert PLANTED_KEY not in proc.stdout
