"""Evolve: improve programs, prompts and GPU kernels by LLM-driven evolution in a sandbox."""

from __future__ import annotations

import functools


@functools.cache
def _installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("evolve-lab")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0+source"


def __getattr__(name: str) -> str:
    """`evolve.__version__`, looked up on first use: reading the installed metadata costs tens of milliseconds
    that every command, `evolve --help` included, would otherwise pay at start."""
    if name == "__version__":
        return _installed_version()
    raise AttributeError(f"module 'evolve' has no attribute {name!r}")
