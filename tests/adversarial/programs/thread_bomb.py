# expect: crashed timeout sandbox-violation
# reason: thread|RuntimeError|resource|limit
import threading
import time


def run():
    while True:
        threading.Thread(target=time.sleep, args=(1000,), daemon=True).start()
