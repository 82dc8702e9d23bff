"""The engine's side of the fd bridge into a container: one listening Unix socket per fd the child expects.

The container's shim (``sandbox.docker_shim``) connects to every socket before it runs the candidate. Each
channel then either collects what the child writes into a ``BoundedSink`` (stdout, stderr, the result, the
shim's status) or relays bytes between the connection and one of the caller's fds (``pass_fds``), in the
direction the caller's fd was opened for. A pipe's read end is relayed to the child and its EOF passed on as a
half-close, so the child reads exactly what the caller writes and then EOF; a write end gets what the child
writes. Every channel runs on its own daemon thread, which owns and closes its fds. Read-write fds (sockets)
are refused: a relay cannot tell the two directions' EOFs apart without more machinery than pipes need.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from .capture import BoundedSink

_CHUNK = 1 << 16
_HANGUP = select.POLLHUP | select.POLLERR  # a Unix stream socket reports POLLHUP once both ways are shut


class Bridge:
    """A private folder of listening sockets, ``<name>.sock``, and the threads that serve them."""

    def __init__(self, folder: Path, uid: int | None) -> None:
        self.folder, self._uid = folder, uid
        self._channels: list[_Channel] = []

    def collect(self, name: str, sink: BoundedSink) -> threading.Thread:
        """Feed everything the child writes on ``name`` into ``sink``; join the thread to await its EOF."""

        def serve(conn: socket.socket) -> None:
            while chunk := conn.recv(_CHUNK):
                sink.feed(chunk)

        return self._open(name, serve)

    def relay(self, fd: int) -> None:
        """Connect the caller's pipe end ``fd`` to the child's fd of the same number, in its direction."""
        mode = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE
        if mode == os.O_RDWR:
            raise ValueError(
                f"pass_fds: fd {fd} is open read-write; the docker backend relays pipe ends only"
            )
        pump = _to_child if mode == os.O_RDONLY else _from_child
        own = os.dup(fd)  # ours to close; the caller keeps and closes its own copy

        def serve(conn: socket.socket) -> None:
            pump(own, conn)

        self._open(str(fd), serve, owned_fd=own)

    def close(self) -> None:
        """Wake every channel (shutdown of its listener or connection) and remove the folder's sockets."""
        for channel in self._channels:
            channel.stop()
        for path in self.folder.glob("*.sock"):
            path.unlink(missing_ok=True)

    def _open(
        self, name: str, serve: Callable[[socket.socket], None], owned_fd: int | None = None
    ) -> threading.Thread:
        path = self.folder / f"{name}.sock"
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(path))
            if self._uid is not None:
                os.chown(path, self._uid, self._uid)
            listener.listen(1)
        except BaseException:
            listener.close()
            if owned_fd is not None:
                os.close(owned_fd)
            raise
        channel = _Channel(listener, owned_fd)
        self._channels.append(channel)
        thread = threading.Thread(
            target=channel.serve, args=(path, serve), name=f"sandbox-bridge-{name}", daemon=True
        )
        thread.start()
        return thread


class _Channel:
    """One listener and, once the shim connects, its connection; ``stop`` may come from another thread."""

    def __init__(self, listener: socket.socket, owned_fd: int | None) -> None:
        self._listener, self._owned_fd = listener, owned_fd
        self._conn: socket.socket | None = None
        self._stopped = False
        self._lock = threading.Lock()

    def serve(self, path: Path, serve: Callable[[socket.socket], None]) -> None:
        try:
            self._accept_and_serve(path, serve)
        finally:
            if self._owned_fd is not None:
                os.close(self._owned_fd)

    def _accept_and_serve(self, path: Path, serve: Callable[[socket.socket], None]) -> None:
        try:
            conn, _ = self._listener.accept()
        except OSError:  # stopped before the shim connected
            return
        finally:
            with self._lock:
                self._listener.close()
            path.unlink(missing_ok=True)  # nobody else may connect in the shim's place
        with self._lock:
            if self._stopped:
                conn.close()
                return
            self._conn = conn
        try:
            serve(conn)
        except OSError:
            pass  # the other side went away (stop, or the child closed it): the channel is done
        finally:
            with self._lock:
                conn.close()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            for sock in (self._listener, self._conn):
                if sock is not None and sock.fileno() >= 0:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)


def _to_child(host_fd: int, conn: socket.socket) -> None:
    """Caller's read end -> child, then a half-close at its EOF. Ends early when the connection ends."""
    poller = select.poll()
    poller.register(host_fd, select.POLLIN)
    poller.register(conn.fileno(), _HANGUP)
    while True:
        events = dict(poller.poll())
        if conn.fileno() in events:  # the child closed it, or stop(): nothing more will be read
            return
        chunk = os.read(host_fd, _CHUNK)
        if not chunk:
            conn.shutdown(socket.SHUT_WR)
            return
        conn.sendall(chunk)


def _from_child(host_fd: int, conn: socket.socket) -> None:
    """Child -> caller's write end, until the child's EOF (a blocked write waits for the caller to read)."""
    while chunk := conn.recv(_CHUNK):
        view = memoryview(chunk)
        while view:
            view = view[os.write(host_fd, view) :]
