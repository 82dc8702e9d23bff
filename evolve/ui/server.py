"""Serving the dashboard: in the foreground (`evolve ui`) or on a thread beside a run (`evolve run --ui`).

Loopback (127.0.0.1) is the default; any other address gets a random token, printed with the address, that every
request must carry (see evolve.ui.security).
"""

from __future__ import annotations

import errno
import socket
import threading
import time
from dataclasses import dataclass

import uvicorn

from evolve.errors import EvolveError
from evolve.store import normalize_url
from evolve.ui.app import create_app
from evolve.ui.readonly import open_readonly
from evolve.ui.security import is_loopback, new_token

DEFAULT_PORT = 8765


@dataclass
class Dashboard:
    """A configured server and the address a person opens (with the token, when one is needed)."""

    server: uvicorn.Server
    sock: socket.socket
    address: str

    def stop(self) -> None:
        self.server.should_exit = True


def prepare(storage: str, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> Dashboard:
    """Open the store read-only and build the server; `port` 0 takes any free port."""
    engine = open_readonly(storage)
    token = None if is_loopback(host) else new_token()
    label = _label(storage)
    app = create_app(engine, token=token, storage_label=label, warm=True)
    sock = _bind(host, port)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    bound_port = sock.getsockname()[1]
    shown_host = f"[{host}]" if ":" in host else host
    address = f"http://{shown_host}:{bound_port}/" + (f"?token={token}" if token else "")
    return Dashboard(server, sock, address)


def serve(dashboard: Dashboard) -> None:
    """Serve until Ctrl-C."""
    dashboard.server.run(sockets=[dashboard.sock])


def start_beside(storage: str, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> Dashboard:
    """Serve on a daemon thread (it ends with the process); a busy `port` falls back to any free one, since a
    run should not fail for want of its dashboard."""
    try:
        dashboard = prepare(storage, host, port)
    except EvolveError as exc:
        if "in use" not in exc.message:
            raise
        dashboard = prepare(storage, host, 0)
    thread = threading.Thread(target=serve, args=(dashboard,), name="evolve-ui", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not dashboard.server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    return dashboard


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise EvolveError(f"cannot listen on {host}:{port}: in use (choose another with --port)") from None
        raise EvolveError(f"cannot listen on {host}:{port}: {exc.strerror or exc} (check --host)") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _label(storage: str) -> str:
    """The store's URL without its password, for the page header."""
    from sqlalchemy.engine import make_url

    return make_url(normalize_url(storage)).render_as_string(hide_password=True)
