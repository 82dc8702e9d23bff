"""What every response of the dashboard carries, and who may ask for one.

The pages show text written by hostile programs and models, so the browser is told to run nothing but the
dashboard's own files: a Content-Security-Policy with `script-src 'self'` (no inline script, no eval), no
framing, no content sniffing, no referrer. On a loopback address only requests naming a loopback host are
answered (a web page cannot reach the dashboard by rebinding its own domain to 127.0.0.1); bound anywhere else,
every request must carry the token printed at start, as `?token=` once (it is then kept in a same-site,
HTTP-only cookie) or as that cookie; tokens are compared in constant time.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import URL
from starlette.responses import PlainTextResponse, RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "evolve_ui_token"
# Styles may be inline because Plotly positions and styles every element it draws through style attributes and
# injects its own stylesheet rules (without them its charts fall apart; measured in Chromium). A style cannot run
# code; scripts stay strictly 'self', with no inline script and no eval.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    return secrets.token_urlsafe(24)


class Guard:
    """ASGI middleware: security headers on every response; host check on loopback; the token elsewhere."""

    def __init__(self, app: ASGIApp, *, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], *HEADERS]
            await send(message)

        refusal = self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, with_headers)
            return
        if self.token is not None and self._query_token(scope) is not None:
            # the token came in the address: keep it in a cookie and drop it from the address bar and history
            url = URL(scope=scope)
            query = urlencode([(k, v) for k, v in parse_qsl(url.query) if k != "token"])
            response = RedirectResponse(url.replace(query=query).path + (f"?{query}" if query else ""), 303)
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="strict", path="/")
            await response(scope, receive, with_headers)
            return
        await self.app(scope, receive, with_headers)

    def _refusal(self, scope: Scope) -> PlainTextResponse | None:
        if self.token is None:
            host = _host_name(scope)
            if not is_loopback(host):
                return PlainTextResponse("refused: this dashboard answers only to 127.0.0.1 / localhost\n", 421)
            return None
        given = self._query_token(scope) or _cookie(scope, COOKIE)
        if given is None or not hmac.compare_digest(given.encode(), self.token.encode()):
            return PlainTextResponse("refused: a valid token is required (the one `evolve ui` printed)\n", 403)
        return None

    @staticmethod
    def _query_token(scope: Scope) -> str | None:
        for key, value in parse_qsl(scope.get("query_string", b"").decode("latin-1")):
            if key == "token":
                return value
        return None


def _host_name(scope: Scope) -> str:
    for key, value in scope.get("headers", []):
        if key == b"host":
            host = value.decode("latin-1")
            if host.startswith("["):
                return host[: host.find("]") + 1]
            return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return ""


def _cookie(scope: Scope, name: str) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            jar = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except CookieError:  # a malformed cookie header is no token
                return None
            if name in jar:
                return jar[name].value
    return None
