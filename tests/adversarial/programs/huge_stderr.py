# expect: ok timeout
import sys


def run():
    line = "e" * 4096 + "\n"
    for _ in range(250_000):
        sys.stderr.write(line)
    return 0
