"""The LLM layer against a real HTTP server on 127.0.0.1 (tests/support/chat_server.py): no SDK is mocked."""

from __future__ import annotations

import asyncio
import email.utils
import os
import pickle
import random
import subprocess
import sys
import textwrap
import time
from collections import Counter

import pytest

from evolve.llm import (
    LLMEnsemble,
    LLMError,
    LLMProvider,
    ModelConfig,
    Reply,
    RetryPolicy,
    ScriptedProvider,
    build_ensemble,
    build_provider,
    count_tokens,
    default_models,
    parse_model_spec,
)
from evolve.llm import tokens as tokens_mod
from evolve.llm.tokens import count_message_tokens
from evolve.llm.anthropic_provider import AnthropicProvider, to_anthropic
from evolve.llm.openai_provider import OpenAIProvider
from evolve.llm.retry import classify_exception, parse_retry_after

try:
    from tests.support.chat_server import ChatServer, Fault
except ImportError:  # tests/ itself on sys.path (plain `pytest` without a rootdir package)
    from support.chat_server import ChatServer, Fault

MESSAGES = [
    {"role": "system", "content": "You are a careful programmer."},
    {"role": "user", "content": "Improve this function please"},
]
FAST = {"backoff_base_s": 0.001, "backoff_max_s": 0.01, "timeout_s": 5.0}


def openai_cfg(srv: ChatServer, name: str = "gpt-4o-mini", **kw) -> ModelConfig:
    return ModelConfig(provider="openai", name=name, base_url=srv.openai_base_url, **{**FAST, **kw})


def anthropic_cfg(srv: ChatServer, name: str = "claude-haiku-4-5", **kw) -> ModelConfig:
    return ModelConfig(provider="anthropic", name=name, base_url=srv.url, **{**FAST, **kw})


@pytest.fixture
async def build():
    """build_provider, closing the SDK clients before the test's event loop ends (as the controller must)."""
    made = []

    def _build(cfg: ModelConfig, environ: dict | None = None):
        made.append(build_provider(cfg, environ=environ if environ is not None else {}))
        return made[-1]

    yield _build
    for provider in made:
        close = getattr(provider, "aclose", None)
        if close is not None:
            await close()


@pytest.fixture
def server():
    with ChatServer(replies=["```python\nprint('better')\n```"]) as srv:
        yield srv


# ---------------------------------------------------------------- OpenAI-compatible


async def test_openai_reply_usage_and_cost(server: ChatServer, build):
    server.replies = [{"text": "improved", "prompt_tokens": 1000, "completion_tokens": 2000}]
    provider = build(openai_cfg(server, temperature=0.3, max_tokens=77), {"OPENAI_API_KEY": "sk-t"})
    assert isinstance(provider, OpenAIProvider) and isinstance(provider, LLMProvider)
    reply = await provider.generate(MESSAGES)
    assert isinstance(reply, Reply)
    assert reply.text == "improved" and reply.attempts == 1 and reply.finish_reason == "stop"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (1000, 2000)
    assert reply.usage.cost_usd == pytest.approx((1000 * 0.15 + 2000 * 0.60) / 1e6)  # gpt-4o-mini list price
    assert reply.model == "gpt-4o-mini" and reply.latency_s > 0
    (req,) = server.chat_requests
    assert req.path == "/v1/chat/completions"
    assert req.body["messages"] == MESSAGES
    assert req.body["temperature"] == 0.3 and req.body["max_tokens"] == 77
    assert req.headers["authorization"] == "Bearer sk-t"


async def test_params_override_config_and_prices_override_table(server: ChatServer, build):
    cfg = openai_cfg(server, price_in_per_mtok=1.0, price_out_per_mtok=2.0, seed=5)
    server.replies = [{"text": "x", "prompt_tokens": 10, "completion_tokens": 20}]
    reply = await build(cfg, {}).generate(MESSAGES, temperature=0.0, max_tokens=9, top_p=0.5)
    assert reply.usage.cost_usd == pytest.approx((10 * 1.0 + 20 * 2.0) / 1e6)
    body = server.chat_requests[0].body
    assert (body["temperature"], body["max_tokens"], body["top_p"], body["seed"]) == (0.0, 9, 0.5, 5)


async def test_keyless_compatible_server_gets_dummy_key_and_zero_cost(server: ChatServer, build):
    provider = build(openai_cfg(server, name="qwen2.5-coder"), {})
    reply = await provider.generate(MESSAGES)
    assert reply.usage.cost_usd == 0.0 and reply.usage.completion_tokens > 0
    assert server.chat_requests[0].headers["authorization"].startswith("Bearer sk-")


async def test_openai_compatible_replies_are_read_leniently_and_refusals_named(server: ChatServer, build):
    """The reply is read as plain JSON: what compatible servers leave out is filled in, what cannot be used is a
    bad_reply that says why."""
    provider = build(openai_cfg(server, name="local-model"), {})
    plain = {"choices": [{"message": {"content": "def f(): pass"}}]}  # no usage, model or finish_reason
    text, p_tok, c_tok, model, finish = provider._parse(plain, MESSAGES)
    assert (text, model, finish) == ("def f(): pass", "local-model", None)
    assert p_tok == count_message_tokens(MESSAGES) and c_tok == count_tokens("def f(): pass")
    refused = {"choices": [{"message": {"content": None, "refusal": "I can't help with that"}}]}
    with pytest.raises(LLMError, match="refusal: I can't help with that") as err:
        provider._parse(refused, MESSAGES)
    assert err.value.kind == "bad_reply"
    for body in ({"choices": []}, {"choices": ["text"]}, ["not", "a", "dict"]):
        with pytest.raises(LLMError) as err:
            provider._parse(body, MESSAGES)
        assert err.value.kind == "bad_reply"


def test_missing_key_without_base_url_is_an_auth_error():
    with pytest.raises(LLMError) as err:
        build_provider(ModelConfig(provider="openai", name="gpt-4o-mini"), environ={})
    assert err.value.kind == "auth" and "OPENAI_API_KEY" in str(err.value)


@pytest.mark.parametrize("fault", ["429", "500", "503", "garbage", "no_choices", "drop", "slow"])
async def test_openai_fault_then_success(server: ChatServer, fault: str, build):
    server.set_faults([fault])
    server.slow_s = 3.0
    provider = build(openai_cfg(server, timeout_s=0.5), {})
    reply = await provider.generate(MESSAGES)
    assert reply.text.startswith("```python")
    assert reply.attempts == 2
    assert [r.fault for r in server.chat_requests] == [fault, None]


async def test_several_faults_in_a_row_are_all_retried(server: ChatServer, build):
    server.set_faults(["429", "500", "drop", "garbage"])
    reply = await build(openai_cfg(server, max_retries=4), {}).generate(MESSAGES)
    assert reply.attempts == 5 and len(server.chat_requests) == 5


async def test_persistent_server_error_gives_up_after_max_retries(server: ChatServer, build):
    server.set_faults(lambda i: "500")
    provider = build(openai_cfg(server, max_retries=3), {})
    with pytest.raises(LLMError) as err:
        await provider.generate(MESSAGES)
    assert err.value.kind == "server" and err.value.status == 500
    assert err.value.attempts == 4 and len(server.chat_requests) == 4
    assert "gave up after 4 attempts" in str(err.value)


@pytest.mark.parametrize(("fault", "kind"), [("401", "auth"), ("400", "other")])
async def test_client_errors_are_not_retried(server: ChatServer, fault: str, kind: str, build):
    server.set_faults(lambda i: fault)
    with pytest.raises(LLMError) as err:
        await build(openai_cfg(server), {}).generate(MESSAGES)
    assert err.value.kind == kind and err.value.attempts == 1
    assert len(server.chat_requests) == 1


async def test_wrong_api_key_is_an_auth_error_without_retry(build):
    with ChatServer(api_key="right") as srv:
        provider = build(openai_cfg(srv, api_key_env="MY_KEY"), {"MY_KEY": "wrong"})
        with pytest.raises(LLMError) as err:
            await provider.generate(MESSAGES)
        assert err.value.kind == "auth" and len(srv.chat_requests) == 1
        ok = build(openai_cfg(srv, api_key_env="MY_KEY"), {"MY_KEY": "right"})
        assert (await ok.generate(MESSAGES)).text == "OK"


async def test_timeout_is_honoured_per_attempt(server: ChatServer, build):
    server.set_faults(lambda i: "slow")
    server.slow_s = 5.0
    provider = build(openai_cfg(server, timeout_s=0.3, max_retries=1), {})
    start = time.perf_counter()
    with pytest.raises(LLMError) as err:
        await provider.generate(MESSAGES)
    elapsed = time.perf_counter() - start
    assert err.value.kind == "timeout" and err.value.attempts == 2
    assert 0.6 <= elapsed < 2.0


async def test_retry_after_header_is_honoured(server: ChatServer, build):
    server.set_faults([Fault("status", 429, retry_after=0.4)])
    provider = build(openai_cfg(server), {})  # back-off alone would wait ~1 ms
    start = time.perf_counter()
    reply = await provider.generate(MESSAGES)
    assert reply.attempts == 2
    gap = server.chat_requests[1].at - server.chat_requests[0].at
    assert gap >= 0.38 and time.perf_counter() - start < 2.0


async def test_plain_429_is_retried_but_insufficient_quota_is_a_budget_error(build):
    with ChatServer() as srv:
        srv.set_faults(lambda i: "429")
        provider = build(openai_cfg(srv), {})
        with pytest.raises(LLMError) as err:
            await provider.generate(MESSAGES)
        assert err.value.kind == "rate_limit"  # plain 429: retried until max_retries
        assert len(srv.chat_requests) == 5
    err = classify_exception(_status_error(429, {"error": {"code": "insufficient_quota"}}))
    assert err.kind == "budget" and not err.retryable


def _status_error(status: int, body: object):
    import openai

    try:
        import httpx2 as httpx  # the transport of recent SDKs
    except ImportError:
        import httpx

    request = httpx.Request("POST", "http://x/v1/chat/completions")
    response = httpx.Response(status, request=request, headers={"retry-after": "3"})
    return openai.APIStatusError("boom", response=response, body=body)


async def test_many_concurrent_calls_share_one_provider(server: ChatServer, build):
    server.set_faults(lambda i: "500" if i % 7 == 3 else None)
    provider = build(openai_cfg(server), {})
    replies = await asyncio.gather(*(provider.generate(MESSAGES) for _ in range(40)))
    assert len(replies) == 40 and all(r.text for r in replies)
    assert sum(r.attempts for r in replies) == len(server.chat_requests)


def test_provider_survives_several_event_loops(server: ChatServer):
    provider = build_provider(openai_cfg(server), environ={})

    async def call_and_close() -> int:
        reply = await provider.generate(MESSAGES)
        await provider.aclose()
        return reply.attempts

    for _ in range(2):  # an httpx pool is bound to its loop: the provider keeps one client per loop
        assert asyncio.run(call_and_close()) == 1


async def test_ensemble_prepare_opens_sdk_clients_ahead_of_the_first_call(server: ChatServer):
    provider = build_provider(openai_cfg(server), environ={})
    ens = LLMEnsemble([(provider, 1.0), (ScriptedProvider(["x"]), 1.0)])  # the scripted one has nothing to do
    await ens.prepare()
    client = provider._clients.get(asyncio.get_running_loop())  # noqa: SLF001 - what prepare() made
    assert client is not None and not server.chat_requests  # ready, and nothing sent
    assert (await provider.generate(MESSAGES)).text
    assert provider.client() is client  # the first call used it
    await provider.aclose()


async def test_reasoning_models_get_max_completion_tokens_and_no_temperature():
    with ChatServer() as srv:
        provider = build_provider(
            ModelConfig(provider="openai", name="o4-mini", **FAST), environ={"OPENAI_API_KEY": "k"}
        )
        provider._make_client = lambda key: provider._sdk.AsyncOpenAI(  # same SDK, pointed at the stub
            api_key=key, base_url=srv.openai_base_url, max_retries=0
        )
        await provider.generate(MESSAGES, max_tokens=50)
        await provider.aclose()
        body = srv.chat_requests[0].body
        assert body["max_completion_tokens"] == 50 and "temperature" not in body and "max_tokens" not in body


# ---------------------------------------------------------------- Anthropic


async def test_anthropic_reply_system_and_usage(server: ChatServer, build):
    server.replies = [{"text": "done", "prompt_tokens": 400, "completion_tokens": 100}]
    provider = build(anthropic_cfg(server, max_tokens=64), {"ANTHROPIC_API_KEY": "ak"})
    assert isinstance(provider, AnthropicProvider)
    reply = await provider.generate(MESSAGES + [{"role": "user", "content": "and be brief"}])
    assert reply.text == "done" and reply.attempts == 1 and reply.finish_reason == "end_turn"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (400, 100)
    assert reply.usage.cost_usd == pytest.approx((400 * 1.0 + 100 * 5.0) / 1e6)
    (req,) = server.chat_requests
    assert req.path == "/v1/messages"
    assert "ak" in (
        req.headers.get("x-api-key"),
        req.headers.get("authorization", "").removeprefix("Bearer "),
    )
    assert req.body["system"] == "You are a careful programmer."
    assert req.body["messages"] == [
        {"role": "user", "content": "Improve this function please\n\nand be brief"}
    ]
    assert req.body["max_tokens"] == 64


@pytest.mark.parametrize("fault", ["429", "503", "garbage", "no_choices", "drop"])
async def test_anthropic_fault_then_success(server: ChatServer, fault: str, build):
    server.set_faults([fault])
    reply = await build(anthropic_cfg(server), {"ANTHROPIC_API_KEY": "ak"}).generate(MESSAGES)
    assert reply.attempts == 2 and [r.fault for r in server.chat_requests] == [fault, None]


async def test_anthropic_auth_error_not_retried(server: ChatServer, build):
    server.set_faults(lambda i: "401")
    with pytest.raises(LLMError) as err:
        await build(anthropic_cfg(server), {"ANTHROPIC_API_KEY": "ak"}).generate(MESSAGES)
    assert err.value.kind == "auth" and len(server.chat_requests) == 1


def test_to_anthropic_alternates_turns():
    system, turns = to_anthropic(
        [
            {"role": "system", "content": "s"},
            {"role": "assistant", "content": "a"},
            {"role": "user", "content": "u"},
        ]
    )
    assert system == "s"
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]


# ---------------------------------------------------------------- retry policy


def test_backoff_is_exponential_capped_and_jittered():
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=8.0)
    rng = random.Random(0)
    for retry, cap in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (6, 8.0)]:
        delays = [policy.backoff(retry, rng) for _ in range(200)]
        assert all(cap / 2 <= d <= cap for d in delays)
        assert max(delays) - min(delays) > cap / 4  # jitter spreads callers out
    assert [RetryPolicy().backoff(2, random.Random(1)) for _ in range(2)] == [
        RetryPolicy().backoff(2, random.Random(1))
    ] * 2


def test_parse_retry_after_forms():
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < parse_retry_after({"retry-after": date}) <= 31
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


def test_llm_error_pickles_with_its_kind():
    err = pickle.loads(pickle.dumps(LLMError("rate_limit", "slow down", status=429, attempts=3)))
    assert (err.kind, err.status, err.attempts, err.retryable) == ("rate_limit", 429, 3, True)


# ---------------------------------------------------------------- ensemble


def test_ensemble_picks_in_proportion_to_weights():
    members = [
        (ScriptedProvider(["a"], name="a"), 1.0),
        (ScriptedProvider(["b"], name="b"), 2.0),
        (ScriptedProvider(["c"], name="c"), 7.0),
    ]
    ens = LLMEnsemble(members)
    n = 20000
    rng = random.Random(42)
    counts = Counter(ens.pick(rng).name for _ in range(n))
    for name, share in [("scripted:a", 0.1), ("scripted:b", 0.2), ("scripted:c", 0.7)]:
        assert counts[name] / n == pytest.approx(share, abs=0.015)
    seq1 = [ens.pick(random.Random(7)).name for _ in range(3)]
    assert len(set(seq1)) == 1  # same seed, same pick


async def test_ensemble_weights_update_and_generate():
    a, b = ScriptedProvider(["from a"], name="a"), ScriptedProvider(["from b"], name="b")
    ens = LLMEnsemble([(a, 1.0), (b, 1.0)])
    ens.set_weight("scripted:a", 0.0)
    rng = random.Random(0)
    assert {ens.pick(rng).name for _ in range(200)} == {"scripted:b"}
    assert (await ens.generate(MESSAGES, rng=rng)).text == "from b"
    ens.update_weights({0: 3.0, 1: 1.0})
    assert ens.weights == {"scripted:a": 3.0, "scripted:b": 1.0}
    with pytest.raises(ValueError):
        ens.update_weights({0: 0.0, 1: 0.0})
    with pytest.raises(ValueError):
        ens.set_weight(0, float("nan"))
    with pytest.raises(ValueError):
        LLMEnsemble([])
    assert ens.context_tokens == 8192


def test_build_ensemble_from_specs(server: ChatServer):
    cfgs = [parse_model_spec(f"openai:m1@{server.openai_base_url}=0.25"), parse_model_spec("scripted:x=0.75")]
    ens = build_ensemble(cfgs, environ={})
    assert [(p.name, w) for p, w in ens.members] == [("openai:m1", 0.25), ("scripted:x", 0.75)]


# ---------------------------------------------------------------- scripted provider


async def test_scripted_provider_cycles_raises_and_counts():
    p = ScriptedProvider(["one two", LLMError("rate_limit", "scripted"), "three"], latency_s=0.01)
    assert (await p.generate(MESSAGES)).text == "one two"
    with pytest.raises(LLMError):
        await p.generate(MESSAGES)
    r = await p.generate(MESSAGES)
    assert r.text == "three" and r.usage.cost_usd == 0.0 and r.latency_s >= 0.01
    assert r.usage.completion_tokens == count_tokens("three") and r.usage.prompt_tokens > 0
    assert (await p.generate(MESSAGES)).text == "one two" and len(p.calls) == 4


async def test_scripted_provider_callable_and_echo_default():
    p = ScriptedProvider(lambda messages, i: f"call {i}: {messages[-1]['content']}")
    assert (await p.generate(MESSAGES)).text == "call 0: Improve this function please"
    echo = build_provider(parse_model_spec("scripted"))
    code = "```python\ndef f():\n    return 1\n```"
    assert (await echo.generate([{"role": "user", "content": f"Improve:\n{code}\nthanks"}])).text == code


# ---------------------------------------------------------------- specs and defaults


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("local", {"provider": "local", "name": "auto", "path": None, "weight": 1.0}),
        ("local:/models/tiny.gguf", {"provider": "local", "name": "tiny", "path": "/models/tiny.gguf"}),
        ("local:smollm2-135m=2", {"provider": "local", "name": "smollm2-135m", "weight": 2.0}),
        (
            "openai:gpt-4o-mini",
            {
                "provider": "openai",
                "name": "gpt-4o-mini",
                "api_key_env": "OPENAI_API_KEY",
                "price_in_per_mtok": 0.15,
                "price_out_per_mtok": 0.60,
            },
        ),
        (
            "anthropic:claude-sonnet-4-5",
            {
                "provider": "anthropic",
                "name": "claude-sonnet-4-5",
                "api_key_env": "ANTHROPIC_API_KEY",
                "price_out_per_mtok": 15.0,
            },
        ),
        (
            "openai:qwen2.5-coder@http://127.0.0.1:8080/v1",
            {"name": "qwen2.5-coder", "base_url": "http://127.0.0.1:8080/v1", "price_in_per_mtok": 0.0},
        ),
        ("openai:gpt-4o-mini-2024-07-18=0.7", {"weight": 0.7, "price_in_per_mtok": 0.15}),
        ("openai:m@http://h:1/v1?a=b", {"base_url": "http://h:1/v1?a=b", "weight": 1.0}),
        (" scripted ", {"provider": "scripted", "name": "scripted"}),
    ],
)
def test_parse_model_spec_good(spec: str, expected: dict):
    cfg = parse_model_spec(spec)
    for key, value in expected.items():
        assert getattr(cfg, key) == value, key


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "gpt-4o",
        "foo:bar",
        "openai",
        "openai:",
        "openai:x@ftp://h",
        "openai:x=abc",
        "local=-1",
        "openai:x=inf",
        "anthropic:@http://h",
    ],
)
def test_parse_model_spec_bad(spec: str):
    with pytest.raises(ValueError) as err:
        parse_model_spec(spec)
    assert repr(spec) in str(err.value) and "accepted forms" in str(err.value)


def test_model_config_validates():
    with pytest.raises(ValueError):
        ModelConfig(provider="openai", name="x", temprature=0.5)  # typo: extra fields are rejected
    with pytest.raises(ValueError):
        ModelConfig(provider="openai", name="x", weight=-1)
    assert ModelConfig(provider="openai", name="unknown-model").price_in_per_mtok == 0.0


def test_default_models():
    assert [c.label for c in default_models({"OPENAI_API_KEY": "k", "ANTHROPIC_API_KEY": "a"})] == [
        "openai:gpt-4o-mini"
    ]
    assert [c.label for c in default_models({"ANTHROPIC_API_KEY": "a"})] == ["anthropic:claude-haiku-4-5"]
    assert [c.provider for c in default_models({})] == ["local"]
    assert [c.provider for c in default_models({"OPENAI_API_KEY": ""})] == ["local"]


# ---------------------------------------------------------------- tokens


def test_token_counting_is_exact_cl100k():
    assert count_tokens("hello world") == 2
    assert count_tokens("<|endoftext|>") > 1  # special tokens in user text are counted as text, not rejected
    assert count_tokens("") == 0


def test_token_counting_works_offline(tmp_path):
    """A fresh interpreter with an empty tiktoken cache and every socket call failing still counts exactly."""
    code = textwrap.dedent(
        """
        import socket
        def no_network(*a, **k):
            raise OSError("network used")
        socket.socket.connect = no_network
        socket.create_connection = no_network
        socket.getaddrinfo = no_network
        from evolve.llm.tokens import count_tokens, get_encoding
        assert get_encoding() is not None, "offline encoding failed to load"
        print(count_tokens("def f(x):\\n    return x * x\\n"))
        """
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "TIKTOKEN_CACHE_DIR": str(tmp_path / "empty-cache"), "PYTHONPATH": root}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, cwd=root
    )
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.strip()) == count_tokens("def f(x):\n    return x * x\n")


def test_token_counting_falls_back_to_len_over_4(monkeypatch):
    monkeypatch.setattr(tokens_mod, "get_encoding", lambda: None)
    assert tokens_mod.count_tokens("abcdefghi") == 3


# ---------------------------------------------------------------- the stub server itself


async def test_stub_server_lists_models_and_is_fast():
    import openai

    with ChatServer(model="stub-7b") as srv:
        client = openai.AsyncOpenAI(api_key="k", base_url=srv.openai_base_url, max_retries=0)
        models = await client.models.list()
        assert [m.id for m in models.data] == ["stub-7b"]
        start = time.perf_counter()
        await asyncio.gather(
            *(client.chat.completions.create(model="m", messages=MESSAGES) for _ in range(100))
        )
        assert time.perf_counter() - start < 5.0
        await client.close()
        assert len(srv.chat_requests) == 100 and srv.requests[0].method == "GET"
