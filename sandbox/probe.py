"""Observes from inside a real run which isolation features a mode delivers, so describe() reports facts.

The probe is a short Python script run in the sandbox exactly like a candidate; it checks network interfaces,
its pid and /proc, whether / is read-only, whether marker files the engine left in /tmp and /dev/shm are
visible, whether the workdir is writable, no_new_privs, whether it is the OOM killer's first choice, whether
System V shared memory is capped at its memory limit, whether the syscall filter is on, and the rlimits it got.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from . import cgroups, rlimits
from .api import Limits, Outcome

PROBE_LIMITS = Limits(wall_s=30, cpu_s=10, memory_mb=1024, max_processes=16, open_files=64)

_SCRIPT = r"""
import json, os, resource, socket, sys
def writable(path):
    try:
        open(path, "w").close()
        os.unlink(path)
        return True
    except OSError:
        return False
with open("/proc/self/status") as f:
    status = f.read()
report = {
    "uid": os.getuid(),
    "gid": os.getgid(),
    "groups": os.getgroups(),
    "network_isolated": [name for _, name in socket.if_nameindex()] in ([], ["lo"]),
    "pid_namespace": os.getpid() <= 2,  # the namespace's init (warm) or its first child (process)
    "private_proc": len([p for p in os.listdir("/proc") if p.isdigit()]) <= 2,
    "readonly_root": bool(os.statvfs("/").f_flag & os.ST_RDONLY),
    "private_tmp": not os.path.exists(sys.argv[1]) and writable("/tmp/evolve-probe"),
    "private_dev_shm": not os.path.exists(sys.argv[2]),
    "workdir_writable": writable("evolve-probe"),
    "no_new_privs": "NoNewPrivs:\t1" in status,
    "oom_score_adj": int(open("/proc/self/oom_score_adj").read()),
    "shmmax": int(open("/proc/sys/kernel/shmmax").read()) if os.path.exists("/proc/sys/kernel/shmmax") else -1,
    "syscall_filter": "Seccomp:\t2" in status,
    "rlimits": {n: resource.getrlimit(getattr(resource, "RLIMIT_" + n))[0] for n in sys.argv[3:]},
}
os.write(int(os.environ["EVOLVE_RESULT_FD"]), json.dumps(report).encode())
"""


class ProbeFailed(RuntimeError):
    """The probe did not run to completion under this mode."""


def observe(run: Callable[[list[str], Path, Limits], Outcome]) -> dict[str, object]:
    """Run the probe via ``run(argv, workdir, limits)``; its findings, with rlimits as the enforced names."""
    with (
        tempfile.TemporaryDirectory(prefix="evolve-probe-") as tmp,
        tempfile.NamedTemporaryFile(prefix="evolve-probe-", dir="/tmp") as tmp_marker,
        tempfile.NamedTemporaryFile(prefix="evolve-probe-", dir="/dev/shm") as shm_marker,
    ):
        argv = [sys.executable, "-I", "-S", "-c", _SCRIPT, tmp_marker.name, shm_marker.name, *rlimits.NAMES]
        outcome = run(argv, Path(tmp), PROBE_LIMITS)
    if outcome.returncode != 0 or not outcome.result:
        raise ProbeFailed(f"probe exited {outcome.returncode}: {outcome.stderr.strip()[-500:]}")
    seen = json.loads(outcome.result)
    pids_cgroup = cgroups.hierarchies() is not None
    expected = dict(zip(rlimits.NAMES, (soft for _, soft, _ in rlimits.table(PROBE_LIMITS, pids_cgroup)),
                        strict=True))
    seen["rlimits"] = [name for name, value in seen["rlimits"].items() if value == expected[name]]
    seen["oom_killed_first"] = seen.pop("oom_score_adj") == rlimits.OOM_SCORE_ADJ
    seen["shared_memory_capped"] = 0 <= seen.pop("shmmax") <= PROBE_LIMITS.memory_mb << 20
    return seen
