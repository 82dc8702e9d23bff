# expect: crashed
# reason: Permission|No such file|ProcessLookup
# The engine's environment through /proc: its pid is invisible (PID namespace) and the sandbox's own init
# (a fork of the engine that never exec'd, so its environ block is the engine's) is not dumpable.
import os


def run():
    leaks = []
    for pid in ({ENGINE_PID}, 1, os.getppid()):
        with open(f"/proc/{pid}/environ", "rb") as f:
            leaks.append(f.read().decode(errors="replace"))
    return leaks
