"""Plain ASGI middleware: body size limit, the caller and its rate limit, idempotency.

They run before routing, in that order, and answer refusals themselves as
problem+json (exception handlers only see errors raised inside routes).
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any

from anyio import to_thread
from sqlalchemy import Engine

from smscast.api.deps import SESSION_COOKIE
from smscast.api.problems import problem, user_error_response
from smscast.channels.ratelimit import TokenBucket
from smscast.config import Settings
from smscast.core.errors import UserError
from smscast.engine.accounts.auth import AuthError, Caller, resolve_credential
from smscast.engine.idempotency import (
    StoredAnswer,
    claim_idempotency_key,
    idempotency_scope,
    release_idempotency_key,
    store_idempotent_answer,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]
API_PREFIX = "/api/v1"
PUBLIC_PATHS = frozenset({"/api/v1/auth/login"})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def replay_body(body: bytes, receive_more: Receive) -> Receive:
    """Gives the app the body already read, then the connection's own messages.

    After the body, `receive` must wait for the client to go away, not claim it has:
    responses that listen for a disconnect while they send (files, streams) stopped
    at once with an empty body.
    """
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return await receive_more()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


class BodyLimitMiddleware:
    """Refuses bodies over the limit with 413 before any of them is parsed."""

    def __init__(self, app: Asgi, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, replay_body(b"".join(chunks), receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(
            413,
            "body_too_large",
            f"the request body is over {self.max_bytes} bytes",
        )
        await response(scope, receive, send)


class RateLimiter:
    """A token bucket per caller: `per_minute` requests, as a burst or spread out."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def retry_after(self, scope_name: str) -> int:
        """0 when the request may go ahead, else whole seconds to wait."""
        if self.per_minute <= 0:
            return 0
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.get(scope_name)
            if bucket is None:
                bucket = TokenBucket(self.per_minute / 60, burst=float(self.per_minute))
                self._buckets[scope_name] = bucket
            if bucket.take(now, 1):
                return 0
            return max(1, math.ceil(bucket.wait_time(now, 1)))


class CallerMiddleware:
    """Resolves the credential of every /api/v1 request once, and applies its rate limit."""

    def __init__(self, app: Asgi, engine: Engine, settings: Settings, limiter: RateLimiter):
        self.app, self.engine, self.limiter = app, engine, limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        token = _credential(scope)
        limit_name = None
        if token and path not in PUBLIC_PATHS:
            try:
                caller = await to_thread.run_sync(
                    resolve_credential, self.engine, token, datetime.now(UTC)
                )
            except AuthError as error:
                state["auth_error"] = error
            else:
                state["caller"] = caller
                limit_name = caller.scope
        elif path in PUBLIC_PATHS:
            client = scope.get("client") or ("unknown", 0)
            limit_name = f"ip:{client[0]}"
        if limit_name is not None:
            wait = self.limiter.retry_after(limit_name)
            if wait:
                response = problem(
                    429,
                    "rate_limited",
                    f"over {self.limiter.per_minute} requests per minute; retry in {wait} s",
                    headers={"Retry-After": str(wait)},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _credential(scope: Scope) -> str | None:
    authorization = _header(scope, b"authorization")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    key = _header(scope, b"x-api-key")
    if key:
        return key.strip()
    cookies = _header(scope, b"cookie") or ""
    for part in cookies.split(";"):
        name, _, value = part.strip().partition("=")
        if name == SESSION_COOKIE and value:
            return value
    return None


class IdempotencyMiddleware:
    """Replays the stored answer of a POST retried with the same Idempotency-Key."""

    def __init__(self, app: Asgi, engine: Engine) -> None:
        self.app, self.engine = app, engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _header(scope, b"idempotency-key") if scope["type"] == "http" else None
        caller = scope.get("state", {}).get("caller")
        if (
            not key
            or len(key) > 200
            or scope.get("method") != "POST"
            or not isinstance(caller, Caller)
        ):
            await self.app(scope, receive, send)
            return
        message = await receive()
        body = message.get("body", b"")
        digest = hashlib.sha256(
            b"\n".join([scope["path"].encode(), scope.get("query_string", b""), body])
        ).hexdigest()
        who = idempotency_scope(caller)
        try:
            stored = await to_thread.run_sync(
                claim_idempotency_key, self.engine, who, key, digest, datetime.now(UTC)
            )
        except UserError as error:
            await user_error_response(error)(scope, receive, send)
            return
        if stored is not None:
            await _send_stored(stored, send)
            return
        await self._run(scope, replay_body(body, receive), send, who, key)

    async def _run(self, scope: Scope, receive: Receive, send: Send, who: str, key: str) -> None:
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, capture)
        except BaseException:
            await to_thread.run_sync(release_idempotency_key, self.engine, who, key)
            raise
        status = int(start.get("status", 500))
        if status >= 500:
            await to_thread.run_sync(release_idempotency_key, self.engine, who, key)
            return
        headers = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in start.get("headers", [])
        }
        answer = StoredAnswer(
            status,
            headers.get("content-type", "application/json"),
            b"".join(chunks).decode("utf-8", errors="replace"),
        )
        await to_thread.run_sync(store_idempotent_answer, self.engine, who, key, answer)


async def _send_stored(stored: StoredAnswer, send: Send) -> None:
    body = stored.body.encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": stored.status_code,
            "headers": [
                (b"content-type", stored.content_type.encode("latin-1")),
                (b"content-length", str(len(body)).encode()),
                (b"idempotent-replayed", b"true"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
