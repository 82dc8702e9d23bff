"""pid 1 of a docker sandbox container: plugs the bridge sockets in as the candidate's fds, runs it, reports.

File descriptors cannot cross into a container, so the engine listens on one Unix socket per fd the candidate
expects (stdout, stderr, the result fd, every pass_fd) in a folder mounted into the container. This shim
connects to each, forks, places the connections at the expected numbers in the child, and execs the candidate.
As pid 1 it reaps orphans; when it exits the kernel kills whatever is left in the container. It then sends the
candidate's wait status and rusage on its own ``status`` socket, so the engine gets the exact return code, cpu
time and peak memory without polling container stats.

First it copies the caller's work folder (bound read-only at WORK_SOURCE) into its own, a tmpfs sized by the
memory limit. The candidate gets the engine's syscall filter (``sandbox.syscall_filter``, passed as the hex of
its instructions) on top of docker's own profile, so the same kernel doors are shut on every backend.

Runs as ``python -I -S -c <this source> BRIDGE WORK_SOURCE FD,FD,... FILTER ARGV...`` under the container's
interpreter: standard library only, and nothing of the engine is imported.
"""

import ctypes
import fcntl
import os
import shutil
import socket
import struct
import sys

STATUS = struct.Struct("<idd")  # wait status, cpu seconds, ru_maxrss KiB
_PR_SET_NO_NEW_PRIVS, _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 38, 22, 2


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _install_filter(code: bytes) -> None:
    """Install a seccomp program (struct sock_filter[], 8 bytes an instruction) on this process."""
    if not code:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    buffer = ctypes.create_string_buffer(code)
    prog = _SockFprog(len(code) // 8, ctypes.addressof(buffer))
    for option, arg2, arg3 in ((_PR_SET_NO_NEW_PRIVS, 1, 0),
                               (_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.addressof(prog))):
        if libc.prctl(option, *(ctypes.c_ulong(a) for a in (arg2, arg3, 0, 0))) != 0:
            raise OSError(ctypes.get_errno(), "prctl")


def _connect(bridge: str, name: str, floor: int) -> int:
    """A connection to ``bridge/name.sock``, as a close-on-exec fd numbered at least ``floor``."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(os.path.join(bridge, f"{name}.sock"))
    fd = fcntl.fcntl(conn.fileno(), fcntl.F_DUPFD_CLOEXEC, floor)
    conn.close()
    return fd


def main() -> None:
    bridge, work_source, syscalls, argv = sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[4]), sys.argv[5:]
    targets = [int(n) for n in sys.argv[3].split(",")]
    shutil.copytree(work_source, ".", symlinks=True, dirs_exist_ok=True)  # cwd: the work folder's tmpfs
    floor = max(targets) + 1  # no connection may sit on a target number before it is placed there
    status = _connect(bridge, "status", floor)
    sources = [_connect(bridge, str(fd), floor) for fd in targets]
    pid = os.fork()
    if pid == 0:
        for source, target in zip(sources, targets):
            os.dup2(source, target)  # inheritable; the sources are close-on-exec
        try:
            _install_filter(syscalls)
            os.execvp(argv[0], argv)
        except OSError as exc:
            os.write(2, f"{argv[0]}: {exc.strerror}\n".encode())
            os._exit(127)
    for source in sources:
        os.close(source)  # only the candidate holds its channels, so the engine sees EOF when it is gone
    while True:
        reaped, wait_status, usage = os.wait4(-1, 0)
        if reaped == pid:
            break
    os.write(status, STATUS.pack(wait_status, usage.ru_utime + usage.ru_stime, usage.ru_maxrss))
    os._exit(0)


if __name__ == "__main__":
    main()
