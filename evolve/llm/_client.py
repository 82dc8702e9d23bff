"""What the two SDK-backed providers share: API key lookup, one SDK client per event loop, and the retried
call.

One client per event loop because an httpx connection pool is bound to the loop that opened it; a provider
reused across `asyncio.run` calls (tests, resumed runs) would otherwise fail with "Event loop is closed".
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, TypeVar

from .pricing import DEFAULT_CONTEXT_WINDOW, context_window, cost_usd
from .retry import RetryPolicy, call_with_retry
from .spec import ModelConfig
from .tokens import count_tokens
from .types import LLMError, Reply, Usage

C = TypeVar("C")
#: Sent to keyless OpenAI-compatible servers (vLLM, llama.cpp server, Ollama): the SDK insists on some key.
DUMMY_KEY = "sk-no-key-required"


def resolve_api_key(cfg: ModelConfig, environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    key = env.get(cfg.api_key_env or "", "")
    if key:
        return key
    if cfg.base_url:
        return DUMMY_KEY
    raise LLMError(
        "auth", f"{cfg.label}: set the environment variable {cfg.api_key_env} (or choose another model)"
    )


class SDKProvider(Generic[C]):
    """Base of the OpenAI and Anthropic providers; subclasses make the client and do one attempt."""

    def __init__(
        self, cfg: ModelConfig, *, environ: Mapping[str, str] | None = None, rng: random.Random | None = None
    ) -> None:
        self.cfg = cfg
        self.name = cfg.label
        window = cfg.context_tokens or context_window(cfg.name) or DEFAULT_CONTEXT_WINDOW
        self.context_tokens = max(256, window - cfg.max_tokens)
        self.policy = RetryPolicy.from_config(cfg)
        self._api_key = resolve_api_key(cfg, environ)
        self._sdk = (
            self._import_sdk()
        )  # now, not inside the first timed attempt (the SDKs take ~1 s to import)
        self._rng = rng or random.Random()
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, C] = weakref.WeakKeyDictionary()

    def _import_sdk(self) -> Any:
        raise NotImplementedError

    def _make_client(self, api_key: str) -> C:
        raise NotImplementedError

    def client(self) -> C:
        loop = asyncio.get_running_loop()
        if loop not in self._clients:
            self._clients[loop] = self._make_client(self._api_key)
        return self._clients[loop]

    def count_tokens(self, text: str) -> int:
        return count_tokens(text)

    async def prepare(self) -> None:
        """Make this loop's client now: it imports the HTTP stack and sets up TLS (~0.15 s), which the
        controller overlaps with the seed's evaluation instead of adding to the first call. A client that
        cannot be made is left to the first call, which retries and records why, as before."""
        try:
            self.client()
        except Exception:  # noqa: BLE001 - reported by the first call, not by a warm-up
            pass

    async def aclose(self) -> None:
        """Close this loop's HTTP connections (other loops' clients go with their loops)."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.close()  # type: ignore[attr-defined]

    async def _run(self, attempt: Callable[[], Awaitable[tuple[str, int, int, str, str | None]]]) -> Reply:
        """Retry `attempt` (which returns text, prompt tokens, completion tokens, model, finish reason)."""
        start = time.perf_counter()
        (text, p_tok, c_tok, model, finish), attempts = await call_with_retry(
            attempt, self.policy, rng=self._rng, label=self.name
        )
        cost = cost_usd(p_tok, c_tok, self.cfg.price_in_per_mtok or 0.0, self.cfg.price_out_per_mtok or 0.0)
        return Reply(text, Usage(p_tok, c_tok, cost), model, time.perf_counter() - start, attempts, finish)


def bad_reply(provider: str, what: str) -> LLMError:
    return LLMError("bad_reply", f"{provider}: {what}")
