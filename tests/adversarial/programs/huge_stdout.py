# expect: ok timeout
# 1 GB on stdout: the sandbox keeps a bounded head and tail, the engine's memory stays flat.
import os


def run():
    block = b"x" * (1 << 20)
    for _ in range(1024):
        os.write(1, block)
    return 0
