"""What every HTTP carrier connector does the same way, so each provider is only its wire.

A provider module says how a group of messages becomes one request and how the
answer becomes submit results. This base does the rest, identically for all of
them: pacing to the connector's parts-per-second rate, a bounded number of
requests in flight, timing and logging every exchange with credentials redacted,
and turning transport failures and generic HTTP answers (429, 5xx, 401) into
outcomes. The outcome of a failure depends on whether the carrier may have the
message: a refused connection means it certainly does not (TEMPORARY: send again),
a timeout after the request was written means it may (UNKNOWN: do not resend
blindly).
"""

from __future__ import annotations

import abc
import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Generic, TypeVar

import httpx

from smscast.channels.base import (
    ChannelEvent,
    ConnectorState,
    OutgoingMessage,
    SubmitOutcome,
    SubmitResult,
)
from smscast.channels.http_log import log_exchange
from smscast.channels.ratelimit import TokenBucket
from smscast.core.encoding import analyse
from smscast.core.errors import UserError


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpSettings:
    """What every HTTP connector is configured with, besides its own credentials."""

    name: str
    base_url: str
    sender: str = ""  # used when a message has no sender of its own
    timeout_s: float = 10.0  # per request; past it an unanswered submit is UNKNOWN
    concurrency: int = 4  # requests in flight at once
    rate: float = 10.0  # parts per second; 0 means no limit


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a whole request came to nothing, and what that means for its messages."""

    outcome: SubmitOutcome
    error: str
    error_code: str | None = None
    retry_after: float | None = None

    def results(self, messages: Sequence[OutgoingMessage]) -> list[SubmitResult]:
        return [
            SubmitResult(
                ref=message.ref,
                outcome=self.outcome,
                error_code=self.error_code,
                error=self.error,
                retry_after=self.retry_after,
            )
            for message in messages
        ]


class Unsendable(ValueError):
    """A message this connector cannot put on the wire at all (PERMANENT, no request)."""


def count_parts(text: str) -> int:
    """How many SMS parts the carrier will bill and throttle this text as."""
    try:
        return analyse(text).parts
    except UserError as exc:
        raise Unsendable(f"text cannot be sent as SMS: {exc}") from exc


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The Retry-After header as seconds from now (it may be a number or an HTTP date)."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def generic_failure(response: httpx.Response, carrier: str) -> Failure | None:
    """The outcome of answers that mean the same at every carrier, or None to read on."""
    if response.status_code == 429 or response.status_code >= 500:
        return Failure(
            SubmitOutcome.TEMPORARY,
            f"{carrier} answered HTTP {response.status_code}: {response.text[:200].strip()}",
            error_code=str(response.status_code),
            retry_after=retry_after_seconds(response),
        )
    if response.status_code == 401:
        # Wrong credentials are the connector's fault, not the message's: failing
        # every message of a campaign for good over a typo would lose them all.
        return Failure(
            SubmitOutcome.TEMPORARY,
            f"{carrier} refused our credentials (HTTP 401)",
            error_code="401",
        )
    return None


def transport_failure(exc: httpx.HTTPError, timeout_s: float) -> Failure:
    """What a failed exchange means for the message: was it possibly received?"""
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return Failure(SubmitOutcome.TEMPORARY, f"could not connect to the carrier: {exc!r}")
    if isinstance(exc, httpx.TimeoutException):
        return Failure(
            SubmitOutcome.UNKNOWN,
            f"no answer within {timeout_s:g}s after the request was sent: {exc!r}",
        )
    if isinstance(exc, httpx.ReadError | httpx.WriteError | httpx.RemoteProtocolError):
        return Failure(
            SubmitOutcome.UNKNOWN,
            f"connection lost after the request was sent: {exc!r}",
        )
    return Failure(SubmitOutcome.TEMPORARY, f"request could not be made: {exc!r}")


S = TypeVar("S", bound=HttpSettings)


class HttpConnector(abc.ABC, Generic[S]):
    """The shared body of the HTTP connectors; subclasses supply the wire format."""

    carrier = "carrier"  # how log lines and errors name the provider

    def __init__(
        self,
        settings: S,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.name = settings.name
        self.settings = settings
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._window = asyncio.Semaphore(max(1, settings.concurrency))
        self._bucket = TokenBucket(settings.rate)
        self._events: asyncio.Queue[ChannelEvent | None] = asyncio.Queue()
        self._in_flight = 0  # messages whose request is on the wire
        self._active = 0  # send() calls not yet answered
        self._idle = asyncio.Event()
        self._idle.set()
        self._sent: deque[tuple[float, int]] = deque()
        self._errors: deque[str] = deque(maxlen=5)
        self._problem = ""
        self._stopping = False

    # -- what a provider supplies -------------------------------------------------

    def secrets(self) -> tuple[str, ...]:
        """Credentials to scrub from logs wherever they turn up."""
        return ()

    def group(self, batch: Sequence[OutgoingMessage]) -> list[list[OutgoingMessage]]:
        """How messages are bundled into requests: one each unless the API batches."""
        return [[message] for message in batch]

    @abc.abstractmethod
    def build_request(
        self, client: httpx.AsyncClient, messages: Sequence[OutgoingMessage]
    ) -> httpx.Request:
        """The one request that submits `messages` (a group from `group`)."""

    @abc.abstractmethod
    def read_response(
        self, messages: Sequence[OutgoingMessage], response: httpx.Response
    ) -> list[SubmitResult]:
        """One result per message, in order, from an answer `generic_failure` let through."""

    def client_options(self) -> dict[str, object]:
        """Extra httpx.AsyncClient arguments (auth, headers) for this provider."""
        return {}

    # -- the Connector protocol ---------------------------------------------------

    async def start(self) -> None:
        """Opens the HTTP client; an HTTP carrier needs no session to send."""
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self.settings.base_url,
                timeout=self.settings.timeout_s,
                transport=self._transport,
                **self.client_options(),  # type: ignore[arg-type]
            )
        self._stopping = False

    async def send(self, batch: Sequence[OutgoingMessage]) -> list[SubmitResult]:
        """Submits `batch`, answering for every message in the order given."""
        if self._client is None or self._stopping:
            failure = Failure(SubmitOutcome.TEMPORARY, f"connector {self.name} is not running")
            return failure.results(batch)
        client = self._client
        outcomes: dict[int, SubmitResult] = {}
        parts: dict[int, int] = {}
        for message in batch:
            try:
                self.check_sendable(message)
                # A call or a chat message is one unit of the rate, however long.
                sms = message.channel == "sms"
                parts[message.ref] = count_parts(message.text) if sms else 1
            except Unsendable as exc:
                failure = Failure(SubmitOutcome.PERMANENT, str(exc))
                outcomes[message.ref] = failure.results([message])[0]
        groups = self.group([message for message in batch if message.ref in parts])
        # Counted from here, not from the request, so `stop` waits for messages that
        # are still waiting for their turn under the rate limit.
        self._active += 1
        self._idle.clear()
        try:
            answers = await asyncio.gather(
                *(self._submit(client, group, sum(parts[m.ref] for m in group)) for group in groups)
            )
        finally:
            self._active -= 1
            if self._active == 0:
                self._idle.set()
        for results in answers:
            outcomes.update((result.ref, result) for result in results)
        return [outcomes[message.ref] for message in batch]

    async def events(self) -> AsyncIterator[ChannelEvent]:
        """Connector log entries, as exchanges complete, until the connector stops.

        Delivery reports and inbound texts reach us as webhooks, which the API reads
        with this package's parse functions; they do not pass through here.
        """
        while True:
            event = await self._events.get()
            if event is None:
                return
            yield event

    def state(self) -> ConnectorState:
        now = time.monotonic()
        while self._sent and self._sent[0][0] < now - 10:
            self._sent.popleft()
        return ConnectorState(
            name=self.name,
            connected=self._client is not None and not self._stopping and not self._problem,
            detail=self._problem or ("stopping" if self._stopping else ""),
            in_flight=self._in_flight,
            sent_per_s=sum(parts for _, parts in self._sent) / 10,
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

    # -- the shared machinery -----------------------------------------------------

    def check_sendable(self, message: OutgoingMessage) -> None:
        """Refuses, before any request, a message the carrier could only reject."""
        if not (message.sender or self.settings.sender):
            raise Unsendable("no sender: the message has none and the connector no default")
        if message.valid_until is not None and message.valid_until <= datetime.now(UTC):
            raise Unsendable(f"validity ended at {message.valid_until.isoformat()} before sending")

    async def _submit(
        self, client: httpx.AsyncClient, messages: list[OutgoingMessage], parts: int
    ) -> list[SubmitResult]:
        await self._pace(parts)
        async with self._window:
            self._in_flight += len(messages)
            try:
                answer = await self._exchange(client, messages)
            finally:
                self._in_flight -= len(messages)
        if isinstance(answer, Failure):
            return answer.results(messages)
        self._sent.append((time.monotonic(), parts))
        return self.read_response(messages, answer)

    async def _pace(self, parts: int) -> None:
        """Waits until the rate allows `parts` more parts to go out."""
        loop = asyncio.get_running_loop()
        remaining = parts
        while remaining > 0:
            remaining -= self._bucket.take(loop.time(), remaining)
            if remaining > 0:
                await asyncio.sleep(self._bucket.wait_time(loop.time(), remaining))

    async def _exchange(
        self, client: httpx.AsyncClient, messages: Sequence[OutgoingMessage]
    ) -> httpx.Response | Failure:
        """Makes one request, logs it, and returns the answer or what went wrong."""
        refs = tuple(message.ref for message in messages)
        request = self.build_request(client, messages)
        at = datetime.now(UTC)
        started = time.perf_counter()
        response: httpx.Response | None = None
        failure: Failure | None = None
        try:
            response = await client.send(request)
        except httpx.HTTPError as exc:
            failure = transport_failure(exc, self.settings.timeout_s)
        if response is not None:
            failure = generic_failure(response, self.carrier)
        duration_ms = (time.perf_counter() - started) * 1000
        self._note(response, failure)
        self._events.put_nowait(
            log_exchange(
                self.name,
                "submit",
                request,
                response,
                duration_ms=duration_ms,
                at=at,
                refs=refs,
                error=failure.error if failure else None,
                secrets=self.secrets(),
            )
        )
        if failure is not None:
            return failure
        assert response is not None
        return response

    def _note(self, response: httpx.Response | None, failure: Failure | None) -> None:
        """Keeps the state the dashboard shows, and slows down when told to."""
        if failure is not None:
            self._errors.append(failure.error)
        if response is not None and response.status_code == 429:
            self._bucket.slow_down(asyncio.get_running_loop().time())
        if failure is not None and (response is None or response.status_code == 401):
            self._problem = failure.error
        elif response is not None:
            self._problem = ""
