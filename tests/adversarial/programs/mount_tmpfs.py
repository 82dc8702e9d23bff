# expect: crashed
# reason: refused: mount EPERM, fsopen EPERM, umount2 EPERM
# The mount family (mount, the new fsopen/fsmount API, umount2): a candidate never needs to change its view of
# the filesystem. The syscall filter refuses them, and the candidate holds no CAP_SYS_ADMIN (x86_64 numbers).
import ctypes
import errno

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def call(number, *args):  # every int as a long: syscall() is variadic and reads six longs
    return libc.syscall(number, *(ctypes.c_long(a) if isinstance(a, int) else a for a in args))


def outcome(rc):
    if rc >= 0:
        return "opened"
    return errno.errorcode[ctypes.get_errno()]


def run():
    seen = ["mount " + outcome(libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)),
            "fsopen " + outcome(call(430, b"tmpfs", 0)),
            "umount2 " + outcome(call(166, b"/proc", 2))]  # MNT_DETACH
    if any(s.endswith("opened") for s in seen):
        return 0
    raise PermissionError("refused: " + ", ".join(seen))
