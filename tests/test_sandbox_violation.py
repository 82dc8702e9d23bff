"""How a run's end is named: the hard CPU limit's SIGKILL is told from the memory limit's by the CPU time."""

import signal

from sandbox import Limits
from sandbox.violation import CPU, MEMORY, classify

LIMITS = Limits(wall_s=20, cpu_s=3.0, memory_mb=512)


def test_a_sigkill_with_the_cpu_time_near_its_limit_is_the_cpu_limit():
    # wait4's figure for a process the hard RLIMIT_CPU killed was seen 0.47 s short of a 3 s limit under load
    assert classify(-signal.SIGKILL, False, "", 2.53, 30.0, LIMITS) == CPU
    assert classify(-signal.SIGXCPU, False, "", 1.0, 30.0, LIMITS) == CPU


def test_a_sigkill_far_from_the_cpu_limit_or_at_the_memory_limit_is_the_memory_limit():
    assert classify(-signal.SIGKILL, False, "", 1.0, 30.0, LIMITS) == MEMORY
    assert classify(-signal.SIGKILL, False, "", 2.9, 500.0, LIMITS) == MEMORY
