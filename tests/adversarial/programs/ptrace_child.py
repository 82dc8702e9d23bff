# expect: crashed
# reason: refused: PTRACE_ATTACH EPERM, PTRACE_TRACEME EPERM
# ptrace would let a candidate read and rewrite another process's memory and registers; even its own child is
# refused (that child has the candidate's uid, so only the syscall filter stops it; x86_64 numbers).
import ctypes
import errno
import os
import signal
import time

libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long
PTRACE_TRACEME, PTRACE_ATTACH = 0, 16


def run():
    child = os.fork()
    if child == 0:
        time.sleep(30)
        os._exit(0)
    try:
        attach = libc.ptrace(PTRACE_ATTACH, child, None, None)
        attach_err = errno.errorcode.get(ctypes.get_errno(), "?")
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
    traceme = libc.ptrace(PTRACE_TRACEME, 0, None, None)
    traceme_err = errno.errorcode.get(ctypes.get_errno(), "?")
    if attach == 0 or traceme == 0:
        return 0
    raise PermissionError(f"refused: PTRACE_ATTACH {attach_err}, PTRACE_TRACEME {traceme_err}")
