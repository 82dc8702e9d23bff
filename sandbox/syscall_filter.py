"""A seccomp filter for what the namespaces leave shared with the host, installed in every candidate (and every
evaluator) after its uid drop and no_new_privs, and inherited by all it starts:

- the kernel keyrings (add_key, request_key, keyctl): a uid's user keyring outlives its processes, so a key
  one candidate stores would be read by the next candidate that gets the same uid slot;
- AF_VSOCK sockets: a network namespace does not cover them, and on a virtual machine they reach the host;
- io_uring (io_uring_setup): a large kernel attack surface no candidate needs;
- every other system call ABI than the interpreter's (i386 `int 0x80` and x32 on x86_64), whose different call
  numbers would otherwise get around the list.

Each is refused with EPERM, as a missing permission; everything else is allowed. The program is built once, at
import, so the forked child only makes the prctl call. On a machine this file has no call numbers for, no
filter is installed and `ACTIVE` says so (describe() reports it).
"""

from __future__ import annotations

import ctypes
import platform
import struct

from . import linux as L

# machine -> (AUDIT_ARCH_*, call numbers); the numbers are those of the kernel's syscall tables
_TABLES = {
    "x86_64": (0xC000003E, {"add_key": 248, "request_key": 249, "keyctl": 250, "io_uring_setup": 425,
                            "socket": 41}),
    "aarch64": (0xC00000B7, {"add_key": 217, "request_key": 218, "keyctl": 219, "io_uring_setup": 425,
                             "socket": 198}),
}
DENIED = ("add_key", "request_key", "keyctl", "io_uring_setup")
_AF_VSOCK = 40
_X32_BIT = 0x40000000

_LD_ABS, _JEQ, _JGE, _RET = 0x20, 0x15, 0x35, 0x06  # BPF_LD|W|ABS, BPF_JMP|JEQ|K, BPF_JMP|JGE|K, BPF_RET|K
_ALLOW, _DENY = 0x7FFF0000, 0x00050000 | 1  # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | EPERM
_SECCOMP_MODE_FILTER = 2
_SECCOMP_DATA_NR, _SECCOMP_DATA_ARCH, _SECCOMP_DATA_ARG0 = 0, 4, 16  # args[0]'s low 32 bits (little-endian)


def _program(machine: str) -> list[tuple[int, int, int, int]] | None:
    """The filter as (code, jump if true, jump if false, k) instructions, or None for an unknown machine."""
    if machine not in _TABLES:
        return None
    arch, numbers = _TABLES[machine]
    prog = [(_LD_ABS, 0, 0, _SECCOMP_DATA_ARCH), (_JEQ, 1, 0, arch), (_RET, 0, 0, _DENY),
            (_LD_ABS, 0, 0, _SECCOMP_DATA_NR)]
    if machine == "x86_64":
        prog += [(_JGE, 0, 1, _X32_BIT), (_RET, 0, 0, _DENY)]
    for name in DENIED:
        prog += [(_JEQ, 0, 1, numbers[name]), (_RET, 0, 0, _DENY)]
    prog += [(_JEQ, 0, 3, numbers["socket"]), (_LD_ABS, 0, 0, _SECCOMP_DATA_ARG0), (_JEQ, 0, 1, _AF_VSOCK),
             (_RET, 0, 0, _DENY), (_RET, 0, 0, _ALLOW)]
    return prog


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


_INSTRUCTIONS = _program(platform.machine())
ACTIVE = _INSTRUCTIONS is not None
if _INSTRUCTIONS is not None:
    _CODE = ctypes.create_string_buffer(b"".join(struct.pack("=HBBI", *i) for i in _INSTRUCTIONS))
    _FPROG = _SockFprog(len(_INSTRUCTIONS), ctypes.addressof(_CODE))


def install() -> None:
    """Install the filter on this process (needs no_new_privs or CAP_SYS_ADMIN); raises OSError if the kernel
    refuses it, so a run never goes on with less isolation than it reports."""
    if ACTIVE:
        L.prctl(L.PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.addressof(_FPROG))
