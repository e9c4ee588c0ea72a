"""A push service on loopback (RFC 8030), checking what a real one checks.

    POST /push/<token>   one push message for the subscription <token>
                         -> 201 Created, Location: /message/<n>
                         -> 410 Gone for a subscription `expire` was told of
                         -> 400/401/403 naming what is wrong with the request

It takes a message only as Google's, Mozilla's and Apple's services do: a
`vapid t=<JWT>,k=<key>` Authorization whose ES256 signature holds for `k`, whose `aud`
is this service's origin, `exp` in the next 24 hours and `sub` a mailto: or https: URL;
`k` the key the subscription was made with (when the fake was told one); a `TTL`;
`Content-Encoding: aes128gcm` and a body that is one (a 16-byte salt, a record size, the
sender's P-256 key as key id, then ciphertext, at most 4096 bytes in all). It cannot
read the body (only the browser's private key can); a test decrypts `received` itself.

`subscribe()` hands out endpoints as a browser would get them; any token is taken, so
endpoints made up elsewhere work too. Point a webpush connector at it with the setting
`endpoint_hosts=127.0.0.1` (plain http is allowed for a loopback host named exactly).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from smscast.channels.push.vapid import (
    MAX_JWT_LIFETIME_S,
    SUBJECT,
    VapidError,
    b64url,
    b64url_decode,
    read_vapid_authorization,
)

MAX_BODY = 4096
MAX_HEAD_BYTES = 16 * 1024
_REASONS = {201: "Created", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
            404: "Not Found", 405: "Method Not Allowed", 410: "Gone",
            413: "Payload Too Large"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class PushReceived:
    """One message the fake took: the raw encrypted body and what came with it."""

    token: str
    body: bytes
    ttl: int
    urgency: str
    topic: str
    claims: dict[str, Any]
    vapid_key: str
    at: datetime


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(slots=True)
class PushFake:
    """The running fake: its address, what it took, and the subscriptions it forgot."""

    host: str
    port: int
    server: asyncio.Server
    clock: Callable[[], datetime]
    vapid_public: str | None = None
    received: list[PushReceived] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)
    expired: set[str] = field(default_factory=set)
    _count: int = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def subscribe(self) -> str:
        """A new subscription's endpoint, as a browser's PushManager.subscribe gets it."""
        return f"{self.url}/push/{secrets.token_urlsafe(16)}"

    def expire(self, endpoint: str) -> None:
        """From now on the push service answers 410 Gone for this subscription."""
        self.expired.add(endpoint.rstrip("/").rsplit("/", 1)[-1])

    def received_for(self, endpoint: str) -> list[PushReceived]:
        token = endpoint.rstrip("/").rsplit("/", 1)[-1]
        return [item for item in self.received if item.token == token]

    async def close(self) -> None:
        self.server.close()
        await self.server.wait_closed()

    # -- one request ----------------------------------------------------------------

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        headers: dict[str, str] = {}
        try:
            status, headers = await self._answer(reader)
            reason = ""
        except Refused as exc:
            status, reason = exc.status, str(exc)
            self.refused.append((status, reason))
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            writer.close()
            return
        body = reason.encode()
        head = f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
        for name, value in {
            **headers,
            "Content-Type": "text/plain; charset=utf-8",
            "Content-Length": str(len(body)),
            "Connection": "close",
        }.items():
            head += f"{name}: {value}\r\n"  # fmt: skip
        writer.write(head.encode() + b"\r\n" + body)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    async def _answer(self, reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
        request_line = (await reader.readline()).decode("latin-1").split()
        if len(request_line) != 3:
            raise Refused(400, "malformed HTTP request line")
        method, path = request_line[0], request_line[1].split("?", 1)[0]
        headers: dict[str, str] = {}
        size = 0
        while True:
            line = (await reader.readline()).decode("latin-1")
            size += len(line)
            if size > MAX_HEAD_BYTES:
                raise Refused(400, "headers too large")
            if line in ("\r\n", "\n", ""):
                break
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length_text = headers.get("content-length", "0")
        if not length_text.isdigit():
            raise Refused(400, f"Content-Length {length_text!r} is not a number")
        length = int(length_text)
        if length > MAX_BODY:
            raise Refused(413, f"body of {length} bytes is over the {MAX_BODY}-byte limit")
        body = await reader.readexactly(length) if length else b""
        if not path.startswith("/push/") or len(path) <= len("/push/"):
            raise Refused(404, f"no such endpoint {path}")
        if method != "POST":
            raise Refused(405, "a push message is sent with POST")
        token = path[len("/push/") :]
        claims, key = self._check_vapid(headers.get("authorization", ""))
        ttl = self._check_headers(headers)
        check_aes128gcm(body)
        if token in self.expired:
            raise Refused(410, "the subscription has expired or was unsubscribed")
        self._count += 1
        self.received.append(PushReceived(
            token, body, ttl, headers.get("urgency", "normal"), headers.get("topic", ""),
            claims, key, self.clock(),
        ))  # fmt: skip
        return 201, {"Location": f"{self.url}/message/{self._count}", "TTL": str(ttl)}

    def _check_vapid(self, header: str) -> tuple[dict[str, Any], str]:
        if not header:
            raise Refused(401, "no Authorization: a VAPID signature is required")
        try:
            key, claims = read_vapid_authorization(header)
        except VapidError as exc:
            raise Refused(401, str(exc)) from None
        if claims.get("aud") != self.url:
            raise Refused(401, f"JWT aud {claims.get('aud')!r} is not {self.url!r}")
        now = self.clock().timestamp()
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp <= now or exp > now + MAX_JWT_LIFETIME_S:
            raise Refused(401, f"JWT exp {exp!r} is not within the next 24 hours")
        if not isinstance(claims.get("sub"), str) or not SUBJECT.match(claims["sub"]):
            raise Refused(401, f"JWT sub {claims.get('sub')!r} is not a mailto: or https: URL")
        if self.vapid_public is not None and b64url(b64url_decode(key)) != b64url(
            b64url_decode(self.vapid_public)
        ):
            raise Refused(403, "the VAPID key is not the one the subscription was made with")
        return claims, key

    @staticmethod
    def _check_headers(headers: dict[str, str]) -> int:
        ttl = headers.get("ttl", "")
        if not ttl.isdigit():
            raise Refused(400, f"TTL {ttl!r} must be a number of seconds (RFC 8030 §5.2)")
        urgency = headers.get("urgency", "normal")
        if urgency not in ("very-low", "low", "normal", "high"):
            raise Refused(400, f"Urgency {urgency!r} is not very-low, low, normal or high")
        if headers.get("content-encoding", "").lower() != "aes128gcm":
            raise Refused(400, "Content-Encoding must be aes128gcm (RFC 8291)")
        return int(ttl)


def check_aes128gcm(body: bytes) -> None:
    """The aes128gcm header (RFC 8188 §2.1) with a P-256 sender key as key id (RFC 8291)."""
    if len(body) < 21 + 65 + 17:
        raise Refused(400, f"a body of {len(body)} bytes is too short for aes128gcm")
    record_size = struct.unpack("!L", body[16:20])[0]
    id_length = body[20]
    if record_size < 18:
        raise Refused(400, f"record size {record_size} is under 18")
    if id_length != 65 or body[21] != 4:
        raise Refused(400, "the key id must be the sender's uncompressed P-256 key (65 bytes)")
    if len(body) - 86 > record_size:
        raise Refused(400, "a push message must be one record")


async def start_push_fake(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    vapid_public: str | None = None,
    clock: Callable[[], datetime] | None = None,
) -> PushFake:
    """Starts the fake; `port=0` takes a free one (`.port` says which). `vapid_public`,
    when given, is the only VAPID key it accepts (a subscription is bound to one key);
    `clock` is what `exp` is checked against (the wall clock by default)."""
    fake: PushFake | None = None

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert fake is not None
        await fake.serve(reader, writer)

    server = await asyncio.start_server(serve, host, port)
    bound = server.sockets[0].getsockname()[1]
    fake = PushFake(host, bound, server, clock or (lambda: datetime.now(UTC)), vapid_public)
    return fake
