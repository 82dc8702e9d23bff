# expect: crashed
# reason: nested too deeply|ended|crashed
# Answers each call (the engine's probe first, then the evaluator's) with a frame nested 200,000 levels deep
# under the call's own id, which it finds in the channel's stack frame: a recursion bomb for the JSON parser of
# the reader, the first of which is the engine's own process.
import os
import struct
import sys

_BODY = b'{"value":' + b"[" * 200_000 + b"]" * 200_000 + b"}"


def _call_id():
    frame = sys._getframe()
    while frame is not None:
        if "call_id" in frame.f_locals:
            return frame.f_locals["call_id"]
        frame = frame.f_back
    return 0


def run():
    data = memoryview(struct.pack("<IQ", len(_BODY), _call_id()) + _BODY)
    fd = int(sys.argv[3])  # the reply pipe: python candidate_channel.py PROGRAM REQUEST_FD REPLY_FD
    while data:
        data = data[os.write(fd, data):]
    return 0
