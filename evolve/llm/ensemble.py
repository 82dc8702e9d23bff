"""Several models behind one interface, one picked per request by weight.

Weights are mutable (`set_weight` / `update_weights`) so a later bandit can shift traffic towards the models
that improve candidates; for now they are the configured ones. Picking takes the caller's rng so runs are
reproducible.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from typing import Any

from .types import LLMProvider, Reply


class LLMEnsemble:
    def __init__(self, members: list[tuple[LLMProvider, float]]) -> None:
        if not members:
            raise ValueError("an LLM ensemble needs at least one model")
        self._providers = [p for p, _ in members]
        self._weights = [0.0] * len(members)
        self._cumulative: list[float] = []
        self.update_weights({i: w for i, (_, w) in enumerate(members)})

    @property
    def providers(self) -> list[LLMProvider]:
        return list(self._providers)

    @property
    def weights(self) -> dict[str, float]:
        """Current weight per provider name (normalised shares are weights / sum)."""
        return {p.name: w for p, w in zip(self._providers, self._weights, strict=True)}

    @property
    def members(self) -> list[tuple[LLMProvider, float]]:
        return list(zip(self._providers, self._weights, strict=True))

    @property
    def context_tokens(self) -> int:
        """The smallest prompt budget among members: a prompt that fits it fits whichever model is picked."""
        return min(p.context_tokens for p in self._providers)

    def _index(self, key: int | str) -> int:
        if isinstance(key, int):
            return key
        for i, p in enumerate(self._providers):
            if p.name == key:
                return i
        raise KeyError(f"no model named {key!r} in the ensemble")

    def set_weight(self, key: int | str, weight: float) -> None:
        self.update_weights({key: weight})

    def update_weights(self, weights: dict[int | str, float]) -> None:
        """Change some members' weights (by index or provider name); the hook a bandit will drive."""
        new = list(self._weights)
        for key, w in weights.items():
            if not (math.isfinite(w) and w >= 0):
                raise ValueError(f"weight of {key!r} must be a finite number >= 0, got {w}")
            new[self._index(key)] = float(w)
        if sum(new) <= 0:
            raise ValueError("at least one model of the ensemble needs a positive weight")
        self._weights = new
        self._cumulative = list(itertools.accumulate(new))

    def pick(self, rng: random.Random) -> LLMProvider:
        if len(self._providers) == 1:
            return self._providers[0]
        x = rng.random() * self._cumulative[-1]
        i = bisect.bisect_right(self._cumulative, x)
        return self._providers[min(i, len(self._providers) - 1)]

    async def generate(self, messages: list[dict[str, str]], *, rng: random.Random, **params: Any) -> Reply:
        """Pick a model and ask it (the Reply's `model` says which answered)."""
        return await self.pick(rng).generate(messages, **params)

    async def prepare(self) -> None:
        """Let each model that can get ready for its first call (e.g. open its HTTP client) ahead of it."""
        await self._each("prepare")

    async def aclose(self) -> None:
        await self._each("aclose")

    async def _each(self, hook: str) -> None:
        """Await the optional `hook` method of every member that has it."""
        for p in self._providers:
            method = getattr(p, hook, None)
            if method is not None:
                await method()
