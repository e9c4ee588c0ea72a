"""What every portal response gets and every portal write must show: security headers
and a valid CSRF token.

A plain ASGI middleware, so that no page can forget either: it sits inside the API's
body-size limit and before routing. Paths of the API and its neighbours (docs,
health, tracked links, carrier callbacks) are left exactly as they were.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

from anyio import to_thread
from fastapi import Request
from starlette.datastructures import Headers
from starlette.formparsers import MultiPartParser

from smscast.api.middleware import replay_body
from smscast.web.csrf import CSRF_FIELD, CSRF_HEADER, UNSAFE_METHODS, token_is_valid

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]

# /u/: an email's unsubscribe link; its signed token is the proof, and a mail provider
# posts the one-click unsubscribe (RFC 8058) with no CSRF token it could know.
NOT_PORTAL = (
    "/api/", "/docs", "/openapi.json", "/healthz", "/readyz", "/l/", "/hooks/", "/u/",
)  # fmt: skip

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; frame-ancestors 'none'; "
    "form-action 'self'; base-uri 'none'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
)


def is_portal_path(path: str) -> bool:
    return not path.startswith(NOT_PORTAL)


class PortalGuard:
    """Adds the security headers to portal responses; refuses a portal write without a
    valid CSRF token (header `X-CSRF-Token` or form field `csrf_token`) with the 403 page."""

    def __init__(self, app: Asgi, refuse: Callable[[Request], Any]) -> None:
        self.app, self.refuse = app, refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_portal_path(scope.get("path", "")):
            await self.app(scope, receive, send)
            return

        async def send_guarded(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in SECURITY_HEADERS if n not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        if scope.get("method") not in UNSAFE_METHODS:
            await self.app(scope, receive, send_guarded)
            return
        body = await _read_body(receive)
        request = Request(scope)
        token = request.headers.get(CSRF_HEADER) or await _form_token(scope, body)
        key: bytes = request.app.state.portal_key
        if not token_is_valid(key, token, request.cookies):
            response = await to_thread.run_sync(self.refuse, Request(scope, _ended))
            await response(scope, _ended, send_guarded)
            return
        await self.app(scope, replay_body(body, receive), send_guarded)


async def _read_body(receive: Receive) -> bytes:
    """The whole body (the API's BodyLimitMiddleware, outside this one, bounds it)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _form_token(scope: Scope, body: bytes) -> str | None:
    """The `csrf_token` field of a urlencoded or multipart form body."""
    headers = Headers(scope=scope)
    content_type = headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        values = parse_qs(body.decode("utf-8", errors="replace")).get(CSRF_FIELD)
        return values[0] if values else None
    if content_type.startswith("multipart/form-data"):

        async def stream() -> Any:
            yield body

        try:
            form = await MultiPartParser(headers, stream()).parse()
        except Exception:  # a broken body has no token; the refusal says what is missing
            return None
        value = form.get(CSRF_FIELD)
        await form.close()
        return value if isinstance(value, str) else None
    return None


async def _ended() -> Message:
    return {"type": "http.disconnect"}
