"""Names the limit a run hit, from its exit status, measurements and stderr tail.

The rules are deliberately simple (the engine only needs a readable reason to store and feed back):
- wall deadline passed -> "timeout"
- SIGXCPU, or SIGKILL with cpu time near the limit (the hard RLIMIT_CPU) -> "cpu time limit"
- SIGXFSZ, or a non-zero exit with "File too large" (Python ignores SIGXFSZ, gets EFBIG) -> "file size limit"
- a non-zero exit with an allocation failure message (MemoryError, ENOMEM, bad_alloc, numpy's "Unable to
  allocate") or any other SIGKILL (the OOM killer) -> "memory limit (RLIMIT_AS)" (RLIMIT_DATA where the
  limits cap data memory only)
- SIGSEGV with peak memory over half the limit -> "killed by signal SIGSEGV near the memory limit (RLIMIT_AS)"
  (a failed allocation in C code, or a plain crash: peak memory also counts pages shared with the engine)
- a non-zero exit with "Resource temporarily unavailable" (fork failing with EAGAIN)
  -> "process limit (RLIMIT_NPROC)"
- any other signal -> "killed by signal NAME"
A candidate can fake a message on purpose; that only mislabels its own failure.
"""

from __future__ import annotations

import signal

from .api import Limits

MEMORY = "memory limit (RLIMIT_AS)"
MEMORY_DATA = "memory limit (RLIMIT_DATA)"
CPU = "cpu time limit"
FILE_SIZE = "file size limit"
PROCESSES = "process limit (RLIMIT_NPROC)"
TIMEOUT = "timeout"
# the whole job's limits, where a cgroup holds them (see ``sandbox.cgroups``; docker's containers are cgroups too)
MEMORY_CGROUP = "memory limit (cgroup)"
PROCESSES_CGROUP = "process limit (pids cgroup)"

_PATTERNS = (
    (
        MEMORY,
        ("MemoryError", "Cannot allocate memory", "std::bad_alloc", "Unable to allocate", "out of memory"),
    ),
    (FILE_SIZE, ("File too large",)),
    (PROCESSES, ("Resource temporarily unavailable",)),
)
_TAIL = 4096


def classify(
    returncode: int | None, timed_out: bool, stderr: str, cpu_s: float, peak_mem_mb: float, limits: Limits
) -> str | None:
    """The violated limit as a readable string, or None for a normal exit (success or ordinary failure)."""
    found = _classify(returncode, timed_out, stderr, cpu_s, peak_mem_mb, limits)
    if found is not None and not limits.address_space:
        found = found.replace(MEMORY, MEMORY_DATA)
    return found


def _classify(
    returncode: int | None, timed_out: bool, stderr: str, cpu_s: float, peak_mem_mb: float, limits: Limits
) -> str | None:
    if timed_out:
        return TIMEOUT
    if not returncode:
        return None
    if returncode > 0:
        tail = stderr[-_TAIL:]
        return next((name for name, needles in _PATTERNS if any(n in tail for n in needles)), None)
    sig = -returncode
    if sig == signal.SIGXCPU or (sig == signal.SIGKILL and _near_cpu_limit(cpu_s, peak_mem_mb, limits)):
        return CPU
    if sig == signal.SIGXFSZ:
        return FILE_SIZE
    if sig == signal.SIGKILL:
        return MEMORY
    if sig == signal.SIGSEGV and peak_mem_mb > limits.memory_mb / 2:
        return f"killed by signal SIGSEGV near the {MEMORY}"
    return f"killed by signal {_signal_name(sig)}"


def _near_cpu_limit(cpu_s: float, peak_mem_mb: float, limits: Limits) -> bool:
    """Whether a SIGKILL is the hard RLIMIT_CPU. The CPU time wait4 reports is the kernel's sampled split into
    user and system time, seen up to 0.5 s short of a 3 s limit the process had reached on a busy 2-core
    machine; so "near" is within a fifth of the limit, unless the memory was near its own limit too."""
    return cpu_s >= limits.cpu_s - max(0.05, 0.2 * limits.cpu_s) and peak_mem_mb < 0.8 * limits.memory_mb


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return str(sig)
