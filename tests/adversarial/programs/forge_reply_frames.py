# expect: ok crashed
# Writes well-formed reply frames claiming the right answer onto the reply pipe before returning a wrong one:
# under no call id, under guessed ones, and in the old header format. Only the reply to the call counts.
import json
import os
import struct


def run():
    for value in (42, "42"):
        body = json.dumps({"value": value}).encode()
        frames = [struct.pack("<IQ", len(body), call_id) + body for call_id in (0, 1, 2, 3, 2**63, 2**64 - 1)]
        for frame in frames + [struct.pack("<I", len(body)) + body]:
            for fd in range(3, 64):
                try:
                    os.write(fd, frame)
                except OSError:
                    pass
    return -1
