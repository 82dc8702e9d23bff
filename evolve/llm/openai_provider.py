"""OpenAI and any OpenAI-compatible server (vLLM, llama.cpp server, Ollama, proxies) through the official SDK.

The SDK's own retries are off (max_retries=0): `retry.call_with_retry` does them, the same way for every
provider, and counts attempts. A 200 reply that is not a usable chat completion (not JSON, no choices) is
retried as "bad_reply" because overloaded proxies do send those.
"""

from __future__ import annotations

import re
from typing import Any

from ._client import SDKProvider, bad_reply
from .tokens import count_message_tokens, count_tokens
from .types import Reply

# Reasoning models take max_completion_tokens and only the default temperature.
_REASONING = re.compile(r"^(o\d|gpt-5)")


class OpenAIProvider(SDKProvider[Any]):
    def _import_sdk(self) -> Any:
        import openai
        import openai.resources.chat.completions  # noqa: F401  (lazily loaded otherwise)

        return openai

    def _make_client(self, api_key: str) -> Any:
        return self._sdk.AsyncOpenAI(
            api_key=api_key, base_url=self.cfg.base_url, max_retries=0, timeout=self.cfg.timeout_s
        )

    async def generate(self, messages: list[dict[str, str]], **params: Any) -> Reply:
        temperature, max_tokens, extra = self.cfg.options(params)
        request: dict[str, Any] = {"model": self.cfg.name, "messages": messages, **extra}
        if self.cfg.base_url is None and _REASONING.match(self.cfg.name):
            request["max_completion_tokens"] = max_tokens
        else:
            request["max_tokens"] = max_tokens
            request["temperature"] = temperature

        async def attempt():
            resp = await self.client().chat.completions.create(**request)
            return self._parse(resp, messages)

        return await self._run(attempt)

    def _parse(self, resp: Any, messages: list[dict[str, str]]):
        if isinstance(resp, (str, bytes)) or not hasattr(resp, "choices"):
            raise bad_reply(self.name, f"not a chat completion: {str(resp)[:200]!r}")
        choices = getattr(resp, "choices", None)
        if not choices:
            raise bad_reply(self.name, "reply has no choices")
        choice = choices[0]
        message = getattr(choice, "message", None)
        text = getattr(message, "content", None)
        if not isinstance(text, str):
            refusal = getattr(message, "refusal", None)
            raise bad_reply(
                self.name, f"reply has no text content{f' (refusal: {refusal})' if refusal else ''}"
            )
        usage = getattr(resp, "usage", None)
        p_tok = getattr(usage, "prompt_tokens", None)
        c_tok = getattr(usage, "completion_tokens", None)
        if not isinstance(p_tok, int) or not isinstance(
            c_tok, int
        ):  # some servers omit usage: count ourselves
            p_tok, c_tok = count_message_tokens(messages), count_tokens(text)
        return (
            text,
            p_tok,
            c_tok,
            getattr(resp, "model", None) or self.cfg.name,
            getattr(choice, "finish_reason", None),
        )
