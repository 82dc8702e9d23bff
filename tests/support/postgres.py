"""A real, throwaway PostgreSQL server for the store's tests and benchmarks.

The store's claims (concurrent writers, migrations, every query) are only worth testing against the server users
run, so nothing here is mocked: Debian's PostgreSQL binaries (installed with apt-get when missing and we are root)
make a new cluster in a temporary folder, owned by an unprivileged user (the server refuses to run as root), listen
on 127.0.0.1 on a free port with durability off (fsync is pointless for a cluster deleted minutes later), and are
stopped and deleted at the end. Each test gets its own database (`PostgresServer.new_database`), so tests that list
every run see only their own.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.ports import free_port

_INSTALL = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "postgresql"]
_START_WAIT_S = 60.0
_SUPERUSER = "evolve"


class PostgresServer:
    """One running cluster; `url(db)` is a SQLAlchemy URL for one of its databases."""

    def __init__(self, bindir: Path, root: Path, user: str | None) -> None:
        self.bindir, self.root, self.user = bindir, root, user
        self.port = free_port()
        self.log = root / "server.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{_SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        data = self.root / "data"
        self._as_user([str(self.bindir / "initdb"), "-D", str(data), "-U", _SUPERUSER, "--auth=trust",
                       "--no-locale", "-E", "UTF8", "--no-sync"])
        with open(self.log, "ab") as log:
            self._proc = subprocess.Popen(
                [str(self.bindir / "postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(self.port),
                 "-k", str(self.root), "-c", "fsync=off", "-c", "synchronous_commit=off",
                 "-c", "full_page_writes=off", "-c", "max_connections=200", "-c", "shared_buffers=32MB"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                user=self.user,
            )
        deadline = time.monotonic() + _START_WAIT_S
        while time.monotonic() < deadline and self._proc.poll() is None:
            if self._answers():
                return
            time.sleep(0.2)
        raise RuntimeError(f"postgres did not come up; {self.log} ends with: {_tail(self.log.read_text())}")

    def new_database(self) -> str:
        """A fresh, empty database; returns its URL."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        self._admin(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(2)  # SIGINT: the server's "fast" shutdown
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        shutil.rmtree(self.root, ignore_errors=True)

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user=_SUPERUSER, dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(sql)

    def _answers(self) -> bool:
        import psycopg

        try:
            psycopg.connect(host="127.0.0.1", port=self.port, user=_SUPERUSER, dbname="postgres",
                            connect_timeout=2).close()
            return True
        except psycopg.OperationalError:
            return False

    def _as_user(self, argv: list[str]) -> None:
        done = subprocess.run(argv, user=self.user, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=300, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {_tail(done.stdout + done.stderr)}")


def find_bindir() -> Path | None:
    """The newest Debian PostgreSQL server binaries on this machine, if any."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def install() -> str | None:
    """Install Debian's postgresql packages (as root); None on success, else why not."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return "PostgreSQL's server binaries are missing and installing them needs root and apt-get"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(_INSTALL, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=900, check=False)
    if done.returncode != 0:  # the package lists may be missing or stale
        subprocess.run(["apt-get", "update", "-q"], env=env, stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=600, check=False)
        done = subprocess.run(_INSTALL, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=900, check=False)
    if done.returncode != 0 or find_bindir() is None:
        return f"`{' '.join(_INSTALL)}` failed ({done.returncode}): {_tail(done.stdout + done.stderr)}"
    return None


@contextlib.contextmanager
def running_server() -> Iterator[PostgresServer]:
    """Install if needed, start a throwaway cluster, yield it, then stop it and delete its files."""
    bindir = find_bindir()
    if bindir is None:
        reason = install()
        if reason:
            raise RuntimeError(reason)
        bindir = find_bindir()
    assert bindir is not None
    user = _unprivileged_user()
    root = Path(tempfile.mkdtemp(prefix="evolve-pg-"))
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    server = PostgresServer(bindir, root, user)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole test session (it fails, not skips, when one cannot be made)."""
    with running_server() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh database on the session's server, dropped after the test."""
    url = postgres_server.new_database()
    yield url
    postgres_server.drop_database(url)


def _unprivileged_user() -> str | None:
    """As root, the server runs as `nobody`; otherwise as ourselves (None: no switch)."""
    return "nobody" if os.geteuid() == 0 else None


def _tail(text: str, lines: int = 15) -> str:
    return " | ".join(text.strip().splitlines()[-lines:])
