"""The unsafe `none` backend: no isolation, but no interpreter start per run either (a fork of a long-lived
zygote), with its documented guarantees kept: a scrubbed environment, rlimits, a wall-clock limit, and its
process group killed when a run ends."""

import os
import sys
import time
from pathlib import Path

from sandbox import Limits, get_sandbox

LIMITS = Limits(wall_s=10, cpu_s=10)


def run(code: str, workdir: Path, limits: Limits = LIMITS):
    return get_sandbox("none").run([sys.executable, "-c", code], workdir, limits)


def test_runs_fork_from_one_long_lived_process_as_the_engines_user(tmp_path: Path) -> None:
    code = "import os; print(os.getppid(), os.getuid())"
    first, second = run(code, tmp_path), run(code, tmp_path)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    zygote, uid = first.stdout.split()
    assert second.stdout.split() == [zygote, uid]  # the same parent both times: a fork, not a new interpreter
    assert int(zygote) != os.getpid() and int(uid) == os.geteuid()


def test_the_run_works_in_the_callers_folder(tmp_path: Path) -> None:
    out = run("open('made.txt', 'w').write('x'); import os; print(os.getcwd())", tmp_path)
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()) == tmp_path.resolve() and (tmp_path / "made.txt").read_text() == "x"


def test_what_a_run_leaves_running_is_killed_with_its_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    code = ("import subprocess, sys; p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
            f"open({str(pid_file)!r}, 'w').write(str(p.pid))")
    assert run(code, tmp_path).returncode == 0
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)


def test_a_run_past_its_wall_limit_is_killed(tmp_path: Path) -> None:
    start = time.monotonic()
    out = run("import time; time.sleep(60)", tmp_path, Limits(wall_s=0.5, cpu_s=5))
    assert out.timed_out and out.violation == "timeout"
    assert time.monotonic() - start < 10


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
