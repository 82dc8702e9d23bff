"""Bounded, concurrent draining of the child's pipes: a flooding child neither blocks nor bloats us."""

from __future__ import annotations

import collections
import os
import selectors
import threading
import time
from collections.abc import Callable, Collection, Mapping

_CHUNK = 1 << 16


class BoundedSink:
    """Keeps the first ``head`` and the last ``tail`` bytes of a stream and counts what fell in between.

    Both matter for feedback: the start shows what the program printed, the end holds the traceback.
    Memory stays below head + tail + one chunk however much arrives.
    """

    def __init__(self, head: int, tail: int) -> None:
        self._head_cap, self._tail_cap = head, tail
        self._head = bytearray()
        self._tail: collections.deque[bytes] = collections.deque()
        self._tail_len = 0
        self.total = 0

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self._head_cap - len(self._head)
        if room > 0:
            self._head += chunk[:room]
            chunk = chunk[room:]
        if not chunk or not self._tail_cap:
            return
        self._tail.append(chunk)
        self._tail_len += len(chunk)
        while self._tail_len - len(self._tail[0]) >= self._tail_cap:
            self._tail_len -= len(self._tail.popleft())

    @property
    def dropped(self) -> int:
        return self.total - len(self._head) - min(self._tail_len, self._tail_cap)

    def head(self) -> bytes:
        return bytes(self._head)

    def text(self) -> str:
        """Head, a ``[... N bytes dropped]`` note if anything was dropped, then the tail, as text."""
        tail = b"".join(self._tail)[-self._tail_cap :] if self._tail_cap else b""
        note = f"\n[... {self.dropped} bytes dropped]\n".encode() if self.dropped else b""
        return (bytes(self._head) + note + tail).decode("utf-8", errors="replace")


def drain(fd: int, sink: BoundedSink) -> threading.Thread:
    """Read ``fd`` to EOF into ``sink`` on a daemon thread that then closes ``fd``; join it to await EOF."""

    def pump() -> None:
        try:
            while chunk := os.read(fd, _CHUNK):
                sink.feed(chunk)
        finally:
            os.close(fd)

    thread = threading.Thread(target=pump, name=f"sandbox-drain-{fd}", daemon=True)
    thread.start()
    return thread


def pump(feeds: Mapping[int, Callable[[bytes], None]], deadline: float, until_closed: Collection[int] = ()) -> set[int]:
    """Read every fd in ``feeds`` into its feed on the calling thread, closing each at EOF, until the fds in
    ``until_closed`` (all of them if empty) are closed or the monotonic ``deadline`` passes. Returns the fds
    still open (the caller pumps them again or closes them). One thread for all of a run's pipes: on the warm
    path a thread per pipe cost more than the job itself (thread starts and GIL hand-offs)."""
    awaited = set(until_closed or feeds)
    open_fds = set(feeds)
    with selectors.DefaultSelector() as selector:
        for fd in open_fds:
            selector.register(fd, selectors.EVENT_READ)
        while awaited & open_fds:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            for key, _ in selector.select(remaining):
                chunk = os.read(key.fd, _CHUNK)
                if chunk:
                    feeds[key.fd](chunk)
                else:
                    selector.unregister(key.fd)
                    os.close(key.fd)
                    open_fds.discard(key.fd)
    return open_fds
