"""Start-up of the `evolve` command: help loads typer and the option declarations, not the engine.

What is loaded is checked, not how long it takes, so the test holds on a loaded machine: the engine's heavy
libraries (SQLAlchemy, numpy, matplotlib, the dashboard's server) cost most of a second to import, and a command's
help must show without them."""

import json
import subprocess
import sys

import pytest

# (pydantic is not among them: typer itself validates a command's parameters with it)
HEAVY = ("sqlalchemy", "numpy", "matplotlib", "starlette", "asyncio", "httpx", "evolve.controller", "evolve.store",
         "evolve.config", "sandbox")

# runs the command as `python -m evolve ARGS` does, and writes what was imported when it exits
PROBE = """
import atexit, json, runpy, sys
atexit.register(lambda: print(json.dumps(sorted(sys.modules))))
sys.argv = ["evolve", *sys.argv[1:]]
runpy.run_module("evolve", run_name="__main__", alter_sys=True)
"""


def modules_loaded_by(*args: str) -> set[str]:
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout.splitlines()[-1]))


@pytest.mark.parametrize("args", [("--help",), ("run", "--help"), ("batch", "run", "--help"),
                                  ("report", "--help"), ("ui", "--help")])
def test_help_does_not_import_the_engine(args):
    loaded = modules_loaded_by(*args)
    assert "typer" in loaded
    heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY or m in HEAVY)
    assert not heavy, f"`evolve {' '.join(args)}` imported {heavy[:10]}"


def test_the_probe_sees_an_engine_import():
    """The check above can fail: a command that runs loads the store (and with it SQLAlchemy)."""
    loaded = modules_loaded_by("store", "version", "--storage", "sqlite://")
    assert "sqlalchemy" in loaded and "evolve.store" in loaded
