"""Bounded, concurrent draining of the child's pipes: a flooding child neither blocks nor bloats us."""

from __future__ import annotations

import collections
import os
import threading

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
