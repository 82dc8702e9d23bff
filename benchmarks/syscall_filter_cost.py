"""The syscall filter built by hand (``sandbox.syscall_filter``) against the same rules through libseccomp's
Python binding (pyseccomp, if installed): how long building and installing each takes in a fresh child, how
long its program is, and what it adds to a cheap system call (getppid) made in a loop.

Usage: python benchmarks/syscall_filter_cost.py [-n 200000]   (pip install pyseccomp for the comparison)

Each measurement runs in a forked child (a filter cannot be removed once installed); medians of 5 children.
"""

from __future__ import annotations

import argparse
import errno
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox import linux as L
from sandbox import syscall_filter

CLONE_NEWUSER, AF_VSOCK = 0x10000000, 40


def hand_built() -> int:
    """Build (uncached) and install the hand-built filter; its instruction count."""
    built = syscall_filter.Filter(syscall_filter._program(os.uname().machine, frozenset()))
    built.install()
    return len(built.code) // 8


def libseccomp() -> int:
    import pyseccomp as sc

    f = sc.SyscallFilter(defaction=sc.ALLOW)
    denied = [*syscall_filter.DENIED, *(c for calls in syscall_filter.GROUPS.values() for c in calls)]
    for name in denied:
        f.add_rule(sc.ERRNO(errno.EPERM), name)
    for name in ("unshare", "clone"):
        f.add_rule(sc.ERRNO(errno.EPERM), name, sc.Arg(0, sc.MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER))
    f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    f.add_rule(sc.ERRNO(errno.EPERM), "socket", sc.Arg(0, sc.EQ, AF_VSOCK))
    r, w = os.pipe()  # export_bpf writes to a file descriptor
    with os.fdopen(w, "wb") as out:
        f.export_bpf(out)
    size = len(os.read(r, 1 << 16)) // 8
    os.close(r)
    f.load()
    return size


def child(setup, n: int) -> tuple[float, float, int]:
    """In a fork: the setup's seconds, then ns per getppid() over n calls; sent back over a pipe."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        L.prctl(L.PR_SET_NO_NEW_PRIVS, 1)
        start = time.perf_counter()
        size = setup() if setup else 0
        built = time.perf_counter() - start
        start = time.perf_counter_ns()
        for _ in range(n):
            os.getppid()
        per_call = (time.perf_counter_ns() - start) / n
        os.write(w, f"{built} {per_call} {size}".encode())
        os._exit(0)
    os.close(w)
    data = os.read(r, 256).decode().split()
    os.close(r)
    os.waitpid(pid, 0)
    return float(data[0]), float(data[1]), int(data[2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=200_000, help="getppid() calls per child")
    args = parser.parse_args()
    variants = {"no filter": None, "hand-built": hand_built}
    try:
        import pyseccomp  # noqa: F401

        variants["libseccomp"] = libseccomp
    except ImportError:
        print("pyseccomp is not installed: measuring the hand-built filter only")
    results: dict[str, list[tuple[float, float, int]]] = {name: [] for name in variants}
    for _ in range(5):  # interleaved: drift on a shared machine hits every variant
        for name, setup in variants.items():
            results[name].append(child(setup, args.n))
    for name, runs in results.items():
        built, per_call, size = (statistics.median(x) for x in zip(*runs))
        print(f"{name:11s} build+install {built * 1e3:6.3f} ms  program {int(size):3d} instructions  "
              f"getppid {per_call:6.1f} ns")


if __name__ == "__main__":
    main()
