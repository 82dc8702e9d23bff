# expect: crashed sandbox-violation timeout
# reason: SIGSEGV|signal|ended|RecursionError|MemoryError|wall-time limit|memory limit
# (frames live on the heap in Python 3.11: docker's cgroup kills it at the memory limit)
import sys


def run():
    sys.setrecursionlimit(10**7)

    def down(n):
        return down(n + 1) + 1

    return down(0)
