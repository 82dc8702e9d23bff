"""Types that cross the boundary between the LLM layer and the rest of the engine.

They are plain dataclasses (not pydantic) because one `Reply` is made per LLM call on the hot path and is
stored field by field; the provider protocol is structural so tests and users can plug in anything with the
same shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

ErrorKind = Literal["rate_limit", "server", "timeout", "bad_reply", "auth", "budget", "other"]

#: Kinds worth another attempt: the same request may well succeed a moment later.
RETRYABLE_KINDS: frozenset[str] = frozenset({"rate_limit", "server", "timeout", "bad_reply"})


@dataclass
class Usage:
    """Tokens and dollars of one call, as the server reported them (counted locally where it reports none)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


@dataclass
class Reply:
    """One successful completion. `latency_s` spans all attempts (retries and back-off included), `attempts`
    counts them, so the store can show what a reply really cost in time."""

    text: str
    usage: Usage
    model: str
    latency_s: float
    attempts: int = 1
    finish_reason: str | None = None
    notes: list[str] = field(default_factory=list)  # what the run should know, e.g. a grammar the server refused


class LLMError(Exception):
    """A call that failed for good (after retries where retrying made sense).

    `kind` is what the controller branches on: "budget" and "auth" stop a run, the rest fail one child.
    """

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(f"[{kind}] {message}")
        self.kind: ErrorKind = kind
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.attempts = attempts

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE_KINDS

    def __reduce__(self):  # keep kind/message when pickled across processes (Ray, process pools)
        return (_rebuild_llm_error, (self.kind, self.message, self.status, self.retry_after, self.attempts))


def _rebuild_llm_error(kind, message, status, retry_after, attempts) -> LLMError:
    return LLMError(kind, message, status=status, retry_after=retry_after, attempts=attempts)


@runtime_checkable
class LLMProvider(Protocol):
    """What the controller needs from a model. `context_tokens` is the prompt budget (context window minus the
    tokens reserved for the reply), which the prompt builder must fit in. Optional: `async prepare()` (get
    ready for the first call; the controller runs it while the seeds are evaluated) and `async aclose()`."""

    @property
    def name(self) -> str: ...  # e.g. "openai:gpt-4o-mini", "local:smollm2-135m"

    @property
    def context_tokens(self) -> int: ...

    async def generate(self, messages: list[dict[str, str]], **params: object) -> Reply: ...

    def count_tokens(self, text: str) -> int: ...
