"""The docker sandbox backend against hostile candidates, on a real Docker engine (tests/support/docker_engine.py
starts one when it can; the tests skip, naming the failed step, only when no engine can run here)."""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker
import psutil
import pytest

from evaluators.candidate_channel import Candidate, read_frame
from sandbox import Limits, Outcome, Sandbox
from sandbox.docker_backend import LABEL
from tests.support.fill import FILL_WORK_FOLDER

try:
    from tests.support.docker_engine import docker_sandbox  # a fixture, used by name
except ImportError:  # tests/ itself on sys.path (plain `pytest` without a rootdir package)
    from support.docker_engine import docker_sandbox  # noqa: F401 - a fixture, used by name

pytestmark = pytest.mark.slow

SMALL = Limits(
    wall_s=10, cpu_s=10, memory_mb=256, max_processes=16, file_size_mb=8, open_files=64, output_bytes=64 << 10
)
CHANNEL = Path(__file__).resolve().parents[1] / "evaluators" / "candidate_channel.py"
REPORT = "import json, os\ndef report(value):\n    os.write(int(os.environ['EVOLVE_RESULT_FD']), json.dumps(value).encode())\n"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


def run(sandbox: Sandbox, code: str, workdir: Path, limits: Limits = SMALL, **kwargs) -> Outcome:
    return sandbox.run([sys.executable, "-c", REPORT + code], workdir, limits, **kwargs)


def leftover_containers(marker: str) -> list[str]:
    """Containers of this backend, running or not, whose command mentions ``marker``."""
    client = docker.from_env()
    try:
        found = client.containers.list(all=True, filters={"label": LABEL})
    finally:
        client.close()
    return [c.name for c in found if marker in c.attrs.get("Command", "")]


def test_run_returns_output_result_and_measurements(docker_sandbox: Sandbox, workdir: Path) -> None:
    code = "import sys\nprint('hello')\nprint('oops', file=sys.stderr)\nreport({'ok': 1})\nsys.exit(3)"
    out = run(docker_sandbox, code, workdir)
    assert (out.returncode, out.stdout, out.stderr) == (3, "hello\n", "oops\n")
    assert json.loads(out.result) == {"ok": 1}
    assert not out.timed_out and out.violation is None
    assert out.wall_s > 0 and out.cpu_s > 0 and out.peak_mem_mb > 0


def test_numpy_imports_inside(docker_sandbox: Sandbox, workdir: Path) -> None:
    out = run(docker_sandbox, "import numpy\nreport(int(numpy.arange(10).sum()))", workdir)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.result) == 45


def test_output_is_capped(docker_sandbox: Sandbox, workdir: Path) -> None:
    limits = Limits(**{**SMALL.__dict__, "output_bytes": 1000})
    out = run(docker_sandbox, "import sys\nsys.stdout.write('x' * 1_000_000)", workdir, limits)
    assert out.returncode == 0
    assert "bytes dropped]" in out.stdout and len(out.stdout) < 1200


def test_describe_reports_the_confinement(docker_sandbox: Sandbox) -> None:
    facts = docker_sandbox.describe()
    assert facts["backend"] == "docker" and facts["network"] == "none" and facts["image"]
    assert facts["network_isolated"] and facts["readonly_root"] and facts["private_tmp"]
    assert facts["no_new_privs"] and facts["uid"] != 0 and facts["env_scrubbed"]


def test_no_network(docker_sandbox: Sandbox, workdir: Path) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    code = f"""
import socket
def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as exc:
        return type(exc).__name__
report({{
    "interfaces": [name for _, name in socket.if_nameindex()],
    "host_port": attempt(lambda: socket.create_connection(("127.0.0.1", {port}), timeout=2)),
    "dns": attempt(lambda: socket.getaddrinfo("example.com", 80)),
    "outside": attempt(lambda: socket.create_connection(("1.1.1.1", 53), timeout=2)),
}})
"""
    with listener:
        out = run(docker_sandbox, code, workdir)
    seen = json.loads(out.result)
    assert seen["interfaces"] == ["lo"]
    assert seen["host_port"] == "ConnectionRefusedError"  # the container's own loopback, not the host's
    assert seen["dns"] == "gaierror" and seen["outside"] != "ok"


def test_cannot_write_outside_the_workdir(docker_sandbox: Sandbox, workdir: Path, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "data.txt").write_text("input")
    code = f"""
def write(path):
    try:
        with open(path, "w") as f:
            f.write("x")
        return "written"
    except OSError as exc:
        return exc.strerror
report({{
    "root": write("/evil"),
    "etc": write("/etc/passwd"),
    "usr": write("/usr/evil"),
    "bridge": write("/run/evolve-bridge/evil"),
    "readonly_path": write({str(shared / "data.txt")!r}),
    "read": open({str(shared / "data.txt")!r}).read(),
    "tmp": write("/tmp/scratch"),
    "workdir": write("out.txt"),
    "given": open("given.txt").read(),
    "work_source": write("/run/evolve-work/evil"),
}})
"""
    (workdir / "given.txt").write_text("from the caller")
    out = run(docker_sandbox, code, workdir, readonly_paths=[shared])
    seen = json.loads(out.result)
    read_only = {seen[key] for key in ("root", "etc", "usr", "bridge", "readonly_path", "work_source")}
    assert read_only == {"Read-only file system"}
    assert seen["read"] == "input" and seen["tmp"] == seen["workdir"] == "written"
    assert seen["given"] == "from the caller"  # the caller's files are copied into the run's tmpfs
    assert (shared / "data.txt").read_text() == "input"
    assert sorted(p.name for p in workdir.iterdir()) == ["given.txt"]  # nothing written there is kept


def test_the_work_folder_is_a_sized_tmpfs(docker_sandbox: Sandbox, workdir: Path) -> None:
    """Filling the work folder ends inside the container: its tmpfs is full (ENOSPC) or, as tmpfs pages count
    against the container's memory, the memory limit kills it first; the host's folder gets nothing."""
    code = FILL_WORK_FOLDER + "report(outcome)\n"
    out = run(docker_sandbox, code, workdir, limits=Limits(wall_s=30, memory_mb=128, file_size_mb=16))
    if out.violation != "memory limit (cgroup)":
        code_name, written = json.loads(out.result)
        assert code_name == "ENOSPC" and written <= 128, out
    assert list(workdir.iterdir()) == []


def test_runs_as_non_root_without_capabilities(docker_sandbox: Sandbox, workdir: Path) -> None:
    code = "status = open('/proc/self/status').read()\nreport([os.getuid(), 'CapEff:\\t0000000000000000' in status])"
    uid, no_caps = json.loads(run(docker_sandbox, code, workdir).result)
    assert uid != 0 and no_caps


def test_engine_environment_does_not_reach_the_child(
    docker_sandbox: Sandbox, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-planted-secret")
    out = run(docker_sandbox, "report(dict(os.environ))", workdir, env={"TASK_SETTING": "7"})
    seen = json.loads(out.result)
    assert "sk-planted-secret" not in json.dumps(seen) and "OPENAI_API_KEY" not in seen
    assert seen["TASK_SETTING"] == "7"


@pytest.mark.parametrize(
    "body", ["import time\ntime.sleep(60)", "while True:\n    pass"], ids=["sleep", "spin"]
)
def test_timeout_kills_the_container(docker_sandbox: Sandbox, workdir: Path, body: str) -> None:
    marker = uuid.uuid4().hex
    limits = Limits(**{**SMALL.__dict__, "wall_s": 1.0})
    out = run(docker_sandbox, f"# {marker}\n{body}", workdir, limits)
    assert out.timed_out and out.returncode is None and out.violation == "timeout"
    assert out.wall_s < 5
    assert leftover_containers(marker) == []


def test_background_processes_die_with_the_candidate(docker_sandbox: Sandbox, workdir: Path) -> None:
    marker = uuid.uuid4().hex
    code = f"import subprocess\nsubprocess.Popen(['sleep', '300', '{marker}'], start_new_session=True)"
    out = run(docker_sandbox, code, workdir)
    assert out.returncode == 0 and out.wall_s < 5
    assert not [p for p in psutil.process_iter(["cmdline"]) if marker in " ".join(p.info["cmdline"] or [])]
    assert leftover_containers(marker) == []


def test_memory_bomb_is_stopped(docker_sandbox: Sandbox, workdir: Path) -> None:
    limits = Limits(**{**SMALL.__dict__, "memory_mb": 128})
    out = run(docker_sandbox, "hog = []\nwhile True:\n    hog.append(b'x' * (16 << 20))", workdir, limits)
    assert not out.timed_out
    assert out.violation == "memory limit (cgroup)", (out.returncode, out.stderr[-500:])


def test_fork_bomb_is_stopped_by_the_pids_limit(docker_sandbox: Sandbox, workdir: Path) -> None:
    out = run(docker_sandbox, "while True:\n    os.fork()", workdir)
    assert not out.timed_out
    assert out.violation == "process limit (pids cgroup)", (out.returncode, out.stderr[-500:])


def test_pass_fds_carry_a_request_reply_channel(docker_sandbox: Sandbox, workdir: Path) -> None:
    """The evaluator/candidate channel over two relayed pipes, used as evaluators/program.py does: wait for
    "ready", close the worker's ends, call, then close the request end; EOF must end the worker."""
    (workdir / "program.py").write_text("def double(x):\n    return [2 * v for v in x]\n")
    request_r, request_w = os.pipe()
    reply_r, reply_w = os.pipe()
    argv = [sys.executable, "-I", str(CHANNEL), "program.py", str(request_r), str(reply_w)]
    outcomes: list[Outcome] = []
    worker = threading.Thread(
        target=lambda: outcomes.append(
            docker_sandbox.run(argv, workdir, SMALL, readonly_paths=[CHANNEL], pass_fds=(request_r, reply_w))
        )
    )
    worker.start()
    try:
        assert read_frame(reply_r, time.monotonic() + 10) == {"ready": True}
        os.close(request_r)
        os.close(reply_w)
        candidate = Candidate("", request_w, reply_r, deadline=time.monotonic() + 10)
        assert candidate.call("double", [1, 2, 21]) == [2, 4, 42]
        assert candidate.call("double", list(range(50_000)))[-1] == 99_998  # frames larger than a pipe buffer
    finally:
        os.close(request_w)  # EOF: the worker's loop ends
        worker.join(15)
    assert read_frame(reply_r, time.monotonic() + 5) is None  # the worker is gone: its write end closed
    os.close(reply_r)
    assert outcomes and outcomes[0].returncode == 0, outcomes and outcomes[0].stderr


def test_concurrent_runs_stay_apart(docker_sandbox: Sandbox, tmp_path: Path) -> None:
    dirs = [tmp_path / f"w{i}" for i in range(3)]
    for path in dirs:
        path.mkdir()

    def one(path: Path) -> object:
        return json.loads(run(docker_sandbox, "report(os.getcwd())", path).result)

    with ThreadPoolExecutor(3) as pool:
        assert list(pool.map(one, dirs)) == [str(p) for p in dirs]


def test_unreachable_engine_says_why_and_how_to_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    from sandbox.docker_backend import DockerSandbox

    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(RuntimeError, match="no Docker engine reachable.*Start the daemon"):
        DockerSandbox()
