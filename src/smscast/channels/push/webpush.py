"""Web push: one encrypted, VAPID-signed POST per message to the browser's push service.

A browser that subscribed on the sign-up page handed us an endpoint (a URL at its push
service: Google's FCM for Chrome, Mozilla's autopush, Apple's, Microsoft's WNS) and two
keys. Sending is RFC 8030: POST the message to the endpoint, with a `TTL` (how long
the service keeps it for a browser that is offline) and an `Urgency`. The body is
encrypted for that browser alone (RFC 8291, `Content-Encoding: aes128gcm`) from its
`p256dh` key and `auth` secret, and the request carries our VAPID signature (RFC 8292,
see `vapid`). The service answers 201 once it holds the message.

What the browser gets is the JSON `{"title", "body", "url", "ref"}`; our service worker
(`/join/<slug>/sw.js`) shows it as a notification and opens `url` on a click.

Push has no delivery report: a 201 means the push service has the message, not that
anyone saw it, so a push message ends as `sent`. A 404 or 410 means the browser
unsubscribed or the subscription expired: the message fails for good and an
`AddressGone(GONE)` event has the engine delete the subscription. 429 and 5xx are
tried again later (`Retry-After` is honoured).

We POST to a URL a stranger gave us on a public page, so endpoints are held to the push
services named in `endpoint_hosts` (https only), lest the form make our workers call
hosts inside our network. `*` allows any https host; a loopback host named exactly may
also be plain http (the simulator's fake).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import http_ece
import httpx
from cryptography.hazmat.primitives.asymmetric import ec

from smscast.channels.base import (
    AddressGone,
    ChannelEvent,
    ConnectorState,
    GoneReason,
    LogEntry,
    OutgoingMessage,
    SubmitOutcome,
    SubmitResult,
)
from smscast.channels.http_log import redact_url, render_http, scrub
from smscast.channels.providers.http_base import Failure, generic_failure, transport_failure
from smscast.channels.push.vapid import (
    VapidError,
    audience_of,
    b64url_decode,
    check_subject,
    keys_match,
    load_private_key,
    load_public_key,
    vapid_authorization,
)
from smscast.channels.ratelimit import TokenBucket

KIND = "webpush"
GENERATE_KEYS = "python -m smscast.channels.push --generate-keys"
#: The push services of the browsers people use: Chrome/Edge/Opera (FCM), Firefox
#: (autopush), Safari (Apple), legacy Edge (WNS, many hosts under notify.windows.com).
DEFAULT_ENDPOINT_HOSTS = (
    "fcm.googleapis.com,updates.push.services.mozilla.com,web.push.apple.com,notify.windows.com"
)
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})  # http allowed when named: a fake
URGENCIES = ("very-low", "low", "normal", "high")
MAX_BODY = 4096  # RFC 8291 §4: push services need take no larger encrypted body
RECORD_SIZE = 4096
JWT_LIFETIME = timedelta(hours=12)  # RFC 8292 allows 24 h; half leaves room for clock skew
JWT_RENEW_BEFORE = timedelta(hours=1)


@dataclass(frozen=True, slots=True, kw_only=True)
class WebPushSettings:
    """One VAPID identity used as a connector (`--kind webpush`)."""

    name: str = KIND
    vapid_private_key: str = ""  # PEM, or base64url (raw 32-byte scalar or DER)
    vapid_public: str = ""  # base64url uncompressed point: the browser's applicationServerKey
    subject: str = ""  # mailto: or https: contact for the push services' operators
    ttl_s: int = 86_400  # how long a push service keeps a message for an offline browser
    urgency: str = "normal"  # very-low, low, normal, high (RFC 8030 §5.3)
    endpoint_hosts: str = DEFAULT_ENDPOINT_HOSTS  # push services we POST to; "*": any https
    timeout_s: float = 10.0
    rate: float = 50.0  # messages per second; 0 means no limit
    concurrency: int = 8  # requests in flight at once

    def __post_init__(self) -> None:
        missing = [
            name
            for name in ("vapid_private_key", "vapid_public", "subject")
            if not str(getattr(self, name) or "").strip()
        ]
        if missing:
            raise ValueError(
                f"webpush settings: {', '.join(missing)} must be set (a VAPID key pair and "
                f"a contact address); make a key pair with `{GENERATE_KEYS}`"
            )
        try:
            key = load_private_key(self.vapid_private_key)
            load_public_key(self.vapid_public)
            check_subject(self.subject)
        except VapidError as exc:
            raise ValueError(f"webpush settings: {exc}") from None
        if not keys_match(key, self.vapid_public):
            raise ValueError(
                "webpush settings: vapid_public is not the public key of vapid_private_key"
            )
        if not isinstance(self.ttl_s, int) or not 0 <= self.ttl_s <= 28 * 86_400:
            raise ValueError(f"webpush settings: ttl_s {self.ttl_s!r} must be 0-2419200 seconds")
        if self.urgency not in URGENCIES:
            raise ValueError(
                f"webpush settings: urgency {self.urgency!r} is not one of {', '.join(URGENCIES)}"
            )
        if not parse_hosts(self.endpoint_hosts):
            raise ValueError("webpush settings: endpoint_hosts names no host (use * for any)")


def parse_hosts(text: str) -> tuple[str, ...]:
    return tuple(h.strip().lower().rstrip(".") for h in str(text).split(",") if h.strip())


def endpoint_refusal(endpoint: str, hosts: str) -> str | None:
    """Why we will not POST to `endpoint`, or None when it is a push service we allow."""
    try:
        parts = urlsplit(endpoint)
        host = (parts.hostname or "").lower().rstrip(".")
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return "the endpoint is not a URL"
    if not host or parts.scheme not in ("https", "http"):
        return "the endpoint is not an http(s) URL"
    allowed = parse_hosts(hosts)
    if parts.scheme == "http":
        loopback = host in LOOPBACK and host in allowed
        return None if loopback else "the endpoint is not https"
    if "*" in allowed or any(host == h or host.endswith(f".{h}") for h in allowed):
        return None
    return f"{host} is not a push service this connector sends to (endpoint_hosts)"


def encrypt_payload(plaintext: bytes, p256dh: str, auth: str) -> bytes:
    """The aes128gcm body (RFC 8291) only the browser holding the subscription can read.

    A new sender key pair and salt for every message, as the RFC requires; the sender's
    public key travels as the body's key id.
    """
    receiver = load_public_key(p256dh, field="p256dh")
    secret = b64url_decode(auth)
    if len(secret) != 16:
        raise VapidError("auth must be a 16-byte secret (base64url)")
    sender = ec.generate_private_key(ec.SECP256R1())
    body: bytes = http_ece.encrypt(
        plaintext,
        salt=os.urandom(16),
        private_key=sender,
        dh=receiver,
        auth_secret=secret,
        version="aes128gcm",
        rs=RECORD_SIZE,
    )
    return body


def push_payload(message: OutgoingMessage) -> bytes:
    """What our service worker reads: the notification's title, text, link and our ref."""
    extras = message.extras
    document = {
        "title": str(extras.get("title") or ""),
        "body": message.text,
        "url": str(extras.get("url") or ""),
        "ref": message.ref,
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


class Unsendable(ValueError):
    """A message no push service could take (no subscription, body too long)."""


class WebPushConnector:
    """Sends to browsers' push services, one request per message, within rate and window."""

    carrier = "push service"

    def __init__(
        self,
        settings: WebPushSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.name = settings.name
        self.settings = settings
        self._key = load_private_key(settings.vapid_private_key)
        self._transport = transport
        self._clock = clock or (lambda: datetime.now(UTC))
        self._client: httpx.AsyncClient | None = None
        self._window = asyncio.Semaphore(max(1, settings.concurrency))
        self._bucket = TokenBucket(settings.rate)
        self._events: asyncio.Queue[ChannelEvent | None] = asyncio.Queue()
        self._tokens: dict[str, tuple[str, datetime]] = {}  # audience → (header, expires)
        self._in_flight = 0
        self._active = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._sent: deque[float] = deque()
        self._errors: deque[str] = deque(maxlen=5)
        self._problem = ""
        self._stopping = False

    # -- the Connector protocol ---------------------------------------------------

    async def start(self) -> None:
        """Opens the HTTP client; push services need no session to send."""
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self.settings.timeout_s, transport=self._transport
            )
        self._stopping = False

    async def send(self, batch: Sequence[OutgoingMessage]) -> list[SubmitResult]:
        if self._client is None or self._stopping:
            failure = Failure(SubmitOutcome.TEMPORARY, f"connector {self.name} is not running")
            return failure.results(batch)
        client = self._client
        self._active += 1
        self._idle.clear()
        try:
            return list(await asyncio.gather(*(self._send_one(client, m) for m in batch)))
        finally:
            self._active -= 1
            if self._active == 0:
                self._idle.set()

    async def events(self) -> AsyncIterator[ChannelEvent]:
        """Connector log entries and gone subscriptions, until the connector stops."""
        while True:
            event = await self._events.get()
            if event is None:
                return
            yield event

    def state(self) -> ConnectorState:
        now = time.monotonic()
        while self._sent and self._sent[0] < now - 10:
            self._sent.popleft()
        return ConnectorState(
            name=self.name,
            connected=self._client is not None and not self._stopping and not self._problem,
            detail=self._problem or ("stopping" if self._stopping else ""),
            in_flight=self._in_flight,
            sent_per_s=len(self._sent) / 10,
            last_errors=tuple(self._errors),
        )

    async def stop(self) -> None:
        """Takes no more work, lets requests in flight finish, then closes the client."""
        self._stopping = True
        await self._idle.wait()
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        self._events.put_nowait(None)

    # -- one message --------------------------------------------------------------

    async def _send_one(self, client: httpx.AsyncClient, message: OutgoingMessage) -> SubmitResult:
        now = self._clock()
        try:
            request, plaintext = self._request(client, message, now)
        except (Unsendable, VapidError) as exc:
            self._errors.append(str(exc))
            return SubmitResult(message.ref, SubmitOutcome.PERMANENT, error_code="unsendable",
                                error=str(exc))  # fmt: skip
        await self._pace()
        async with self._window:
            self._in_flight += 1
            started = time.perf_counter()
            response: httpx.Response | None = None
            try:
                response = await client.send(request)
                failure = generic_failure(response, self.carrier)
            except httpx.HTTPError as exc:
                failure = transport_failure(exc, self.settings.timeout_s)
            finally:
                self._in_flight -= 1
        result = failure.results([message])[0] if failure else self._read(message, response)
        self._note(response, result)
        self._log(message, request, plaintext, response, result, now,
                  (time.perf_counter() - started) * 1000)  # fmt: skip
        return result

    def _request(
        self, client: httpx.AsyncClient, message: OutgoingMessage, now: datetime
    ) -> tuple[httpx.Request, bytes]:
        subscription = message.extras.get("subscription") or {}
        endpoint = str(subscription.get("endpoint") or "")
        if not endpoint or not subscription.get("p256dh") or not subscription.get("auth"):
            raise Unsendable(f"push subscription {message.recipient} is gone or incomplete")
        refusal = endpoint_refusal(endpoint, self.settings.endpoint_hosts)
        if refusal:
            raise Unsendable(refusal)
        ttl = self.settings.ttl_s
        if message.valid_until is not None:
            left = int((message.valid_until - now).total_seconds())
            if left <= 0:
                raise Unsendable(f"validity ended at {message.valid_until.isoformat()}")
            ttl = min(ttl, left)
        plaintext = push_payload(message)
        body = encrypt_payload(plaintext, str(subscription["p256dh"]), str(subscription["auth"]))
        if len(body) > MAX_BODY:
            raise Unsendable(
                f"the notification is {len(plaintext)} bytes: push services take at most "
                f"{MAX_BODY - 103} (shorten the text, title or link)"
            )
        urgency = str(message.extras.get("urgency") or self.settings.urgency)
        headers = {
            "Authorization": self._authorization(audience_of(endpoint), now),
            "TTL": str(ttl),
            "Urgency": urgency if urgency in URGENCIES else self.settings.urgency,
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
        }
        return client.build_request("POST", endpoint, content=body, headers=headers), plaintext

    def _authorization(self, audience: str, now: datetime) -> str:
        """The VAPID header for one push service, signed again an hour before it lapses."""
        cached = self._tokens.get(audience)
        if cached is None or cached[1] - now < JWT_RENEW_BEFORE:
            expires = now + JWT_LIFETIME
            header = vapid_authorization(self._key, self.settings.vapid_public, audience,
                                         self.settings.subject, expires)  # fmt: skip
            cached = (header, expires)
            self._tokens[audience] = cached
        return cached[0]

    def _read(self, message: OutgoingMessage, response: httpx.Response | None) -> SubmitResult:
        """201/202: the service has it. 404/410: the subscription is gone. Other 4xx: this
        request can never succeed as it is (400 malformed, 403 another VAPID key, 413)."""
        assert response is not None
        status = response.status_code
        if status in (200, 201, 202):
            location = response.headers.get("location", "")
            ids = (location,) if location else ()
            return SubmitResult(message.ref, SubmitOutcome.ACCEPTED, carrier_ids=ids)
        detail = response.text[:200].strip()
        if status in (404, 410):
            why = f"the push service no longer knows this subscription (HTTP {status})"
            self._events.put_nowait(
                AddressGone(channel="push", address=message.recipient, reason=GoneReason.GONE,
                            detail=f"{why} {detail}".strip(), ref=message.ref, at=self._clock())
            )  # fmt: skip
            return SubmitResult(message.ref, SubmitOutcome.PERMANENT, error_code="gone",
                                error=why)  # fmt: skip
        why = {
            403: "the subscription was made for another VAPID key (vapid_public)",
            413: "the push service found the notification too long",
        }.get(status, f"the push service refused the message (HTTP {status}): {detail}")
        return SubmitResult(message.ref, SubmitOutcome.PERMANENT, error_code=str(status),
                            error=why)  # fmt: skip

    async def _pace(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._bucket.take(loop.time(), 1):
            await asyncio.sleep(self._bucket.wait_time(loop.time(), 1))

    def _note(self, response: httpx.Response | None, result: SubmitResult) -> None:
        """Keeps the state the dashboard shows, and slows down when told to."""
        if result.outcome == SubmitOutcome.ACCEPTED:
            self._sent.append(time.monotonic())
        elif result.error:
            self._errors.append(result.error)
        if response is not None and response.status_code == 429:
            self._bucket.slow_down(asyncio.get_running_loop().time())
        if response is None and result.outcome != SubmitOutcome.PERMANENT:
            self._problem = result.error or ""
        elif response is not None:
            self._problem = (result.error or "") if response.status_code == 401 else ""

    def _log(
        self, message: OutgoingMessage, request: httpx.Request, plaintext: bytes,
        response: httpx.Response | None, result: SubmitResult, at: datetime, duration_ms: float,
    ) -> None:  # fmt: skip
        """The exchange as an operator reads it: the encrypted body is shown as what it
        carries; the VAPID signature and keys never appear."""
        body = (
            f"[aes128gcm, {len(request.content)} bytes, encrypted for subscription "
            f"{message.recipient}] {plaintext.decode('utf-8', 'replace')}"
        )
        shown = render_http(f"POST {redact_url(str(request.url))}",
                            request.headers.multi_items(), body)  # fmt: skip
        answer = ""
        if response is not None:
            answer = render_http(
                f"HTTP {response.status_code} {response.reason_phrase}".rstrip(),
                response.headers.multi_items(),
                response.text[:2000],
                response.headers.get("content-type", ""),
            )
        secrets = (self.settings.vapid_private_key,)
        error = None if result.outcome == SubmitOutcome.ACCEPTED else result.error
        self._events.put_nowait(
            LogEntry(connector=self.name, kind="submit", request=scrub(shown, secrets),
                     response=scrub(answer, secrets), duration_ms=duration_ms, at=at,
                     refs=(message.ref,), error=error)
        )  # fmt: skip
