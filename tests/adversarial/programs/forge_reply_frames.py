# expect: ok crashed
# Writes well-formed reply frames claiming the right answer onto the reply pipe before returning a wrong one.
import json
import os
import struct


def run():
    for value in (1, 42, "42"):
        body = json.dumps({"value": value}).encode()
        for fd in range(3, 64):
            try:
                os.write(fd, struct.pack("<I", len(body)) + body)
            except OSError:
                pass
    return -1
