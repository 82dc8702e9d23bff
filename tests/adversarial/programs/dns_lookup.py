# expect: crashed
# reason: gaierror|resolution|Name or service|Temporary failure|OSError
import socket


def run():
    return socket.getaddrinfo("pypi.org", 443)[0][4][0]
