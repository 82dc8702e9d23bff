"""Anthropic's Messages API through the official SDK (SDK retries off; ours apply, as for OpenAI).

The Messages API differs from chat completions in ways handled here: the system prompt is a separate `system=`
argument, turns must alternate user/assistant starting with user (consecutive same-role messages are merged),
and `max_tokens` is mandatory. Token counts for prompt budgeting use the offline cl100k estimate.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

from ._client import SDKProvider, bad_reply
from .types import Reply


def to_anthropic(messages: list[dict[str, str]]) -> tuple[str | None, list[dict[str, str]]]:
    """Split out system messages and merge consecutive turns of the same role."""
    system = [m["content"] for m in messages if m.get("role") == "system"]
    turns: list[dict[str, str]] = []
    for m in messages:
        role = m.get("role")
        if role == "system":
            continue
        role = "assistant" if role == "assistant" else "user"
        if turns and turns[-1]["role"] == role:
            turns[-1] = {"role": role, "content": f"{turns[-1]['content']}\n\n{m['content']}"}
        else:
            turns.append({"role": role, "content": m["content"]})
    if not turns or turns[0]["role"] != "user":
        turns.insert(0, {"role": "user", "content": "(continue)"})
    return ("\n\n".join(system) if system else None), turns


@functools.lru_cache(maxsize=1)
def sdk_takes_temperature() -> bool:
    """Recent anthropic SDKs dropped sampling parameters from `messages.create` (the API stopped honouring
    them for current models); older ones (>=0.34, allowed by our pins) still take them. Send temperature only
    if the installed SDK knows it, so both work."""
    from anthropic.resources.messages import AsyncMessages

    return "temperature" in inspect.signature(AsyncMessages.create).parameters


class AnthropicProvider(SDKProvider[Any]):
    def _import_sdk(self) -> Any:
        import anthropic

        sdk_takes_temperature()
        return anthropic

    def _make_client(self, api_key: str) -> Any:
        return self._sdk.AsyncAnthropic(
            api_key=api_key, base_url=self.cfg.base_url, max_retries=0, timeout=self.cfg.timeout_s
        )

    async def generate(self, messages: list[dict[str, str]], **params: Any) -> Reply:
        temperature, max_tokens, extra = self.cfg.options(params)
        extra.pop("seed", None)  # not supported by the Messages API
        system, turns = to_anthropic(messages)
        request: dict[str, Any] = {
            "model": self.cfg.name,
            "messages": turns,
            "max_tokens": max_tokens,
            **extra,
        }
        if sdk_takes_temperature():
            request["temperature"] = min(temperature, 1.0)  # Anthropic's range is [0, 1]
        if system:
            request["system"] = system

        async def attempt():
            return self._parse(await self.client().messages.create(**request))

        return await self._run(attempt)

    def _parse(self, resp: Any):
        content = getattr(resp, "content", None)
        if isinstance(resp, (str, bytes)) or not isinstance(content, list):
            raise bad_reply(self.name, f"not a message: {str(resp)[:200]!r}")
        texts = [getattr(b, "text", None) for b in content if getattr(b, "type", None) == "text"]
        if not texts or not all(isinstance(t, str) for t in texts):
            raise bad_reply(self.name, "reply has no text content")
        usage = getattr(resp, "usage", None)
        p_tok = int(getattr(usage, "input_tokens", 0) or 0)
        p_tok += int(getattr(usage, "cache_creation_input_tokens", 0) or 0)
        p_tok += int(getattr(usage, "cache_read_input_tokens", 0) or 0)
        c_tok = int(getattr(usage, "output_tokens", 0) or 0)
        return (
            "".join(t for t in texts if t),
            p_tok,
            c_tok,
            getattr(resp, "model", None) or self.cfg.name,
            getattr(resp, "stop_reason", None),
        )
