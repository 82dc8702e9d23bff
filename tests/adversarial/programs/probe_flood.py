# expect: crashed
# Answers each call with a 60 MB frame of empty objects (each ~25x bigger once parsed) under the call's own id:
# the engine reads the first (its probe) and must neither read nor parse more than its probe budget; the
# evaluator's reader has its own size limit.
import os
import struct
import sys

_BODY = b'{"value":[' + b"{}," * 20_000_000 + b"{}]}"


def _call_id():
    frame = sys._getframe()
    while frame is not None:
        if "call_id" in frame.f_locals:
            return frame.f_locals["call_id"]
        frame = frame.f_back
    return 0


def run():
    data = memoryview(struct.pack("<IQ", len(_BODY) * 2, _call_id()) + _BODY + _BODY)
    fd = int(sys.argv[3])
    while data:
        data = data[os.write(fd, data):]
    return 0
