"""A seccomp filter installed in every candidate (and every evaluator) after its uid drop and no_new_privs, and
inherited by all it starts. It closes what the namespaces leave shared with the host, and kernel doors no
candidate needs:

- the kernel keyrings (add_key, request_key, keyctl): a uid's user keyring outlives its processes, so a key
  one candidate stores would be read by the next candidate that gets the same uid slot;
- AF_VSOCK sockets: a network namespace does not cover them, and on a virtual machine they reach the host;
- io_uring (io_uring_setup): a large kernel attack surface no candidate needs;
- every other system call ABI than the interpreter's (i386 `int 0x80` and x32 on x86_64), whose different call
  numbers would otherwise get around the list;
and, unless a task opts in with ``limits: {allow_syscalls: [GROUP, ...]}`` in its task.yaml (``GROUPS``):
- ``user_namespaces``: unshare and clone with CLONE_NEWUSER (a user namespace makes the candidate root in it,
  which opens most of the kernel's namespaced code to it); clone3 passes its flags in memory a filter cannot
  read, so clone3 is refused with ENOSYS, on which the C library falls back to clone, which the filter checks;
- ``mount``: mount, umount2, pivot_root and the new mount API (open_tree, move_mount, fs*, mount_setattr);
- ``open_by_handle_at``: opens files by handle, bypassing the path walk (an old container escape);
- ``ptrace``, ``process_vm`` (process_vm_readv/writev): reading and writing other processes' memory;
- ``bpf``, ``perf_event_open``, ``userfaultfd``: large kernel surfaces, the last a common exploit helper.

Each is refused with EPERM, as a missing permission; everything else is allowed. A filter is built once per set
of opt-ins (``build``), so the forked child only makes the prctl call; the docker backend's container shim
installs the same program (``Filter.code``). On a machine this file has no call numbers for, no filter is
installed and `ACTIVE` says so (describe() reports it).

Hand-built rather than through libseccomp's Python binding: these few rules need a dozen instructions, the
program must be built before the fork and installed without allocating after it, and the shim inside a docker
image has only the standard library; a binding would add a native dependency for no rule it could add here.
"""

from __future__ import annotations

import ctypes
import functools
import platform
import struct
from collections.abc import Iterable

from . import linux as L

_X86_64 = {"add_key": 248, "request_key": 249, "keyctl": 250, "io_uring_setup": 425, "socket": 41,
           "unshare": 272, "clone": 56, "clone3": 435, "mount": 165, "umount2": 166, "pivot_root": 155,
           "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
           "mount_setattr": 442, "open_by_handle_at": 304, "ptrace": 101, "process_vm_readv": 310,
           "process_vm_writev": 311, "bpf": 321, "perf_event_open": 298, "userfaultfd": 323}
_AARCH64 = {"add_key": 217, "request_key": 218, "keyctl": 219, "io_uring_setup": 425, "socket": 198,
            "unshare": 97, "clone": 220, "clone3": 435, "mount": 40, "umount2": 39, "pivot_root": 41,
            "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
            "mount_setattr": 442, "open_by_handle_at": 265, "ptrace": 117, "process_vm_readv": 270,
            "process_vm_writev": 271, "bpf": 280, "perf_event_open": 241, "userfaultfd": 282}
# machine -> (AUDIT_ARCH_*, call numbers); the numbers are those of the kernel's syscall tables
_TABLES = {"x86_64": (0xC000003E, _X86_64), "aarch64": (0xC00000B7, _AARCH64)}
DENIED = ("add_key", "request_key", "keyctl", "io_uring_setup")  # always
# what a task may opt back into (task.yaml `limits: {allow_syscalls: [...]}`), each with the calls it opens
GROUPS: dict[str, tuple[str, ...]] = {
    "user_namespaces": (),  # the flag checks on unshare/clone and clone3's ENOSYS, below
    "mount": ("mount", "umount2", "pivot_root", "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount",
              "fspick", "mount_setattr"),
    "open_by_handle_at": ("open_by_handle_at",),
    "ptrace": ("ptrace",),
    "process_vm": ("process_vm_readv", "process_vm_writev"),
    "bpf": ("bpf",),
    "perf_event_open": ("perf_event_open",),
    "userfaultfd": ("userfaultfd",),
}
_AF_VSOCK = 40
_CLONE_NEWUSER = 0x10000000
_X32_BIT = 0x40000000

# BPF_LD|W|ABS, BPF_JMP|JEQ|K, BPF_JMP|JGE|K, BPF_JMP|JSET|K, BPF_RET|K
_LD_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_ALLOW = 0x7FFF0000  # SECCOMP_RET_ALLOW
_DENY, _NOSYS = 0x00050000 | 1, 0x00050000 | 38  # SECCOMP_RET_ERRNO | EPERM, | ENOSYS
_SECCOMP_MODE_FILTER = 2
_SECCOMP_DATA_NR, _SECCOMP_DATA_ARCH, _SECCOMP_DATA_ARG0 = 0, 4, 16  # args[0]'s low 32 bits (little-endian)

Instruction = tuple[int, int, int, int]  # (code, jump if true, jump if false, k)


def _refuse(number: int) -> list[Instruction]:
    return [(_JEQ, 0, 1, number), (_RET, 0, 0, _DENY)]


def _refuse_arg0(number: int, jump: int, value: int) -> list[Instruction]:
    """Refuse call `number` when its first argument matches `value` (`jump`: JEQ or JSET); reloads the number."""
    return [(_JEQ, 0, 4, number), (_LD_ABS, 0, 0, _SECCOMP_DATA_ARG0), (jump, 0, 1, value), (_RET, 0, 0, _DENY),
            (_LD_ABS, 0, 0, _SECCOMP_DATA_NR)]


def _program(machine: str, allowed: frozenset[str]) -> list[Instruction] | None:
    """The filter for `machine` with the opt-in `allowed` groups open, or None for an unknown machine."""
    if machine not in _TABLES:
        return None
    arch, numbers = _TABLES[machine]
    prog = [(_LD_ABS, 0, 0, _SECCOMP_DATA_ARCH), (_JEQ, 1, 0, arch), (_RET, 0, 0, _DENY),
            (_LD_ABS, 0, 0, _SECCOMP_DATA_NR)]
    if machine == "x86_64":
        prog += [(_JGE, 0, 1, _X32_BIT), (_RET, 0, 0, _DENY)]
    denied = [*DENIED, *(call for group, calls in GROUPS.items() if group not in allowed for call in calls)]
    for name in denied:
        prog += _refuse(numbers[name])
    if "user_namespaces" not in allowed:
        prog += [(_JEQ, 0, 1, numbers["clone3"]), (_RET, 0, 0, _NOSYS)]
        prog += _refuse_arg0(numbers["unshare"], _JSET, _CLONE_NEWUSER)
        prog += _refuse_arg0(numbers["clone"], _JSET, _CLONE_NEWUSER)
    prog += _refuse_arg0(numbers["socket"], _JEQ, _AF_VSOCK)
    return [*prog, (_RET, 0, 0, _ALLOW)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class Filter:
    """One built filter program; `install` puts it on the calling process."""

    def __init__(self, instructions: list[Instruction] | None) -> None:
        self.active = instructions is not None
        self.code = b"".join(struct.pack("=HBBI", *i) for i in instructions or [])  # struct sock_filter[]
        self._buffer = ctypes.create_string_buffer(self.code)
        self._fprog = _SockFprog(len(instructions or []), ctypes.addressof(self._buffer))

    def install(self) -> None:
        """Install the filter on this process (needs no_new_privs or CAP_SYS_ADMIN); raises OSError if the kernel
        refuses it, so a run never goes on with less isolation than it reports."""
        if self.active:
            L.prctl(L.PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.addressof(self._fprog))


def unknown_groups(names: Iterable[str]) -> list[str]:
    """The names in `names` that are not opt-in groups (for a clear configuration error)."""
    return [name for name in names if name not in GROUPS]


@functools.cache
def build(allowed: frozenset[str] = frozenset()) -> Filter:
    """The filter with the opt-in groups `allowed` open (built once per set, in the engine, before any fork)."""
    if unknown := unknown_groups(allowed):
        raise ValueError(f"unknown syscall groups {unknown}; known: {', '.join(GROUPS)}")
    return Filter(_program(platform.machine(), allowed))


ACTIVE = build().active
