"""Dollar cost of a call: usage × per-model price (USD per million tokens).

The table is deliberately small (list prices of a few well-known models, standard tier, no caching discounts);
anything else costs 0 unless the user sets `price_in_per_mtok` / `price_out_per_mtok` in the model's config.
"""

from __future__ import annotations

import re
from typing import TypeVar

V = TypeVar("V")

#: model name -> (input USD / Mtok, output USD / Mtok)
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "o3": (2.00, 8.00),
    "o4-mini": (1.10, 4.40),
    "gpt-5": (1.25, 10.00),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5-nano": (0.05, 0.40),
    "claude-opus-4-1": (15.00, 75.00),
    "claude-sonnet-4-5": (3.00, 15.00),
    "claude-sonnet-4": (3.00, 15.00),
    "claude-haiku-4-5": (1.00, 5.00),
    "claude-3-5-haiku": (0.80, 4.00),
}

#: model name -> context window (tokens), for the same models; others get a conservative default.
CONTEXT_WINDOWS: dict[str, int] = {
    "gpt-4o": 128_000,
    "gpt-4o-mini": 128_000,
    "gpt-4.1": 1_047_576,
    "gpt-4.1-mini": 1_047_576,
    "gpt-4.1-nano": 1_047_576,
    "o3": 200_000,
    "o4-mini": 200_000,
    "gpt-5": 272_000,
    "gpt-5-mini": 272_000,
    "gpt-5-nano": 272_000,
    "claude-opus-4-1": 200_000,
    "claude-sonnet-4-5": 200_000,
    "claude-sonnet-4": 200_000,
    "claude-haiku-4-5": 200_000,
    "claude-3-5-haiku": 200_000,
}
DEFAULT_CONTEXT_WINDOW = 8192

# A dated snapshot or alias of a listed model: "gpt-4o-mini-2024-07-18", "claude-sonnet-4-5-20250929",
# "...-latest".
_SUFFIX = re.compile(r"(-\d{4}-\d{2}-\d{2}|-\d{8}|-latest)$")


def _lookup(table: dict[str, V], model: str) -> V | None:
    name = model.strip().lower()
    if name in table:
        return table[name]
    base = _SUFFIX.sub("", name)
    return table.get(base)


def known_price(model: str) -> tuple[float, float] | None:
    """(input, output) USD per million tokens for a listed model, else None."""
    return _lookup(PRICES, model)


def context_window(model: str) -> int | None:
    return _lookup(CONTEXT_WINDOWS, model)


def cost_usd(
    prompt_tokens: int, completion_tokens: int, price_in_per_mtok: float, price_out_per_mtok: float
) -> float:
    return (prompt_tokens * price_in_per_mtok + completion_tokens * price_out_per_mtok) / 1_000_000
