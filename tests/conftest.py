"""Shared fixtures: a tiny real task folder and a real SQLite store in a temporary directory."""

from pathlib import Path

import pytest

try:  # services shared by the whole session: defined once here, so each starts at most once
    from tests.support.postgres import postgres_server, postgres_url  # fixtures, used by name
    from tests.support.ray_cluster import ray_cluster  # a fixture, used by name
except ImportError:
    from support.postgres import postgres_server, postgres_url  # noqa: F401 - fixtures, used by name
    from support.ray_cluster import ray_cluster  # noqa: F401 - a fixture, used by name

TOY_TASK = """\
name: toy
kind: program
description: Make value() return a larger number.
seed: program.py
evaluator: evaluate.py
objective: score
features: [{name: code_length, bins: 5, min: 0, max: 500}]
limits: {wall_s: %(wall)s, memory_mb: 512}
"""

TOY_SEED = """\
# EVOLVE-BLOCK-START
def value():
    return 1
# EVOLVE-BLOCK-END
"""

TOY_EVALUATOR = """\
def evaluate(candidate):
    value = candidate.call("value")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return {"error": f"value() returned {type(value).__name__}, not a number"}
    return {"score": float(value)}


def probes():
    return [("value", ())]
"""


def make_toy_task(root: Path, wall_s: float = 5.0) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "task.yaml").write_text(TOY_TASK % {"wall": wall_s})
    (root / "program.py").write_text(TOY_SEED)
    (root / "evaluate.py").write_text(TOY_EVALUATOR)
    return root


def block(body: str) -> str:
    """A rewrite reply whose code block is the new content of the toy program's EVOLVE block."""
    return f"Here is a better version.\n```python\ndef value():\n{body}\n```\n"


@pytest.fixture
def toy_task(tmp_path) -> Path:
    return make_toy_task(tmp_path / "toy")


@pytest.fixture
def storage(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'evolve.db'}"
