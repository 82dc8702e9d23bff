# expect: crashed
# reason: refused: process_vm_readv EPERM, process_vm_writev EPERM
# process_vm_readv/writev copy memory straight between processes (here the candidate's own child, which has its
# uid: only the syscall filter refuses it; x86_64 numbers).
import ctypes
import errno
import os
import signal
import time

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def call(number, *args):  # every int as a long: syscall() is variadic and reads six longs
    return libc.syscall(number, *(ctypes.c_long(a) if isinstance(a, int) else a for a in args))


class IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


def run():
    buffer = ctypes.create_string_buffer(b"secret", 64)
    child = os.fork()
    if child == 0:
        time.sleep(30)
        os._exit(0)
    seen = []
    try:
        for name, number in (("process_vm_readv", 310), ("process_vm_writev", 311)):
            local = IoVec(ctypes.addressof(buffer), 64)
            remote = IoVec(ctypes.addressof(buffer), 64)
            rc = libc.syscall(number, child, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
            seen.append(f"{name} " + ("opened" if rc >= 0 else errno.errorcode[ctypes.get_errno()]))
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
    if any(s.endswith("opened") for s in seen):
        return 0
    raise PermissionError("refused: " + ", ".join(seen))
