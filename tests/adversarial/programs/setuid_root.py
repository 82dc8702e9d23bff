# expect: crashed
# reason: PermissionError|Operation not permitted
import os


def run():
    os.setuid(0)
    return 0
