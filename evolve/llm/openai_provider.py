"""OpenAI and any OpenAI-compatible server (vLLM, llama.cpp server, Ollama, proxies) through the official SDK.

The SDK's own retries are off (max_retries=0): `retry.call_with_retry` does them, the same way for every
provider, and counts attempts. A 200 reply that is not a usable chat completion (not JSON, no choices) is
retried as "bad_reply" because overloaded proxies do send those.

The request goes through the SDK's low-level `post` (its client: auth, base URL, timeouts, error classes)
with the body as built here, and the reply is read as plain JSON: the typed `chat.completions.create`
re-validates every message against its TypedDicts and builds pydantic models for the reply, which cost more
engine CPU per call than the rest of a child's loop (measured on an instant local server); five fields are
all Evolve reads.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ._client import SDKProvider, bad_reply
from .guided import GrammarLadder
from .tokens import count_message_tokens, count_tokens
from .types import Reply

# Reasoning models take max_completion_tokens and only the default temperature.
_REASONING = re.compile(r"^(o\d|gpt-5)")


class OpenAIProvider(SDKProvider[Any]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ladder = GrammarLadder()

    @property
    def accepts_grammar(self) -> bool:
        """Only self-hosted servers (a base_url) take a `grammar` parameter; OpenAI's own API does not."""
        return self.cfg.base_url is not None

    def _import_sdk(self) -> Any:
        import openai

        return openai

    def _make_client(self, api_key: str) -> Any:
        return self._sdk.AsyncOpenAI(
            api_key=api_key, base_url=self.cfg.base_url, max_retries=0, timeout=self.cfg.timeout_s
        )

    async def generate(self, messages: list[dict[str, str]], **params: Any) -> Reply:
        """`grammar` (GBNF text) is sent in the fields the server understands (evolve/llm/guided.py); a server
        that refuses it is asked again without it, and the Reply's notes say so."""
        temperature, max_tokens, extra = self.cfg.options(params)
        grammar = extra.pop("grammar", None)
        request: dict[str, Any] = {"model": self.cfg.name, "messages": messages, **extra}
        if self.cfg.base_url is None and _REASONING.match(self.cfg.name):
            request["max_completion_tokens"] = max_tokens
        else:
            request["max_tokens"] = max_tokens
            request["temperature"] = temperature

        async def post(body: dict[str, Any]) -> Reply:
            async def attempt():
                text = await self.client().post("/chat/completions", body=body, cast_to=str)
                try:
                    reply = json.loads(text)
                except ValueError:
                    raise bad_reply(self.name, f"not a chat completion: {text[:200]!r}") from None
                return self._parse(reply, messages)

            return await self._run(attempt)

        if not grammar or not self.accepts_grammar:
            return await post(request)
        reply, notes = await self._ladder.send(str(grammar), request, post)
        reply.notes = notes
        return reply

    def _parse(self, body: Any, messages: list[dict[str, str]]) -> tuple[str, int, int, str, str | None]:
        """Text, prompt and completion tokens, model and finish reason of a chat completion's JSON."""
        if not isinstance(body, dict) or "choices" not in body:
            raise bad_reply(self.name, f"not a chat completion: {str(body)[:200]!r}")
        choices = body["choices"]
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise bad_reply(self.name, "reply has no choices")
        choice = choices[0]
        message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
        text = message.get("content")
        if not isinstance(text, str):
            refusal = message.get("refusal")
            raise bad_reply(
                self.name, f"reply has no text content{f' (refusal: {refusal})' if refusal else ''}"
            )
        usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
        p_tok, c_tok = usage.get("prompt_tokens"), usage.get("completion_tokens")
        if not isinstance(p_tok, int) or not isinstance(c_tok, int):  # some servers omit usage: count ourselves
            p_tok, c_tok = count_message_tokens(messages), count_tokens(text)
        model = body.get("model")
        finish = choice.get("finish_reason")
        return (text, p_tok, c_tok, model if isinstance(model, str) and model else self.cfg.name,
                finish if isinstance(finish, str) else None)
