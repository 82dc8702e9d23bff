# expect: ok
# Double fork + setsid to outlive the evaluation; the test checks that no process of it is left afterwards.
import os
import time


def run():
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            while True:
                time.sleep(0.1)
        os._exit(0)
    return 0
