# expect: crashed
# reason: Connection|Network|unreachable|refused|OSError
import socket


def run():
    with socket.create_connection(("127.0.0.1", {PORT}), timeout=2) as s:
        s.sendall(b"leak")
    return 1
