"""Runs created `pending` in a store, as a batch creates them before an executor places them (tests, benchmarks).

They use the toy task (tests/conftest.py) and an OpenAI-compatible stub server on 127.0.0.1 (chat_server.py),
which a worker in another process, or on a Ray node, reaches over HTTP like any model server.
"""

from __future__ import annotations

from pathlib import Path

from evolve.config import parse_run_config
from evolve.store import Store
from evolve.task import load_task


def toy_reply(body: dict, index: int) -> str:
    """A new, distinct toy program per request (value() returns a growing number)."""
    return f"Here is a better version.\n```python\ndef value():\n    return {index + 2}\n```\n"


def create_pending_runs(storage: str, task_dir: Path, model_base_url: str, runs: int, iterations: int) -> list[str]:
    task = load_task(task_dir)
    model = {"provider": "openai", "name": "stub", "base_url": model_base_url, "timeout_s": 10.0}
    config = parse_run_config({**task.spec.run, "models": [model], "iterations": iterations, "islands": 1,
                               "llm_concurrency": 1, "eval_concurrency": 1}, source="test")
    configs = [config.model_copy(update={"seed": i}).model_dump(mode="json") for i in range(runs)]
    store = Store(storage)
    try:
        return [store.create_run(task_name=task.name, task_path=str(task.root), kind=task.spec.kind,
                                 objective=task.spec.objective, direction=task.spec.direction,
                                 config=configs[i], environment={}, status="pending",
                                 params={"seed": i}, cell="toy")
                for i in range(runs)]
    finally:
        store.close()
