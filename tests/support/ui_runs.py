"""Real runs for the dashboard's tests: the toy task, the real sandbox and SQLite, and a scripted model
(ScriptedProvider) whose replies improve, fail in each way, and carry markup meant to run in a browser."""

from __future__ import annotations

import asyncio
from pathlib import Path

from evolve.llm import LLMEnsemble, ScriptedProvider
from evolve.runner import new_run

# Markup that must show as text: were any of it run, window.__pwned would be set (or a dialog would open).
XSS = ('<script>window.__pwned = 1; alert(1)</script>'
       '<img src=x onerror="window.__pwned = 2; alert(2)">'
       '<a id="evil" href="javascript:window.__pwned = 3">click me</a>')


def _block(body: str, note: str = "Here is a better version.") -> str:
    return f"{note}\n```python\ndef value():\n{body}\n```\n"


def scripted_replies() -> list[str]:
    """Ten children: steady gains, an invalid one, a crash, a code duplicate, and the hostile one."""
    return [
        _block("    return 2"),
        _block("    return 3"),
        _block("    return 'three'"),  # invalid: not a number
        _block("    return 5"),
        _block("    raise RuntimeError('boom')"),  # crashed
        _block("    return 5"),  # the same code again: rejected as a duplicate
        _block(f"    # {XSS}\n    print({XSS!r})\n    return 7", note=f"Markup in the reply: {XSS}"),
        _block("    return 8"),
        _block("    x = 4\n    return x * 2 + 1"),
        _block("    return 10"),
    ]


def make_run(task_root: Path, storage: str, replies: list[str] | None = None) -> str:
    """Run the toy task to the end with the scripted replies; returns the run id."""
    replies = replies or scripted_replies()
    provider = ScriptedProvider(replies, name="scripted-ui")
    prepared = new_run(task_root, storage, {"iterations": len(replies), "islands": 2, "llm_concurrency": 1,
                                            "eval_concurrency": 1, "migration_interval": 3},
                       ensemble=LLMEnsemble([(provider, 1.0)]))
    asyncio.run(prepared.controller.run())
    prepared.store.close()
    return prepared.run_id
