"""The one retry loop every remote provider goes through, so failures behave (and are logged) the same
everywhere.

The SDKs' own retries are switched off: they would hide attempts from us and differ between vendors. Here each
attempt gets a hard per-call timeout; rate limits (429), server errors (5xx), timeouts, dropped connections
and unparsable replies are retried with exponential back-off and jitter (a server's Retry-After wins when
present); auth and bad-request errors fail at once. After `max_retries` retries the last error is raised as
`LLMError(kind=...)`.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from .types import LLMError

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 4  # retries after the first attempt
    base_delay_s: float = 1.0
    max_delay_s: float = 60.0
    timeout_s: float = 120.0  # per attempt
    max_retry_after_s: float = 300.0  # never sleep longer than this for a server's Retry-After

    @classmethod
    def from_config(cls, cfg) -> RetryPolicy:  # cfg: ModelConfig (duck-typed to avoid an import cycle)
        return cls(
            max_retries=cfg.max_retries,
            base_delay_s=cfg.backoff_base_s,
            max_delay_s=cfg.backoff_max_s,
            timeout_s=cfg.timeout_s,
        )

    def backoff(self, retry: int, rng: random.Random) -> float:
        """Delay before retry number `retry` (1-based): capped exponential, "equal jitter" (half fixed, half
        random) so concurrent callers spread out without ever retrying instantly."""
        cap = min(self.max_delay_s, self.base_delay_s * (2 ** (retry - 1)))
        return cap * (0.5 + 0.5 * rng.random())


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds the server asks us to wait: `retry-after-ms`, or `retry-after` as seconds or an HTTP date."""
    if not headers:
        return None
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None:
            return max(0.0, float(ms) / 1000)
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _mro_names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def _error_code(body: object) -> str:
    """`error.code` / `error.type` from an OpenAI or Anthropic error body, if any."""
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            return str(err.get("code") or err.get("type") or "")
    return ""


def kind_for_status(status: int, code: str = "") -> str:
    if status == 429:
        return "budget" if code == "insufficient_quota" else "rate_limit"
    if status in (401, 403):
        return "auth"
    if status == 402:
        return "budget"
    if status == 408:
        return "timeout"
    if status == 409 or status >= 500:
        return "server"
    return "other"


def classify_exception(exc: BaseException) -> LLMError:
    """Map an exception from the openai/anthropic SDKs (matched by class name, so both work without imports),
    asyncio or httpx to an LLMError with the right kind."""
    if isinstance(exc, LLMError):
        return exc
    names = _mro_names(exc)
    text = f"{type(exc).__name__}: {exc}"
    if "APITimeoutError" in names or isinstance(exc, TimeoutError) or "TimeoutException" in names:
        return LLMError("timeout", text)
    if "APIStatusError" in names:
        status = int(getattr(exc, "status_code", 0) or 0)
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
        return LLMError(
            kind_for_status(status, _error_code(getattr(exc, "body", None))),  # type: ignore[arg-type]
            text,
            status=status,
            retry_after=parse_retry_after(headers),
        )
    if (
        "APIResponseValidationError" in names
        or isinstance(exc, json.JSONDecodeError)
        or "ValidationError" in names
    ):
        return LLMError("bad_reply", text)
    if "APIConnectionError" in names or "TransportError" in names or isinstance(exc, ConnectionError):
        return LLMError("server", f"connection failed: {text}")
    return LLMError("other", text)


async def call_with_retry(
    attempt: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    rng: random.Random | None = None,
    label: str = "llm",
) -> tuple[T, int]:
    """Run `attempt()` until it succeeds or fails for good; return (result, number of attempts).

    `attempt` should raise `LLMError("bad_reply", ...)` for a reply it cannot use, so that is retried too.
    """
    rng = rng or random.Random()
    attempts = 0
    while True:
        attempts += 1
        try:
            return await asyncio.wait_for(attempt(), policy.timeout_s), attempts
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if isinstance(exc, TimeoutError) and not isinstance(exc, LLMError):
                err = LLMError("timeout", f"no reply within {policy.timeout_s:g} s")
            else:
                err = classify_exception(exc)
            err.attempts = attempts
            if not err.retryable or attempts > policy.max_retries:
                if err.retryable:
                    err.message = f"{err.message} (gave up after {attempts} attempts)"
                    err.args = (f"[{err.kind}] {err.message}",)
                raise err from (exc if exc is not err else None)
            delay = policy.backoff(attempts, rng)
            if err.retry_after is not None:
                delay = min(err.retry_after, policy.max_retry_after_s)
            log.warning("%s: attempt %d failed (%s); retrying in %.2f s", label, attempts, err, delay)
            await asyncio.sleep(delay)
