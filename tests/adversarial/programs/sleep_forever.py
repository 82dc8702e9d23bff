# expect: timeout
# reason: wall-time limit
import time


def run():
    time.sleep(10**6)
