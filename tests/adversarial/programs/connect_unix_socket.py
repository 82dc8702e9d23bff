# expect: ok
# No network namespace covers unix sockets in the filesystem: connects to a world-writable one of the host's.
import socket


def run():
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect("{UNIX_SOCKET}")
        s.sendall(b"hello from a candidate")
    except OSError:
        pass
    return 0
