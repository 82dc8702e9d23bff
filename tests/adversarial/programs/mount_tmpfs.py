# expect: crashed
# reason: refused: mount EPERM, fsopen EPERM, umount2 EPERM
# The mount family (mount, the new fsopen/fsmount API, umount2): a candidate never needs to change its view of
# the filesystem. The syscall filter refuses them, and the candidate holds no CAP_SYS_ADMIN (x86_64 numbers).
import ctypes
import errno
import os

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def outcome(rc):
    if rc >= 0:
        return "opened"
    return errno.errorcode[ctypes.get_errno()]


def run():
    seen = ["mount " + outcome(libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)),
            "fsopen " + outcome(libc.syscall(430, b"tmpfs", 0)),
            "umount2 " + outcome(libc.syscall(166, b"/proc", 2))]  # MNT_DETACH
    if any(s.endswith("opened") for s in seen):
        return 0
    raise PermissionError("refused: " + ", ".join(seen))
