"""The embedded local model, for real (llama.cpp + the GGUF from the `local` extra). No network, no key."""

from __future__ import annotations

import asyncio
import importlib.util
import time

import pytest

from evolve.llm import LLMError, ModelConfig, build_provider, parse_model_spec
from evolve.llm import local as local_mod
from evolve.llm.local import INSTALL_HINT, LocalModelUnavailable, LocalProvider

pytestmark = pytest.mark.local_model

PROMPT = [
    {"role": "system", "content": "You are an expert Python programmer."},
    {
        "role": "user",
        "content": "Write a Python function that returns the square of x. Reply with code only.",
    },
]


@pytest.fixture(scope="module")
def provider() -> LocalProvider:
    p = build_provider(ModelConfig(provider="local", temperature=0.0, max_tokens=24, seed=1))
    assert isinstance(p, LocalProvider)
    return p


async def test_generates_a_short_reply_with_usage(provider: LocalProvider):
    reply = await provider.generate(PROMPT)
    assert reply.text.strip()
    assert reply.model == provider.name == "local:smollm2-135m"
    assert reply.usage.prompt_tokens > 10
    assert 0 < reply.usage.completion_tokens <= 24
    assert reply.usage.cost_usd == 0.0 and reply.latency_s > 0


async def test_same_seed_same_text(provider: LocalProvider):
    a = await provider.generate(PROMPT, temperature=0.0, seed=3, max_tokens=16)
    b = await provider.generate(PROMPT, temperature=0.0, seed=3, max_tokens=16)
    assert a.text == b.text
    c = await provider.generate(PROMPT, temperature=0.9, seed=11, max_tokens=16)
    d = await provider.generate(PROMPT, temperature=0.9, seed=11, max_tokens=16)
    assert c.text == d.text  # sampling is reproducible too, given the seed


def test_count_tokens_and_context(provider: LocalProvider):
    n = provider.count_tokens("def square(x):\n    return x * x\n")
    assert 5 <= n <= 30
    assert provider.count_tokens("") == 0
    assert provider.count_tokens("word " * 100) > provider.count_tokens("word " * 10)
    assert 2048 - 24 <= provider.context_tokens <= 8192 - 24


async def test_concurrent_calls_are_serialised_safely(provider: LocalProvider):
    replies = await asyncio.gather(*(provider.generate(PROMPT, max_tokens=8) for _ in range(3)))
    assert all(r.usage.completion_tokens > 0 for r in replies)


async def test_timeout_stops_generation_and_frees_the_model(provider: LocalProvider):
    start = time.perf_counter()
    with pytest.raises(LLMError) as err:
        await provider.generate(PROMPT, max_tokens=1000, temperature=0.8, timeout_s=0.3)
    assert err.value.kind == "timeout"
    assert time.perf_counter() - start < 3.0
    assert (await provider.generate(PROMPT, max_tokens=4)).text is not None  # lock released


async def test_explicit_gguf_path_shares_the_loaded_model(provider: LocalProvider):
    other = build_provider(parse_model_spec(f"local:{provider.path}=0.5"))
    assert other.name.startswith("local:") and other.path == provider.path
    reply = await other.generate(PROMPT, max_tokens=4, temperature=0.0)
    assert reply.usage.completion_tokens > 0
    assert other._loaded() is provider._loaded()  # loaded once per process and path


def test_missing_gguf_file_is_reported(tmp_path):
    with pytest.raises(FileNotFoundError):
        build_provider(parse_model_spec(f"local:{tmp_path / 'nope.gguf'}"))


def test_missing_model_package_names_the_fix(monkeypatch):
    monkeypatch.setattr(
        local_mod, "EMBEDDED_MODELS", (local_mod.EmbeddedModel("ghost", "no-such-dist-xyz", "ghost.gguf"),)
    )
    with pytest.raises(LocalModelUnavailable) as err:
        local_mod.locate_embedded_model()
    assert INSTALL_HINT in str(err.value)
    with pytest.raises(ValueError, match="unknown embedded model"):
        local_mod.locate_embedded_model("gpt-9")


def test_missing_llama_cpp_names_the_fix(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(LocalModelUnavailable) as err:
        LocalProvider(ModelConfig(provider="local"))
    assert INSTALL_HINT in str(err.value) and "llama-cpp-python" in str(err.value)
