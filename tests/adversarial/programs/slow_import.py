# expect: timeout
# reason: wall-time limit
import time

time.sleep(10**6)


def run():
    return 0
