"""Kernel objects outside the filesystem, on the process and warm backends: System V IPC, abstract unix sockets,
keyrings, vsock and io_uring. Each job gets its own IPC, network and UTS namespaces (shared memory capped at its
memory limit) and a syscall filter for what no namespace covers, so nothing one candidate creates there reaches
another candidate, beside it or after it, or the host. (Found by a red-team pass: on the warm backend, jobs shared
the zygote's IPC and network namespaces; keyrings outlived every run.)"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

import pytest

from sandbox import Limits, get_sandbox

LIMITS = Limits(wall_s=10, memory_mb=256)
LIBC = "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nlibc.shmget.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_int]\n"
IPC_CREAT = 0o1000


@pytest.fixture(params=["process", "warm"])
def sandbox(request):
    if os.geteuid() != 0:
        pytest.fail("these tests run where CI runs (as root), where both backends drop to a slot uid")
    return get_sandbox(request.param)


def run(sandbox, code: str, tmp_path: Path, name: str) -> dict:
    """Run `code`, which sets `report` (a dict); return it."""
    workdir = tmp_path / name
    workdir.mkdir()
    script = code + "\nos.write(int(os.environ['EVOLVE_RESULT_FD']), json.dumps(report).encode())\n"
    outcome = sandbox.run([sys.executable, "-I", "-c", "import json, os\n" + script], workdir, LIMITS)
    assert outcome.returncode == 0, outcome.stderr[-2000:]
    return json.loads(outcome.result)


def test_system_v_objects_die_with_their_job(sandbox, tmp_path):
    plant = LIBC + (
        "shm = libc.shmget(0x5EED, 1 << 20, IPC_CREAT | 0o666)\n"
        "msg = libc.msgget(0x5EED, IPC_CREAT | 0o666)\n"
        "report = {'shm': shm, 'msg': msg}\n").replace("IPC_CREAT", str(IPC_CREAT))
    planted = run(sandbox, plant, tmp_path, "plant")
    assert planted["shm"] >= 0 and planted["msg"] >= 0  # allowed inside: it is the job's own namespace
    look = ("report = {kind: open(f'/proc/sysvipc/{kind}').read().splitlines()[1:] for kind in ('shm', 'msg')}\n")
    assert run(sandbox, look, tmp_path, "look") == {"shm": [], "msg": []}


def test_shared_memory_is_capped_at_the_memory_limit(sandbox, tmp_path):
    code = LIBC + (
        f"small = libc.shmget(0, 64 << 20, {IPC_CREAT} | 0o600)\n"
        f"big = libc.shmget(0, {LIMITS.memory_mb + 64} << 20, {IPC_CREAT} | 0o600)\n"
        "report = {'small': small, 'big': big, 'errno': ctypes.get_errno()}\n")
    seen = run(sandbox, code, tmp_path, "shm")
    assert seen["small"] >= 0
    assert seen["big"] == -1 and seen["errno"] == 22  # EINVAL: over shmmax


def test_abstract_sockets_do_not_connect_jobs_running_side_by_side(sandbox, tmp_path):
    listen = ("import socket, time\n"
              "s = socket.socket(socket.AF_UNIX)\n"
              "s.bind('\\0evolve-test-rendezvous')\n"
              "s.listen()\n"
              "s.settimeout(4)\n"
              "try:\n"
              "    s.accept()\n"
              "    report = {'accepted': True}\n"
              "except OSError:\n"
              "    report = {'accepted': False}\n")
    listener: dict = {}
    thread = threading.Thread(target=lambda: listener.update(run(sandbox, listen, tmp_path, "listen")))
    thread.start()
    connect = ("import socket, time\n"
               "time.sleep(1)\n"
               "s = socket.socket(socket.AF_UNIX)\n"
               "try:\n"
               "    s.connect('\\0evolve-test-rendezvous')\n"
               "    report = {'connected': True}\n"
               "except OSError as exc:\n"
               "    report = {'connected': False, 'error': type(exc).__name__}\n")
    connector = run(sandbox, connect, tmp_path, "connect")
    thread.join()
    assert connector == {"connected": False, "error": "ConnectionRefusedError"}
    assert listener == {"accepted": False}


def test_keyrings_vsock_and_io_uring_are_refused(sandbox, tmp_path):
    code = LIBC + (
        "import socket\n"
        "def errno_of(rc):\n"
        "    return ctypes.get_errno() if rc == -1 else None\n"
        "report = {\n"
        "    'add_key': errno_of(libc.syscall(248, b'user', b'evolve', b'secret', 6, ctypes.c_int(-4))),\n"
        "    'keyctl': errno_of(libc.syscall(250, 0, ctypes.c_int(-4), 0)),\n"
        "    'io_uring_setup': errno_of(libc.syscall(425, 8, ctypes.create_string_buffer(120))),\n"
        "}\n"
        "try:\n"
        "    socket.socket(40, socket.SOCK_STREAM)\n"
        "    report['vsock'] = None\n"
        "except OSError as exc:\n"
        "    report['vsock'] = exc.errno\n")
    if os.uname().machine != "x86_64":
        pytest.skip("the call numbers in this test are x86_64's (the filter itself knows aarch64's too)")
    assert run(sandbox, code, tmp_path, "calls") == {"add_key": 1, "keyctl": 1, "io_uring_setup": 1, "vsock": 1}


def test_describe_reports_the_filter_and_the_shared_memory_cap(sandbox):
    info = sandbox.describe()
    assert info["syscall_filter"] is True and info["shared_memory_capped"] is True
