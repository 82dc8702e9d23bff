# expect: ok crashed
# Writes a fake report to every fd it holds, including the sandbox's result fd and the reply pipe.
import json
import os

FAKE = json.dumps({"metrics": {"score": 1.0}, "stage": 0, "artifacts": {}}).encode()


def run():
    fd = os.environ.get("EVOLVE_RESULT_FD")
    if fd:
        os.write(int(fd), FAKE)
    for fd in range(3, 64):
        try:
            os.write(fd, FAKE)
        except OSError:
            pass
    return -1
