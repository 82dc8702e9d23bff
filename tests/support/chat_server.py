"""A real HTTP chat server on 127.0.0.1 that speaks enough OpenAI and Anthropic to test clients end to end.

Why a real server and not mocks: the providers go through the vendors' SDKs and httpx, and retries, timeouts
and dropped connections only behave realistically over a socket. The same server is the "instant stub" LLM of
the loop tests and benchmarks (replies in well under a millisecond of server time).

    with ChatServer(replies=["```python\\nprint(1)\\n```"], faults=["429", None, "500"]) as srv:
        cfg = ModelConfig(provider="openai", name="stub", base_url=srv.openai_base_url)
        ...
        assert len(srv.chat_requests) == 4

Endpoints: POST /v1/chat/completions (OpenAI), POST /v1/messages (Anthropic), GET /v1/models. Faults (one per
chat request, in order; None = answer normally): "429" (with Retry-After), "500", "503", "401", "400", "slow"
(answer after `slow_s`, beyond a short client timeout), "garbage" (200, non-JSON body), "no_choices" (200,
JSON without choices/content), "drop" (close the connection without answering), or a `Fault(...)`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ReplyScript = Sequence[str] | Callable[[dict[str, Any], int], "str | dict[str, Any]"]


@dataclass(frozen=True)
class Fault:
    kind: str  # "status" | "slow" | "garbage" | "no_choices" | "drop"
    status: int = 500
    retry_after: float | None = None  # seconds, sent as Retry-After (and retry-after-ms)
    delay_s: float | None = None  # for "slow": overrides the server's slow_s

    @property
    def label(self) -> str:
        return str(self.status) if self.kind == "status" else self.kind


def as_fault(spec: str | int | Fault | None) -> Fault | None:
    if spec is None or isinstance(spec, Fault):
        return spec
    text = str(spec)
    if text.isdigit():
        status = int(text)
        return Fault("status", status, retry_after=0.0 if status == 429 else None)
    if text in ("slow", "garbage", "no_choices", "drop"):
        return Fault(text)
    raise ValueError(f"unknown fault {spec!r}")


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: Any  # parsed JSON, or the raw text when it was not JSON
    fault: str | None  # the fault injected into the answer, if any
    at: float = field(default_factory=time.monotonic)


def _words(text: str) -> int:
    return len(text.split())


def _message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content blocks
        return " ".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return ""


class ChatServer:
    """Context manager running the server in a daemon thread; see the module docstring."""

    def __init__(
        self,
        replies: ReplyScript | None = None,
        faults: Sequence[str | int | Fault | None] | Callable[[int], str | int | Fault | None] = (),
        *,
        latency_s: float = 0.0,
        slow_s: float = 2.0,
        api_key: str | None = None,
        model: str = "stub-model",
        models: Sequence[str] = (),  # what GET /v1/models lists (default: `model` alone)
        refuse_fields: Sequence[str] = (),
    ) -> None:
        self.replies: ReplyScript = replies if replies is not None else ["OK"]
        self.refuse_fields = tuple(refuse_fields)  # a chat request carrying any of these top-level fields gets 400
        self.latency_s = latency_s
        self.slow_s = slow_s
        self.api_key = api_key  # when set, requests without it get 401
        self.model = model
        self.models = list(models) or [model]
        self.requests: list[RecordedRequest] = []
        self._faults = faults
        self._fault_index = 0
        self._reply_index = 0
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------------------
    def start(self) -> ChatServer:
        handler = type("_Handler", (_Handler,), {"chat": self})
        self._httpd = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> ChatServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- addresses -------------------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        """Root URL; the Anthropic SDK's base_url (it appends /v1/messages)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    anthropic_base_url = url

    # -- script and faults -----------------------------------------------------------------------------------
    def set_faults(self, faults: Sequence[str | int | Fault | None] | Callable[[int], Any]) -> None:
        """Replace the fault schedule; it applies from the next chat request on."""
        with self._lock:
            self._faults, self._fault_index = faults, 0

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.method == "POST"]

    def _next_fault(self) -> Fault | None:
        with self._lock:
            i = self._fault_index
            self._fault_index += 1
            faults = self._faults
        if callable(faults):
            return as_fault(faults(i))
        return as_fault(faults[i]) if i < len(faults) else None

    def _next_reply(self, body: dict[str, Any]) -> tuple[str, int | None, int | None]:
        with self._lock:
            i = self._reply_index
            self._reply_index += 1
        script = self.replies
        out = script(body, i) if callable(script) else script[i % len(script)]
        if isinstance(out, dict):
            return str(out.get("text", "")), out.get("prompt_tokens"), out.get("completion_tokens")
        return str(out), None, None

    def _record(self, req: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(req)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # do not wait for "slow" handlers on close
    request_queue_size = (
        1024  # the default backlog of 5 resets connections under a burst of concurrent clients
    )


class _Handler(BaseHTTPRequestHandler):
    chat: ChatServer
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse connections, as with a real API
    disable_nagle_algorithm = (
        True  # headers and body go out in separate writes: avoid the 40 ms delayed-ACK stall
    )

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send(
        self, status: int, body: bytes, content_type: str = "application/json", headers: dict | None = None
    ):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _json(self, status: int, obj: Any, headers: dict | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), headers=headers)

    def do_GET(self) -> None:
        self.chat._record(
            RecordedRequest("GET", self.path, {k.lower(): v for k, v in self.headers.items()}, None, None)
        )
        if self.path.rstrip("/") == "/v1/models":
            self._json(
                200,
                {
                    "object": "list",
                    "data": [
                        {"id": name, "object": "model", "created": 0, "owned_by": "evolve-tests"}
                        for name in self.chat.models
                    ],
                },
            )
        else:
            self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

    def do_POST(self) -> None:
        chat = self.chat
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8", "replace")
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw
        path = self.path.split("?")[0].rstrip("/")
        anthropic = path.endswith("/messages")
        if path not in ("/v1/chat/completions", "/chat/completions", "/v1/messages"):
            chat._record(
                RecordedRequest(
                    "POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body, None
                )
            )
            return self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
        fault = chat._next_fault()
        if fault is None and isinstance(body, dict) and any(f in body for f in chat.refuse_fields):
            fault = Fault("status", 400)
        if fault is None and chat.api_key is not None:
            given = self.headers.get("x-api-key") or (self.headers.get("Authorization") or "").removeprefix(
                "Bearer "
            )
            if given != chat.api_key:
                fault = Fault("status", 401)
        chat._record(
            RecordedRequest(
                "POST",
                self.path,
                {k.lower(): v for k, v in self.headers.items()},
                body,
                fault.label if fault else None,
            )
        )
        if chat.latency_s:
            chat._closing.wait(chat.latency_s)
        if fault is not None:
            return self._fault(fault, anthropic)
        if not isinstance(body, dict):
            return self._error(400, "body is not JSON", anthropic)
        text, p_tok, c_tok = chat._next_reply(body)
        messages = body.get("messages") or []
        if p_tok is None:
            p_tok = sum(_words(_message_text(m.get("content"))) for m in messages if isinstance(m, dict))
            p_tok += _words(_message_text(body.get("system")))
        if c_tok is None:
            c_tok = _words(text)
        model = body.get("model") or chat.model
        if anthropic:
            self._json(
                200,
                {
                    "id": "msg_stub",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [{"type": "text", "text": text}],
                    "stop_reason": "end_turn",
                    "stop_sequence": None,
                    "usage": {"input_tokens": p_tok, "output_tokens": c_tok},
                },
            )
        else:
            self._json(
                200,
                {
                    "id": "chatcmpl-stub",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop",
                            "logprobs": None,
                        }
                    ],
                    "usage": {
                        "prompt_tokens": p_tok,
                        "completion_tokens": c_tok,
                        "total_tokens": p_tok + c_tok,
                    },
                },
            )

    def _error(self, status: int, message: str, anthropic: bool, headers: dict | None = None) -> None:
        types = {
            400: "invalid_request_error",
            401: "authentication_error",
            429: "rate_limit_error",
            500: "api_error",
            503: "overloaded_error",
        }
        etype = types.get(status, "api_error")
        if anthropic:
            obj: dict[str, Any] = {"type": "error", "error": {"type": etype, "message": message}}
        else:
            obj = {"error": {"message": message, "type": etype, "code": None}}
        self._json(status, obj, headers)

    def _fault(self, fault: Fault, anthropic: bool) -> None:
        if fault.kind == "status":
            headers = {}
            if fault.retry_after is not None:
                headers = {
                    "Retry-After": f"{fault.retry_after:g}",
                    "retry-after-ms": str(int(fault.retry_after * 1000)),
                }
            self._error(fault.status, f"injected {fault.status}", anthropic, headers)
        elif fault.kind == "slow":
            self.chat._closing.wait(fault.delay_s if fault.delay_s is not None else self.chat.slow_s)
            self._json(200, {"error": "too late"})
            self.close_connection = True
        elif fault.kind == "garbage":
            self._send(200, b"<html>\x00 this is not JSON {{{", "application/json")
        elif fault.kind == "no_choices":
            self._json(200, {"id": "x", "object": "chat.completion", "type": "message", "model": "stub"})
        elif fault.kind == "drop":
            self.close_connection = True  # say nothing, hang up
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
        else:
            raise ValueError(fault.kind)
