"""A spending cap in dollars and/or tokens, shared by all calls of a run.

Why here: the LLM layer knows what every call cost, and `LLMError(kind="budget")` is how the controller learns
that it must stop cleanly (finish in-flight work, store everything, start nothing new). Calls already in
flight when the cap is reached still complete and are charged, so a run may overshoot by at most its
concurrency.
"""

from __future__ import annotations

import threading

from .types import LLMError, Usage


class Budget:
    def __init__(self, max_usd: float | None = None, max_tokens: int | None = None) -> None:
        self.max_usd = max_usd
        self.max_tokens = max_tokens
        self.spent = Usage()
        self._lock = threading.Lock()  # charged from the event loop and from worker threads alike

    def charge(self, usage: Usage) -> None:
        with self._lock:
            self.spent = self.spent + usage

    @property
    def exhausted(self) -> bool:
        s = self.spent
        return (self.max_usd is not None and s.cost_usd >= self.max_usd) or (
            self.max_tokens is not None and s.total_tokens >= self.max_tokens
        )

    def check(self) -> None:
        """Call before starting an LLM call; raises LLMError("budget") once the cap is reached."""
        if self.exhausted:
            s = self.spent
            usd = "unlimited" if self.max_usd is None else f"${self.max_usd:g}"
            toks = "unlimited" if self.max_tokens is None else str(self.max_tokens)
            raise LLMError(
                "budget", f"budget reached: ${s.cost_usd:.4f} of {usd}, {s.total_tokens} tokens of {toks}"
            )
