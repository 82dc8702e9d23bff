"""Whole-job limits on the process and warm backends (``sandbox.cgroups``): memory spread over many processes
and tmpfs files, a fork bomb, the kernel task profile's shared mappings, peak memory, and clean-up.

Each test keeps what it may take of the machine small (a 256 MB job limit; the candidates try for about 1 GB,
which is what they would take without a cgroup). They need a cgroup this engine can use (root with cgroup v1
memory and pids hierarchies, or a cgroup v2 with those controllers delegated), as CI has.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest

from sandbox import Limits, cgroups, get_sandbox
from sandbox.api import Outcome

LIMIT_MB = 256
SPREAD = """
import os, time
kids = []
for i in range(6):  # 6 x 120 MB of anonymous memory, each child well under its own address-space rlimit
    pid = os.fork()
    if pid == 0:
        blob = bytearray(120 << 20)
        for j in range(0, len(blob), 4096):
            blob[j] = 1
        time.sleep(20)
        os._exit(0)
    kids.append(pid)
for folder in ("/tmp", "/dev/shm"):  # and 2 x 150 MB of files in the job's memory-backed folders
    try:
        with open(folder + "/fill", "wb") as f:
            for _ in range(15):
                f.write(b"x" * (10 << 20))
    except OSError as exc:
        print("write failed:", exc)
for pid in kids:
    os.waitpid(pid, 0)
print("survived")
"""


@pytest.fixture(params=["process", "warm"])
def sandbox(request):
    if cgroups.hierarchies() is None:
        pytest.skip(f"no usable cgroup here: {cgroups.describe()}")
    return get_sandbox(request.param)


def run(sandbox, code: str, tmp_path: Path, limits: Limits) -> Outcome:
    workdir = tmp_path / "work"
    workdir.mkdir(exist_ok=True)
    return sandbox.run([sys.executable, "-I", "-c", code], workdir, limits)


def available_mb() -> float:
    with open("/proc/meminfo") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("MemAvailable:")) / 1024


def test_memory_spread_over_processes_and_tmpfs_ends_the_job_within_the_limit(sandbox, tmp_path):
    lowest, stop = [available_mb()], threading.Event()
    baseline = lowest[0]

    def watch() -> None:
        while not stop.is_set():
            lowest.append(available_mb())
            time.sleep(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        out = run(sandbox, SPREAD, tmp_path, Limits(wall_s=30, cpu_s=30, memory_mb=LIMIT_MB))
    finally:
        stop.set()
        watcher.join()
    taken_mb = baseline - min(lowest)
    print(f"host memory taken at most: {taken_mb:.0f} MB (job limit {LIMIT_MB} MB)")
    assert out.violation == "memory limit (cgroup)" and out.returncode == -9, out
    assert "survived" not in out.stdout  # the limit ended the whole job, not one child of it
    assert LIMIT_MB * 0.5 <= out.peak_mem_mb <= LIMIT_MB + 1
    # other work on the machine moves MemAvailable too; without the cgroup this job takes about 1 GB
    assert taken_mb < LIMIT_MB + 160, taken_mb


def test_fork_bomb_hits_the_pids_limit(sandbox, tmp_path):
    code = ("import os, time\n"
            "n = 0\n"
            "while True:\n"
            "    if os.fork() == 0:\n"
            "        time.sleep(30)\n"
            "        os._exit(0)\n"
            "    n += 1\n"
            "    print(n, flush=True)\n")
    limits = Limits(wall_s=10, cpu_s=10, memory_mb=LIMIT_MB, max_processes=16)
    out = run(sandbox, code, tmp_path, limits)
    assert out.violation == "process limit (pids cgroup)", out
    assert "Resource temporarily unavailable" in out.stderr
    # the job's first process counts too; RLIMIT_NPROC is only a second line at twice the limit
    assert int(out.stdout.split()[-1]) == limits.max_processes - 1


def test_the_kernel_profile_is_bounded_by_the_cgroup_too(sandbox, tmp_path):
    """address_space=False (CUDA) caps only RLIMIT_DATA, which shared mappings escape; the cgroup counts them."""
    code = ("import mmap\n"
            "m = mmap.mmap(-1, 768 << 20, flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)\n"
            "for i in range(0, len(m), 4096):\n"
            "    m[i] = 1\n"
            "print('survived')\n")
    out = run(sandbox, code, tmp_path, Limits(wall_s=30, cpu_s=30, memory_mb=LIMIT_MB, address_space=False))
    assert out.violation == "memory limit (cgroup)" and "survived" not in out.stdout, out


def test_peak_memory_is_the_whole_jobs(sandbox, tmp_path):
    code = ("import os, time\n"
            "r, w = os.pipe()\n"
            "kids = []\n"
            "for i in range(4):\n"
            "    if (pid := os.fork()) == 0:\n"
            "        blob = bytearray(40 << 20)\n"
            "        for j in range(0, len(blob), 4096):\n"
            "            blob[j] = 1\n"
            "        os.write(w, b'x')\n"
            "        time.sleep(1)\n"
            "        os._exit(0)\n"
            "    kids.append(pid)\n"
            "for _ in kids:\n"
            "    os.read(r, 1)\n"  # all four hold their 40 MB at once
            "for pid in kids:\n"
            "    os.waitpid(pid, 0)\n")
    out = run(sandbox, code, tmp_path, Limits(wall_s=30, cpu_s=30, memory_mb=LIMIT_MB))
    assert out.returncode == 0 and out.violation is None, out
    assert out.peak_mem_mb >= 160  # no single process of it ever held more than about 60 MB


def test_a_jobs_cgroup_is_removed_when_it_ends(sandbox, tmp_path):
    code = "import os\nprint(open('/proc/self/cgroup').read())\n"
    out = run(sandbox, code, tmp_path, Limits(wall_s=10, memory_mb=LIMIT_MB))
    joined = [line.split(":", 2)[2] for line in out.stdout.splitlines() if "/job-" in line]
    assert joined, out.stdout  # the candidate ran inside its job's cgroup
    v2, v1 = cgroups._mounts()
    roots = [*v1.values(), *([v2] if v2 else [])]
    for path in joined:
        assert not any((root / path.lstrip("/")).exists() for root in roots)
    described = sandbox.describe()["job_limits"]
    assert described.startswith("cgroup v") and "bound the whole job" in described


def test_without_cgroups_the_gap_is_stated(monkeypatch):
    monkeypatch.setattr(cgroups, "_selected", (None, "cgroup v1: needs root"))
    assert cgroups.describe() == ("rlimits per process only (cgroup v1: needs root): memory spread over several "
                                  "processes or tmpfs files is not bounded by memory_mb")
    with cgroups.job(Limits()) as cgroup:
        assert cgroup is None


def test_evolve_cgroups_are_created_under_the_engines_own():
    """Every limit the host puts on the engine keeps holding its jobs."""
    found = cgroups.hierarchies()
    if found is None:
        pytest.skip(f"no usable cgroup here: {cgroups.describe()}")
    own = cgroups._own_paths()
    v2_mount, v1_mounts = cgroups._mounts()
    for controller, base in found._bases.items():
        mount, path = (v2_mount, own[""]) if found.version == 2 else (v1_mounts[controller], own[controller])
        assert mount / path.lstrip("/") in (base.parent, base.parent / "evolve-engine")  # v2 may move to a leaf
        assert base.name == f"evolve-{os.stat('/proc/self/ns/pid').st_ino}-{os.getpid()}"
