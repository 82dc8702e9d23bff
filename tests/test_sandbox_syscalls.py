"""The syscall filter itself (``sandbox.syscall_filter``): each kernel door it shuts, tried by root in a fresh
interpreter three ways: without the filter (the door opens on this kernel, so the test can tell), with it (the
door is refused: EPERM, or ENOSYS for clone3) and with the door's group allowed (opens again). As root, no
missing privilege can stand in for the filter. The corpus (tests/adversarial) tries the same doors from inside
every backend, where the outcome must be a refusal too.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import make_toy_task

from evaluators.program import ProgramEvaluator
from evolve.errors import EvolveError
from evolve.task import load_task
from sandbox import Limits, get_sandbox, syscall_filter

# x86_64 call numbers; each snippet prints "ok" when the door opened, else the errno name
PRELUDE = """
import ctypes, errno, os, struct, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def call(number, *args):  # every int as a long: syscall() is variadic and reads six longs
    return libc.syscall(number, *(ctypes.c_long(a) if isinstance(a, int) else a for a in args))
def said(rc):
    print("ok" if rc >= 0 else errno.errorcode[ctypes.get_errno()], flush=True)
"""
DOORS = {
    "user_namespaces": "said(libc.unshare(0x10000000))",
    "clone3": ("args = ctypes.create_string_buffer(struct.pack('=8Q', 0, 0, 0, 0, 17, 0, 0, 0))\n"
               "pid = call(435, args, 64)\n"
               "if pid == 0:\n    os._exit(0)\n"
               "if pid > 0:\n    os.waitpid(pid, 0)\n"
               "said(pid)"),
    "mount": "said(libc.mount(b'none', b'/mnt', b'tmpfs', 0, None))",
    "open_by_handle_at": ("h = ctypes.create_string_buffer((128).to_bytes(4, 'little'), 136)\n"
                          "m = ctypes.c_int()\n"
                          "assert call(303, -100, b'/etc/hostname', h, ctypes.byref(m), 0) == 0\n"
                          "said(call(304, -100, h, 0))"),
    "ptrace": ("child = os.fork()\n"
               "if child == 0:\n    time.sleep(30)\n    os._exit(0)\n"
               "said(libc.ptrace(16, child, None, None))\n"
               "os.kill(child, 9)\n"),
    "process_vm": ("class V(ctypes.Structure):\n    _fields_ = [('b', ctypes.c_void_p), ('n', ctypes.c_size_t)]\n"
                   "a, b = ctypes.create_string_buffer(64), ctypes.create_string_buffer(64)\n"
                   "said(call(310, os.getpid(), ctypes.byref(V(ctypes.addressof(a), 64)), 1,"
                   " ctypes.byref(V(ctypes.addressof(b), 64)), 1, 0))"),
    "bpf": ("attr = ctypes.create_string_buffer(struct.pack('=IIII', 2, 4, 4, 1), 128)\n"
            "said(call(321, 0, attr, 128))"),
    "perf_event_open": ("attr = ctypes.create_string_buffer(struct.pack('=IIQ', 1, 128, 0), 128)\n"
                        "said(call(298, attr, 0, -1, -1, 0))"),
    "userfaultfd": "said(call(323, 1))",
}
GROUP_OF = {"clone3": "user_namespaces"}
SETUP = {  # runs before the filter: a private mount namespace, so the unfiltered mount changes nothing outside
    "mount": ("assert libc.unshare(0x00020000) == 0\n"
              "assert libc.mount(None, b'/', None, 0x4000 | 0x40000, None) == 0\n"),
}

pytestmark = pytest.mark.skipif(os.uname().machine != "x86_64" or os.geteuid() != 0,
                                reason="x86_64 call numbers, tried as root (as CI runs)")


def attempt(door: str, allowed: frozenset[str] | None) -> str:
    """Try `door` in a fresh interpreter under the filter with `allowed` open (None: no filter at all)."""
    install = ("" if allowed is None else
               "from sandbox import linux, syscall_filter\n"
               "linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)\n"
               f"syscall_filter.build(frozenset({sorted(allowed)!r})).install()\n")
    code = PRELUDE + SETUP.get(door, "") + install + DOORS[door]
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize("door", sorted(DOORS))
def test_the_filter_shuts_each_door_unless_its_group_is_allowed(door):
    if attempt(door, None) != "ok":
        pytest.skip(f"{door} does not open on this kernel even for root, so the filter cannot be told apart")
    assert attempt(door, frozenset()) == ("ENOSYS" if door == "clone3" else "EPERM")
    assert attempt(door, frozenset({GROUP_OF.get(door, door)})) == "ok"


@pytest.mark.parametrize("backend", ["process", "warm"])
def test_threads_and_forks_still_work_under_the_filter(backend, tmp_path):
    """clone3 refused with ENOSYS: the C library falls back to clone for threads (which the filter checks only for
    CLONE_NEWUSER), so ordinary candidates lose nothing."""
    code = ("import os, threading\n"
            "t = threading.Thread(target=lambda: None)\n"
            "t.start()\nt.join()\n"
            "pid = os.fork()\n"
            "if pid == 0:\n    os._exit(7)\n"
            "print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))\n")
    out = get_sandbox(backend).run([sys.executable, "-c", code], tmp_path, Limits(wall_s=10))
    assert out.returncode == 0 and out.stdout.strip() == "7", out.stderr


def test_an_unknown_group_is_refused():
    with pytest.raises(ValueError, match="unknown syscall groups"):
        syscall_filter.build(frozenset({"everything"}))


@pytest.mark.parametrize("backend", ["process", "warm"])
def test_a_run_that_allows_a_group_gets_that_door_open_and_no_other(backend, tmp_path):
    """The opt-in travels through Limits to the job's own filter (on warm, on top of the zygote's open one)."""
    code = PRELUDE + DOORS["process_vm"] + "\n" + DOORS["userfaultfd"]
    argv = [sys.executable, "-c", code]
    sandbox = get_sandbox(backend)
    assert sandbox.run(argv, tmp_path, Limits(wall_s=10)).stdout.split() == ["EPERM", "EPERM"]
    opened = sandbox.run(argv, tmp_path, Limits(wall_s=10, allowed_syscalls=frozenset({"process_vm"})))
    assert opened.stdout.split() == ["ok", "EPERM"], opened.stderr


def test_a_task_opts_in_by_group_in_its_task_yaml(tmp_path):
    task_dir = make_toy_task(tmp_path / "toy")
    yaml = task_dir / "task.yaml"
    text = yaml.read_text()
    yaml.write_text(text.replace("memory_mb: 512}", "memory_mb: 512, allow_syscalls: [ptrace, perf_event_open]}"))
    evaluator = ProgramEvaluator.for_task(load_task(task_dir), get_sandbox("process"))
    assert evaluator.limits.allowed_syscalls == {"ptrace", "perf_event_open"}
    yaml.write_text(text.replace("memory_mb: 512}", "memory_mb: 512, allow_syscalls: [everything]}"))
    with pytest.raises(EvolveError, match="unknown syscall group.*everything.*choose from: user_namespaces"):
        load_task(task_dir)
