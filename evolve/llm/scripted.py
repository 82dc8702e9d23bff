"""A deterministic, scripted stand-in for an LLM, for unit tests of the loop (no server, no model, zero cost).

Replies come from a list (cycled) or a callable(messages, call_index) -> str. A list item that is an exception
is raised instead, so tests can script failures (e.g. `LLMError("rate_limit", ...)`). Without a script it
echoes the last ```-fenced block of the last user message: a valid no-op rewrite that keeps loop smoke tests
meaningful.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

from .tokens import count_message_tokens, count_tokens
from .types import Reply, Usage

Script = Sequence["str | BaseException"] | Callable[[list[dict[str, str]], int], str]
_FENCE = re.compile(r"```[\w+-]*\n.*?```", re.S)


def echo_last_code_block(messages: list[dict[str, str]], _index: int) -> str:
    for m in reversed(messages):
        if m.get("role") == "user":
            blocks = _FENCE.findall(m.get("content") or "")
            return blocks[-1] if blocks else ""
    return ""


class ScriptedProvider:
    """LLMProvider whose replies are scripted; records every call in `calls`."""

    def __init__(
        self,
        replies: Script | None = None,
        *,
        name: str = "scripted",
        latency_s: float = 0.0,
        context_tokens: int = 8192,
    ) -> None:
        self.script: Script = replies if replies is not None else echo_last_code_block
        if not callable(self.script) and not self.script:
            raise ValueError("ScriptedProvider needs at least one reply")
        self.name = name if name.startswith("scripted") else f"scripted:{name}"
        self.latency_s = latency_s
        self.context_tokens = context_tokens
        self.calls: list[list[dict[str, str]]] = []

    def count_tokens(self, text: str) -> int:
        return count_tokens(text)

    async def generate(self, messages: list[dict[str, str]], **params: Any) -> Reply:
        start = time.perf_counter()
        index = len(self.calls)
        self.calls.append(list(messages))
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        if callable(self.script):
            out: str | BaseException = self.script(messages, index)
        else:
            out = self.script[index % len(self.script)]
        if isinstance(out, BaseException):
            raise out
        usage = Usage(count_message_tokens(messages), count_tokens(out), 0.0)
        return Reply(out, usage, self.name, time.perf_counter() - start, finish_reason="stop")
