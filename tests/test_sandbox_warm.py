"""The warm backend: forked jobs keep the process backend's guarantees and leak nothing to the next job.

The hostile-candidate corpus (tests/adversarial) runs on this backend too; these tests cover what is specific
to forking from a long-lived zygote.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from sandbox import Limits, get_sandbox

LIMITS = Limits(wall_s=10, memory_mb=512)


@pytest.fixture(scope="module")
def warm():
    if os.geteuid() != 0:
        pytest.fail("the warm backend needs root; these tests run where CI runs (as root)")
    return get_sandbox("warm")


def run(sandbox, code: str, workdir: Path, **kw):
    return sandbox.run([sys.executable, "-I", "-c", code], workdir, LIMITS, **kw)


def test_auto_prefers_the_warm_backend_as_root(warm):
    assert get_sandbox("auto") is warm


def test_describe_reports_observed_isolation(warm):
    info = warm.describe()
    for feature in ("network_isolated", "pid_namespace", "private_proc", "readonly_root", "private_tmp",
                    "private_dev_shm", "workdir_writable", "no_new_privs", "oom_killed_first"):
        assert info[feature] is True, feature
    assert info["uid"] >= 1_900_000_000 and set(info["rlimits"]) >= {"CPU", "AS", "NPROC", "NOFILE"}


def test_nothing_leaks_from_one_job_to_the_next(warm, tmp_path):
    """Module state, builtins, /tmp, /dev/shm, the work folder and the environment start fresh each time."""
    first = tmp_path / "a"
    first.mkdir()
    leave = """
import builtins, json, os, sys
builtins.LEAK = 1
json.LEAK = 2
os.environ["LEAK"] = "3"
open("/tmp/leak", "w").write("x")
open("/dev/shm/leak", "w").write("x")
open("mine.txt", "w").write("x")
"""
    assert run(warm, leave, first).returncode == 0
    second = tmp_path / "b"
    second.mkdir()
    look = """
import builtins, json, os
print(json.dumps([hasattr(builtins, "LEAK"), hasattr(json, "LEAK"), "LEAK" in os.environ,
                  os.path.exists("/tmp/leak"), os.path.exists("/dev/shm/leak"), os.listdir(".")]))
"""
    out = run(warm, look, second)
    assert json.loads(out.stdout) == [False, False, False, False, False, []]


def test_work_folder_files_arrive_and_paths_stay_valid(warm, tmp_path):
    (tmp_path / "input.txt").write_text("hello")
    code = f"import os; print(os.getcwd() == {str(tmp_path)!r}, open({str(tmp_path / 'input.txt')!r}).read())"
    out = run(warm, code, tmp_path)
    assert out.stdout.split() == ["True", "hello"]


def test_readonly_paths_under_tmp_are_visible_and_read_only(warm, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "data.txt").write_text("42")
    work = tmp_path / "work"
    work.mkdir()
    code = f"""
p = {str(shared / 'data.txt')!r}
print(open(p).read())
try:
    open(p, "w")
    print("writable")
except OSError as exc:
    print(type(exc).__name__)
"""
    out = run(warm, code, work, readonly_paths=[shared])
    assert out.stdout.split() == ["42", "OSError"] or out.stdout.split() == ["42", "PermissionError"]


@pytest.mark.parametrize("parent", ["/usr/local", "/var/tmp"])
def test_hidden_paths_look_empty_and_all_but_the_system_folders_are_hidden(warm, tmp_path, parent):
    """Inside a system folder (which jobs see), a folder is hidden when the caller says so; anywhere else
    (/var, /home, /opt, a checkout under /work...) it is hidden anyway."""
    secret = Path(parent) / f"evolve-hidden-{os.getpid()}"
    secret.mkdir(exist_ok=True)
    try:
        (secret / "answer.txt").write_text("42")
        secret.chmod(0o755)
        (secret / "answer.txt").chmod(0o644)
        code = f"import os; print(os.listdir({str(secret)!r}) if os.path.isdir({str(secret)!r}) else 'absent')"
        visible = run(warm, code, tmp_path).stdout.strip()
        assert visible == ("['answer.txt']" if parent == "/usr/local" else "absent")
        assert run(warm, code, tmp_path, hidden_paths=[secret]).stdout.strip() in ("[]", "absent")
    finally:
        (secret / "answer.txt").unlink()
        secret.rmdir()


def test_passed_fds_and_result_channel_at_any_fd_number(warm, tmp_path):
    """Caller fd numbers above the zygote's own are moved into place without clobbering each other."""
    read_end, write_end = os.pipe()
    high = [os.dup2(write_end, 300), os.dup2(read_end, 301)]
    os.close(read_end)
    os.close(write_end)
    try:
        code = "import os; os.write(300, b'ping'); os.write(int(os.environ['EVOLVE_RESULT_FD']), b'done')"
        out = warm.run([sys.executable, "-I", "-c", code], tmp_path, LIMITS, pass_fds=high)
        assert out.returncode == 0 and out.result == b"done", out.stderr
        assert os.read(301, 16) == b"ping"
    finally:
        for fd in high:
            os.close(fd)


def test_timeout_kills_the_job_and_everything_it_started(warm, tmp_path):
    code = "import os, time\nif os.fork() == 0:\n    os.setsid()\nwhile True:\n    time.sleep(1)\n"
    out = warm.run([sys.executable, "-c", code], tmp_path, Limits(wall_s=1))
    assert out.timed_out and out.returncode is None and out.violation == "timeout"


def test_one_zygote_supervises_jobs_side_by_side(warm, tmp_path):
    """The zygote itself waits for every job: one that runs into its deadline neither delays a short job
    started after it nor loses its own timeout, and each job gets its own PID namespace."""
    from concurrent.futures import ThreadPoolExecutor

    slow_dir, quick_dir = tmp_path / "slow", tmp_path / "quick"
    slow_dir.mkdir()
    quick_dir.mkdir()
    assert run(warm, "pass", tmp_path).returncode == 0  # the zygote is up
    with ThreadPoolExecutor(2) as pool:
        slow = pool.submit(warm.run, [sys.executable, "-c", "import time\nwhile True: time.sleep(1)"], slow_dir,
                           Limits(wall_s=2))
        time.sleep(0.3)
        quick = pool.submit(run, warm, "import os; print(os.getpid())", quick_dir)
        quick_out = quick.result(timeout=1.5)
        assert not slow.done()
        slow_out = slow.result(timeout=10)
    assert quick_out.returncode == 0 and quick_out.stdout.strip() == "1" and quick_out.wall_s < 1.5
    assert slow_out.timed_out and 2 <= slow_out.wall_s < 4


def test_non_python_argv_is_executed(warm, tmp_path):
    out = warm.run(["/bin/sh", "-c", "echo from-sh; id -u"], tmp_path, LIMITS)
    lines = out.stdout.split()
    assert lines[0] == "from-sh" and int(lines[1]) >= 1_900_000_000


def test_without_namespaces_the_warm_backend_declines_and_auto_falls_back(monkeypatch):
    from sandbox import process, registry
    from sandbox.warm import WarmSandbox, WarmUnavailable

    monkeypatch.setattr(process.ProcessSandbox, "isolation", lambda self: process.Isolation(False, False, True))
    with pytest.raises(WarmUnavailable, match="needs namespaces"):
        WarmSandbox()
    monkeypatch.setattr(registry, "_instances", {})
    assert get_sandbox("auto").name == "process"


def test_a_zygote_killed_from_outside_is_replaced(warm, tmp_path):
    import psutil

    assert run(warm, "pass", tmp_path).returncode == 0
    zygotes = [p for p in psutil.process_iter(["cmdline"]) if "zygote.py" in " ".join(p.info["cmdline"] or [])
               and any(parent.pid == os.getpid() for parent in p.parents())]
    assert zygotes
    for proc in zygotes:
        proc.kill()
    _wait_dead(zygotes)
    out = run(warm, "print('after')", tmp_path)
    assert out.returncode == 0 and out.stdout.strip() == "after", out.stderr


def _wait_dead(procs, timeout_s: float = 5.0) -> None:
    """Until each process is gone or a zombie, without reaping it: the warm backend's own thread reaps its zygote
    (psutil.wait_procs would reap it first, and that thread's wait4 would find no child)."""
    import psutil

    deadline = time.monotonic() + timeout_s
    for proc in procs:
        while time.monotonic() < deadline:
            try:
                if proc.status() == psutil.STATUS_ZOMBIE:
                    break
            except psutil.NoSuchProcess:
                break
            time.sleep(0.02)


def test_a_script_changed_between_jobs_runs_as_changed(warm, tmp_path):
    """The zygote keeps the compiled code of each script it can see (here a read-only path, as the harness
    is); an edited file must not run stale code."""
    scripts, work = tmp_path / "scripts", tmp_path / "work"
    scripts.mkdir()
    work.mkdir()
    script = scripts / "script.py"
    outputs = []
    for version in (1, 2, 3):
        script.write_text(f"print({version}, __name__, __file__)\n" + "# padding\n" * version)
        out = warm.run([sys.executable, "-I", str(script)], work, LIMITS, readonly_paths=[scripts])
        outputs.append(out.stdout.strip())
    assert outputs == [f"{v} __main__ {script}" for v in (1, 2, 3)]


def test_a_script_that_does_not_compile_fails_in_the_job(warm, tmp_path):
    scripts, work = tmp_path / "scripts", tmp_path / "work"
    scripts.mkdir()
    work.mkdir()
    script = scripts / "broken.py"
    script.write_text("def broken(:\n")
    out = warm.run([sys.executable, "-I", str(script)], work, LIMITS, readonly_paths=[scripts])
    assert out.returncode != 0 and "SyntaxError" in out.stderr


def test_preloaded_modules_are_imported_once_in_the_zygote_and_only_evolves_own(warm, tmp_path):
    """`preload` imports Evolve's own modules in the zygote ahead of the job; any other file (here one a
    candidate could have written) is never run there: the job imports it itself, under its own confinement."""
    from evaluators.program import CHANNEL

    scripts, work = tmp_path / "scripts", tmp_path / "work"
    scripts.mkdir()
    work.mkdir()
    foreign = scripts / "foreign.py"
    foreign.write_text("import os\nRAN_AS = os.getuid()\n")
    script = scripts / "job.py"
    script.write_text(
        "import sys\n"
        "before = [name in sys.modules for name in ('candidate_channel', 'foreign')]\n"
        "sys.path.insert(0, %r)\n"
        "import foreign\n"
        "print(*before, foreign.RAN_AS)\n" % str(scripts))
    out = warm.run([sys.executable, "-I", str(script)], work, LIMITS, readonly_paths=[scripts],
                   preload=[CHANNEL, foreign])
    preloaded, foreign_preloaded, ran_as = out.stdout.split()
    assert (preloaded, foreign_preloaded) == ("True", "False"), out.stderr
    assert int(ran_as) >= 1_900_000_000  # imported by the job, as its slot uid


def test_an_engine_that_exits_leaves_no_zygote_folder_behind(tmp_path):
    """Each zygote copies jobs into a folder of its own; the engine removes them when it exits."""
    code = (
        "import sys, tempfile\n"
        "from pathlib import Path\n"
        "from sandbox import Limits, get_sandbox\n"
        "box = get_sandbox('warm')\n"
        "out = box.run([sys.executable, '-c', 'pass'], Path(sys.argv[1]), Limits(wall_s=10))\n"
        "print(*[z.jobs_root for z in box._zygotes.values()])\n"
    )
    import subprocess

    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1], timeout=60)
    roots = [Path(p) for p in done.stdout.split()]
    assert done.returncode == 0 and roots, done.stderr
    assert not [p for p in roots if p.exists()]


def test_an_engine_in_a_venv_under_tmp_runs_jobs(tmp_path):
    """Jobs get a fresh /tmp; whatever of the zygote's view lay under it (here the engine's own venv, as in a
    newcomer's `python -m venv /tmp/venv`) must be bound again, or the job cannot find its interpreter."""
    import subprocess
    import venv

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(system_site_packages=True, symlinks=True).create(env_dir)
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})\n"
        "from sandbox import Limits, get_sandbox\n"
        "box = get_sandbox('warm')\n"
        "out = box.run([sys.executable, '-c', 'import sys; print(sys.prefix)'], Path(sys.argv[1]), Limits(wall_s=10))\n"
        "print(out.returncode, out.stdout.strip(), out.stderr[-300:])\n"
    )
    work = tmp_path / "work"
    work.mkdir()
    done = subprocess.run([str(env_dir / "bin" / "python"), "-c", code, str(work)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[:2] == ["0", str(env_dir)], done.stdout
