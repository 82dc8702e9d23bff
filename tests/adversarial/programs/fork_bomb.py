# expect: timeout crashed sandbox-violation
# A fork bomb: RLIMIT_NPROC on the slot uid stops it; the PID namespace takes every fork with it.
import os


def run():
    while True:
        try:
            os.fork()
        except OSError:
            pass
