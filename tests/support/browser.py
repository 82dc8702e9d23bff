"""A real headless Chromium for the dashboard tests: Debian's `chromium` package (installed here, as root, when it
is missing, the way a fresh CI machine gets it), driven by Playwright's Python package pointed at that binary
(Playwright's own browser downloads are not used). A test is skipped only when no browser can run here, and
the reason says which step failed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
_LOCK = Path(tempfile.gettempdir()) / "evolve-chromium-install.lock"
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def ensure_chromium() -> str | None:
    """None once the binary is there; otherwise why it cannot be."""
    if os.access(CHROMIUM, os.X_OK):
        return None
    if os.geteuid() != 0:
        return f"{CHROMIUM} is missing and only root can install Debian's chromium package"
    if shutil.which("apt-get") is None:
        return f"{CHROMIUM} is missing and this machine has no apt-get"
    with open(_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test processes install once
        if os.access(CHROMIUM, os.X_OK):
            return None
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for argv in (["apt-get", "update", "-q"],
                     ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"]):
            done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900, check=False)
            if done.returncode != 0:
                return f"{' '.join(argv)} failed: {done.stderr.strip()[-500:]}"
    return None if os.access(CHROMIUM, os.X_OK) else f"{CHROMIUM} is still missing after installing chromium"


@contextlib.contextmanager
def chromium_browser() -> Iterator[object]:
    """A fresh Chromium (own profile folder) for one test module."""
    problem = ensure_chromium()
    if problem:
        pytest.skip(f"no headless browser: {problem}")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="evolve-chromium-") as profile, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=FLAGS, viewport={"width": 1400, "height": 1000})
        try:
            yield context
        finally:
            context.close()
