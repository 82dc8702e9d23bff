# expect: crashed
# reason: refused: bpf EPERM, perf_event_open EPERM, userfaultfd EPERM
# Three large kernel surfaces no candidate needs, each a frequent home of privilege escalations: eBPF,
# perf events (the candidate's own cpu clock here) and userfaultfd (user-mode-only, which an unprivileged
# process may otherwise open). All refused by the syscall filter (x86_64 numbers).
import ctypes
import errno
import struct

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def call(number, *args):  # every int as a long: syscall() is variadic and reads six longs
    return libc.syscall(number, *(ctypes.c_long(a) if isinstance(a, int) else a for a in args))


def outcome(rc):
    return "opened" if rc >= 0 else errno.errorcode[ctypes.get_errno()]


def run():
    bpf_attr = ctypes.create_string_buffer(struct.pack("=IIII", 2, 4, 4, 1), 128)  # BPF_MAP_TYPE_ARRAY
    perf_attr = ctypes.create_string_buffer(struct.pack("=IIQ", 1, 128, 0), 128)  # PERF_TYPE_SOFTWARE, cpu-clock
    seen = ["bpf " + outcome(call(321, 0, bpf_attr, 128)),  # BPF_MAP_CREATE
            "perf_event_open " + outcome(call(298, perf_attr, 0, -1, -1, 0)),
            "userfaultfd " + outcome(call(323, 1))]  # UFFD_USER_MODE_ONLY
    if any(s.endswith("opened") for s in seen):
        return 0
    raise PermissionError("refused: " + ", ".join(seen))
