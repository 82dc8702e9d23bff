"""The evaluator server (call interface on the process and warm backends): the task's evaluator is loaded once
per server and each candidate is judged in a fresh fork of it; an evaluator that hangs, crashes or dies takes
only its own candidate down, and the next candidate is judged as usual."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import psutil
import pytest

from evaluators.evaluator_pool import SERVER
from evaluators.program import CHANNEL, ProgramEvaluator
from evolve.task import load_task
from sandbox import get_sandbox

PROGRAM = "# EVOLVE-BLOCK-START\ndef value():\n    return 3\n# EVOLVE-BLOCK-END\n"
TASK_YAML = "name: served\nseed: program.py\nevaluator: evaluate.py\nobjective: score\nlimits: {wall_s: %s}\n"


def make_evaluator(tmp_path: Path, evaluate_py: str, backend: str, wall_s: float = 10,
                   cpu_s: float | None = None) -> ProgramEvaluator:
    root = tmp_path / "task"
    root.mkdir()
    root.chmod(0o755)
    limits = f"{wall_s}, cpu_s: {cpu_s}" if cpu_s else f"{wall_s}"
    (root / "task.yaml").write_text(TASK_YAML % limits)
    (root / "program.py").write_text(PROGRAM)
    (root / "evaluate.py").write_text(evaluate_py)
    return ProgramEvaluator.for_task(load_task(root), get_sandbox(backend))


def evaluate_all(evaluator: ProgramEvaluator, *sources: str) -> list:
    """Each source's result in turn, on the same evaluator (and so the same servers), then close it."""
    try:
        return [evaluator.evaluate(source) for source in sources]
    finally:
        evaluator.close()


@pytest.fixture(params=["process", "warm"])
def backend(request) -> str:
    return request.param


def test_the_evaluator_is_loaded_once_and_each_candidate_gets_a_fresh_fork(tmp_path, backend):
    evaluator = make_evaluator(tmp_path, (
        "import os, tempfile\n"
        "LOADED_BY = os.getpid()\n"
        "CALLS = []\n"
        "def evaluate(candidate):\n"
        "    CALLS.append(1)  # module state: a fresh fork per candidate must never see an earlier one's\n"
        "    open('left-behind', 'w').write('x')\n"
        "    tempfile.mkstemp()  # in the same fresh folder\n"
        "    return {'score': float(candidate.call('value')), 'loaded_by': float(LOADED_BY),\n"
        "            'judged_by': float(os.getpid()), 'calls': float(len(CALLS)),\n"
        "            'left_behind': float(len(os.listdir('.')))}\n"), backend)
    results = evaluate_all(evaluator, PROGRAM, PROGRAM, PROGRAM)
    assert all(r.status == "ok" and r.metrics["score"] == 3.0 for r in results), results
    assert len({r.metrics["loaded_by"] for r in results}) == 1  # one server loaded it
    assert len({r.metrics["judged_by"] for r in results}) == 3  # three forks judged
    assert all(r.metrics["judged_by"] != r.metrics["loaded_by"] for r in results)
    assert [r.metrics["calls"] for r in results] == [1.0, 1.0, 1.0]
    assert [r.metrics["left_behind"] for r in results] == [2.0, 2.0, 2.0]  # a fresh folder per candidate


def test_a_hanging_evaluator_times_out_and_the_next_candidate_is_judged(tmp_path, backend):
    evaluator = make_evaluator(tmp_path, (
        "import time\n"
        "def evaluate(candidate):\n"
        "    if candidate.source.count('return 4'):\n"
        "        while True:\n"
        "            time.sleep(1)\n"
        "    return {'score': float(candidate.call('value'))}\n"), backend, wall_s=1)
    hung, after = evaluate_all(evaluator, PROGRAM.replace("return 3", "return 4"), PROGRAM)
    assert hung.status == "timeout" and "wall-time limit" in hung.reason
    assert after.status == "ok" and after.metrics["score"] == 3.0


def test_each_judge_has_its_own_cpu_limit(tmp_path, backend):
    """The server lives long, so the evaluation's CPU limit is set in each judge (a fork's CPU time starts at
    zero): a spinning evaluator is stopped by it well before the wall limit, and the next judge gets it whole."""
    evaluator = make_evaluator(tmp_path, (
        "def evaluate(candidate):\n"
        "    if 'return 4' in candidate.source:\n"
        "        while True:\n"
        "            pass\n"
        "    return {'score': float(candidate.call('value'))}\n"), backend, wall_s=20, cpu_s=1)
    spun, after = evaluate_all(evaluator, PROGRAM.replace("return 3", "return 4"), PROGRAM)
    assert spun.status == "sandbox-violation" and spun.reason == "cpu time limit", spun
    assert spun.wall_s < 10
    assert after.status == "ok"


def test_an_evaluator_that_kills_its_process_is_a_crash_of_that_candidate_only(tmp_path, backend):
    evaluator = make_evaluator(tmp_path, (
        "import os, signal\n"
        "def evaluate(candidate):\n"
        "    if 'return 4' in candidate.source:\n"
        "        os.kill(os.getpid(), signal.SIGSEGV)\n"
        "    return {'score': float(candidate.call('value'))}\n"), backend)
    crashed, after = evaluate_all(evaluator, PROGRAM.replace("return 3", "return 4"), PROGRAM)
    assert crashed.status == "sandbox-violation" and "SIGSEGV" in crashed.reason
    assert after.status == "ok"


def test_an_evaluator_that_does_not_import_fails_every_candidate_clearly(tmp_path, backend):
    evaluator = make_evaluator(tmp_path, "import no_such_module_anywhere\n", backend)
    results = evaluate_all(evaluator, PROGRAM, PROGRAM)
    assert all(r.status == "crashed" and "no_such_module_anywhere" in r.reason for r in results), results


def test_probes_that_fail_fail_the_evaluation_and_end_the_candidates_worker(tmp_path):
    """probes() is read while the candidate's worker starts: when it fails, the worker is ended too."""
    evaluator = make_evaluator(tmp_path, (
        "def probes():\n"
        "    raise ValueError('no probes today')\n"
        "def evaluate(candidate):\n"
        "    return {'score': float(candidate.call('value'))}\n"), "process")
    try:
        with pytest.raises(RuntimeError, match="probes\\(\\) failed.*no probes today"):
            evaluator.evaluate(PROGRAM, twin_of=lambda behaviour: None)
    finally:
        evaluator.close()
    assert not _processes_running(CHANNEL)


def _servers_gone(timeout_s: float = 5.0) -> bool:
    """Whether every server process is gone within `timeout_s` (a sandbox's processes end a moment after its
    run returns: the kernel tears a PID namespace down after its init)."""
    _, alive = psutil.wait_procs(_servers_of_this_engine(), timeout=timeout_s)
    return not alive


def _servers_of_this_engine() -> list[psutil.Process]:
    """The evaluator servers this engine runs on the process backend (each its own interpreter there, named by
    its argv; on the warm backend a server is a zygote's job and shows the zygote's argv)."""
    return _processes_running(SERVER)


def _processes_running(script: Path) -> list[psutil.Process]:
    """This engine's descendants whose argv runs `script` (on the process backend)."""
    found = []
    for proc in psutil.Process().children(recursive=True):
        try:  # by the script argument: the sandbox's forks of this engine show pytest's argv, which names
            if script in [Path(arg) for arg in proc.cmdline()]:  # tests/test_evaluator_server.py
                found.append(proc)
        except psutil.Error:  # ended meanwhile
            pass
    return found


def test_a_server_killed_between_candidates_is_replaced(tmp_path):
    evaluator = make_evaluator(tmp_path, (
        "import os\n"
        "def evaluate(candidate):\n"
        "    return {'score': float(candidate.call('value')), 'server': float(os.getppid())}\n"), "process")
    try:
        first = evaluator.evaluate(PROGRAM)
        servers = _servers_of_this_engine()
        assert servers, "the process backend runs the server as its own interpreter"
        for server in servers:
            server.send_signal(signal.SIGKILL)
        psutil.wait_procs(servers, timeout=10)
        second = evaluator.evaluate(PROGRAM)
    finally:
        evaluator.close()
    assert first.status == second.status == "ok", (first, second)
    assert _servers_gone()  # close() stopped the new one


def test_close_stops_the_servers_and_removes_their_folders(tmp_path):
    evaluator = make_evaluator(tmp_path, (
        "import os\n"
        "def evaluate(candidate):\n"
        "    return {'score': float(candidate.call('value')), 'folder': float(len(os.getcwd()))}\n"), "process")
    assert evaluator.evaluate(PROGRAM).status == "ok"
    assert _servers_of_this_engine()
    folders = [s._workdir for s in evaluator._servers._idle]  # noqa: SLF001 - what close() must remove
    evaluator.close()
    assert _servers_gone()
    assert folders and not any(os.path.exists(f) for f in folders)
