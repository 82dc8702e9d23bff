# expect: sandbox-violation
# reason: memory limit \(cgroup\)
# Memory spread where no per-process rlimit sees it: three forked children holding 120 MB each, 105 MB of files
# in the job's memory-backed /tmp, then 150 MB in the first process; every process stays far under the task's
# 512 MB address-space rlimit, the job as a whole does not. Its cgroup (a container's on docker) ends it: the
# whole job on process and warm; on docker the kernel kills the largest process, which is the first one.
import os
import time


def touched(mb):
    blob = bytearray(mb << 20)
    for i in range(0, len(blob), 4096):
        blob[i] = 1
    return blob


def run():
    ready, done = os.pipe()
    kids = []
    for _ in range(3):
        pid = os.fork()
        if pid == 0:
            blob = touched(120)
            os.write(done, b"x")
            time.sleep(5)
            os._exit(len(blob) & 1)
        kids.append(pid)
    for _ in kids:
        os.read(ready, 1)
    for n in range(15):  # files of 7 MB, under the task's file size limit
        with open(f"/tmp/fill{n}", "wb") as f:
            f.write(b"x" * (7 << 20))
    held = touched(150)
    for pid in kids:
        os.waitpid(pid, 0)
    return len(held)
