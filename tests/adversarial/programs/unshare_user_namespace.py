# expect: crashed
# reason: refused: unshare EPERM, clone EPERM, clone3 ENOSYS
# A user namespace would make the candidate root inside it, opening the kernel's namespaced code (mounts,
# netfilter...). The syscall filter refuses unshare and clone with CLONE_NEWUSER, and clone3, whose flags it
# cannot read, with ENOSYS (x86_64 call numbers).
import ctypes
import errno
import os
import struct

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def call(number, *args):  # every int as a long: syscall() is variadic and reads six longs
    return libc.syscall(number, *(ctypes.c_long(a) if isinstance(a, int) else a for a in args))
CLONE_NEWUSER = 0x10000000


def attempt(number, *args):
    pid = call(number, *args)
    if pid == 0:  # a child in a new user namespace: the door opened
        os._exit(0)
    if pid > 0:
        os.waitpid(pid, 0)
        return "opened"
    return errno.errorcode[ctypes.get_errno()]


def run():
    seen = ["unshare " + ("opened" if libc.unshare(CLONE_NEWUSER) == 0 else errno.errorcode[ctypes.get_errno()])]
    seen.append("clone " + attempt(56, CLONE_NEWUSER | 17, 0, 0, 0, 0))
    args = ctypes.create_string_buffer(struct.pack("=QQQQQQQQ", CLONE_NEWUSER, 0, 0, 0, 17, 0, 0, 0))
    seen.append("clone3 " + attempt(435, args, ctypes.c_size_t(64)))
    if any(s.endswith("opened") for s in seen):
        return 0
    raise PermissionError("refused: " + ", ".join(seen))
