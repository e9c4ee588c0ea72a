"""Email out through an SMTP server (aiosmtplib): a pool of signed-in connections.

`concurrency` connections are opened (the first by `start`, the others when work needs
them), signed in once, and reused for message after message: a campaign costs one
MAIL FROM, RCPT TO and DATA exchange per message, not a connection each. A connection
that fails is closed and opened afresh for the next message.

What the server answers becomes the message's outcome:

- 2xx after the message: ACCEPTED, with the Message-ID as the carrier id. That is all
  SMTP says ("sent"); a bounce comes later as a DSN to the return path, which the
  inbound side reads and matches by that Message-ID.
- 4xx (greylisting, a full queue, "try later"): TEMPORARY, retried after a while.
- 5xx (no such mailbox, refused): PERMANENT, with the code. Answers about our own
  sign-in (530, 535) are the connector's fault, not the message's: TEMPORARY.
- The connection lost or no answer in time: UNKNOWN only once the message's content
  was written and its answer did not come (the server may have it); before that,
  TEMPORARY (it certainly does not).

Every exchange is in the connector log: the commands, the headers of the message (never
its body: it is a person's personal email) and the answers; the password never.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import aiosmtplib
from aiosmtplib import SMTPResponse

from smscast.channels.base import (
    ChannelEvent,
    ConnectorState,
    LogEntry,
    OutgoingMessage,
    SubmitOutcome,
    SubmitResult,
)
from smscast.channels.email.compose import Sender, Uncomposable, compose_email, make_sender
from smscast.channels.http_log import REDACTED, scrub
from smscast.channels.ratelimit import TokenBucket

TlsMode = Literal["starttls", "tls", "none"]
DEFAULT_TLS: dict[int, TlsMode] = {465: "tls", 25: "none"}  # any other port: starttls
TEMPORARY_RETRY_S = 60.0  # after a 4xx: greylisting asks for at least this long
#: Answers about our own sign-in: every message would get them, none is to blame.
CONNECTOR_CODES = frozenset({421, 454, 530, 534, 535, 538})


@dataclass(frozen=True, init=False, repr=False, eq=False, match_args=False)
class SmtpSettings:
    """One SMTP server used as a connector.

    The setting for the From header is named `from`, as `smscast connectors add --kind
    smtp --setting from=…` names it. Python cannot take a parameter of that name, so
    the field is added to the dataclass by name below and the class builds itself from
    keywords (`SmtpSettings(**settings)`, the way every connector's settings are built);
    read it as `settings.from_address`.
    """

    name: str
    host: str
    port: int = 587
    __annotations__["from"] = "str"  # the From header: an address or "Name <address>"
    username: str = ""
    password: str = ""
    tls: TlsMode | Literal[""] = ""  # "": tls on port 465, none on 25, else starttls
    return_path: str = ""  # the envelope sender, where bounces go; "": the From address
    reply_to: str = ""
    tls_ca_file: str = ""  # a CA to trust beside the system's (a private relay)
    timeout_s: float = 30.0  # per command; past it an unanswered message is UNKNOWN
    ehlo_name: str = ""  # the name we greet with; "": this machine's
    rate: float = 0.0  # messages per second; 0 means no limit
    concurrency: int = 4  # connections in the pool

    def __init__(self, **values: Any) -> None:
        known = {item.name: item for item in dataclasses.fields(self)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise TypeError(f"unknown setting(s) {', '.join(unknown)}")
        for name, item in known.items():
            if name in values:
                value = values[name]
            elif item.default is not dataclasses.MISSING:
                value = item.default
            else:
                raise TypeError(f"missing setting {name!r}")
            object.__setattr__(self, name, value)
        self._check()

    @property
    def from_address(self) -> str:
        value: str = getattr(self, "from")
        return value

    @property
    def tls_mode(self) -> TlsMode:
        return self.tls or DEFAULT_TLS.get(int(self.port), "starttls")

    def __repr__(self) -> str:  # never the password, not even in a traceback
        who = f"{self.username}@" if self.username else ""
        return f"SmtpSettings({self.name}: {who}{self.host}:{self.port} {self.tls_mode})"

    def _check(self) -> None:
        if not str(self.host).strip():
            raise ValueError("host: name the SMTP server")
        if not isinstance(self.port, int) or not 0 < self.port < 65536:
            raise ValueError(f"port {self.port!r} must be a number from 1 to 65535")
        if self.tls not in ("", "starttls", "tls", "none"):
            raise ValueError(f"tls {self.tls!r} must be starttls, tls or none")
        if bool(self.username) != bool(self.password):
            raise ValueError("username and password go together")
        try:
            make_sender(str(self.from_address), self.return_path, self.reply_to)
        except Uncomposable as error:
            raise ValueError(str(error)) from None


class SmtpRefused(Exception):
    """The server would not let us send: `code` is its answer (0: none came)."""

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.code = code


class SmtpAuthenticationFailed(SmtpRefused):
    """The server refused the user name or password."""


class SmtpUnreachable(SmtpRefused, ConnectionError):
    """No connection to the server (refused, reset, a TLS handshake that failed)."""


class SmtpNoAnswer(SmtpRefused, TimeoutError):
    """The server did not answer in time."""


@dataclass(slots=True)
class Link:
    """One pooled connection; `client` is None until it is (re)opened."""

    number: int
    client: aiosmtplib.SMTP | None = None


@dataclass(slots=True)
class Transcript:
    """What one exchange said, for the connector log."""

    request: list[str] = dataclasses.field(default_factory=list)
    response: list[str] = dataclasses.field(default_factory=list)

    def answer(self, reply: SMTPResponse) -> SMTPResponse:
        self.response.append(f"{reply.code} {reply.message}".replace("\n", " | "))
        return reply


class SmtpConnector:
    """Sends email through one SMTP server over a pool of signed-in connections."""

    def __init__(
        self, settings: SmtpSettings, *, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.name = settings.name
        self.settings = settings
        self.sender: Sender = make_sender(
            settings.from_address, settings.return_path, settings.reply_to
        )
        self._clock = clock or (lambda: datetime.now(UTC))
        # Last in, first out: a message takes the link used last, so the pool opens more
        # connections only when messages wait for one, and warm links stay warm.
        self._links: asyncio.LifoQueue[Link] = asyncio.LifoQueue()
        for number in range(max(1, settings.concurrency)):
            self._links.put_nowait(Link(number))
        self._bucket = TokenBucket(settings.rate)
        self._events: asyncio.Queue[ChannelEvent | None] = asyncio.Queue()
        self._authenticated = False
        self._problem = ""
        self._stopping = False
        self._in_flight = 0
        self._active = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._sent: deque[float] = deque()
        self._errors: deque[str] = deque(maxlen=5)
        self._tls_context: ssl.SSLContext | None = None

    # -- the Connector protocol ---------------------------------------------------

    async def start(self) -> None:
        """Opens and signs in the first connection; raises, saying why, if it cannot."""
        self._stopping = False
        link = await self._links.get()
        try:
            if link.client is None:
                link.client = await self._connect(link)
        finally:
            self._links.put_nowait(link)

    async def send(self, batch: Sequence[OutgoingMessage]) -> list[SubmitResult]:
        """Sends every message of `batch` over the pool; one result each, in order."""
        if self._stopping:
            return [
                _result(m, SubmitOutcome.TEMPORARY, f"connector {self.name} is stopping")
                for m in batch
            ]
        results: list[SubmitResult | None] = [None] * len(batch)
        queue = iter(enumerate(batch))

        async def work() -> None:
            for index, message in queue:
                await self._pace()
                results[index] = await self._send_one(message)

        self._active += 1
        self._idle.clear()
        try:
            workers = min(len(batch), max(1, self.settings.concurrency))
            await asyncio.gather(*(work() for _ in range(workers)))
        finally:
            self._active -= 1
            if self._active == 0:
                self._idle.set()
        return [result for result in results if result is not None]

    async def events(self) -> AsyncIterator[ChannelEvent]:
        """Connector log entries, until the connector stops. Bounces and replies do not
        come this way: they arrive as mail at the return path (see the SMTP listener)."""
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
            connected=self._authenticated and not self._stopping and not self._problem,
            detail=self._problem or ("stopping" if self._stopping else ""),
            in_flight=self._in_flight,
            sent_per_s=len(self._sent) / 10,
            last_errors=tuple(self._errors),
        )

    async def stop(self) -> None:
        """Takes no more work, lets messages on the wire finish, then QUITs each link."""
        self._stopping = True
        await self._idle.wait()
        links = [self._links.get_nowait() for _ in range(self._links.qsize())]
        for link in links:
            if link.client is not None:
                with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                    await link.client.quit()
                link.client.close()
                link.client = None
            self._links.put_nowait(link)
        self._authenticated = False
        self._events.put_nowait(None)

    # -- one message ----------------------------------------------------------------

    async def _send_one(self, message: OutgoingMessage) -> SubmitResult:
        try:
            email = compose_email(
                self.sender, ref=message.ref, recipient=message.recipient, text=message.text,
                extras=message.extras, now=self._clock(),
            )  # fmt: skip
        except Uncomposable as error:
            return _result(message, SubmitOutcome.PERMANENT, str(error), "bad_address")
        link = await self._links.get()
        self._in_flight += 1
        transcript = Transcript()
        at = self._clock()
        started = time.perf_counter()
        try:
            result = await self._deliver(link, message, email.content, email.message_id,
                                         transcript)  # fmt: skip
        finally:
            self._in_flight -= 1
            self._links.put_nowait(link)
        if result.outcome == SubmitOutcome.ACCEPTED:
            self._sent.append(time.monotonic())
        elif result.error:
            self._errors.append(result.error)
        transcript.request.append(email.headers.replace("\r\n", "\n"))
        self._log(
            "submit", transcript, started, at, refs=(message.ref,),
            error=None if result.outcome == SubmitOutcome.ACCEPTED else result.error,
        )  # fmt: skip
        return result

    async def _deliver(
        self, link: Link, message: OutgoingMessage, content: bytes, message_id: str,
        transcript: Transcript,
    ) -> SubmitResult:  # fmt: skip
        """One message over `link`, (re)connecting it as needed. A pooled connection the
        server dropped while idle fails at its first command: that message is tried
        once more on a fresh connection, as nothing of it was sent."""
        for attempt in (1, 2):
            reused = link.client is not None and link.client.is_connected
            written = False  # whether the content went out: after that, silence is UNKNOWN
            try:
                if not reused:
                    if link.client is not None:
                        link.client.close()
                    link.client = None
                    link.client = await self._connect(link)
                client = link.client
                assert client is not None
                reply = await self._transaction(client, message, content, transcript)
                if reply.code == 354:
                    protocol = client.protocol
                    if protocol is None:
                        raise aiosmtplib.SMTPServerDisconnected("connection lost before DATA")
                    protocol.write(content + b".\r\n")
                    written = True
                    reply = transcript.answer(await self._read_answer(client))
                elif 200 <= reply.code < 400:  # a go-ahead where a refusal was expected
                    reply = SMTPResponse(0, f"unexpected answer {reply.code} {reply.message}")
                result = self._outcome(message, reply, message_id, written)
                if result.outcome != SubmitOutcome.ACCEPTED:
                    await self._reset(link, reply)
                return result
            except SmtpRefused as error:  # the link could not be (re)opened
                link.client = None
                return _result(message, SubmitOutcome.TEMPORARY, str(error),
                               str(error.code) if error.code else None)  # fmt: skip
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
                if link.client is not None:
                    link.client.close()
                    link.client = None
                if written:
                    return _result(
                        message,
                        SubmitOutcome.UNKNOWN,
                        f"no answer after the message was sent: {_describe(error)}",
                    )
                if attempt == 1 and reused and not transcript.response:
                    transcript.request.append(f"(connection lost: {_describe(error)}; again)")
                    continue
                return _result(message, SubmitOutcome.TEMPORARY,
                               f"could not send: {_describe(error)}")  # fmt: skip
        raise AssertionError("unreachable: the second attempt returns")

    async def _read_answer(self, client: aiosmtplib.SMTP) -> SMTPResponse:
        """The answer to the content just written; a silent server's link is closed."""
        protocol = client.protocol
        if protocol is None:
            raise aiosmtplib.SMTPServerDisconnected("connection lost after the message")
        try:
            return await protocol.read_response(timeout=self.settings.timeout_s)
        except aiosmtplib.SMTPException:
            client.close()
            raise

    async def _transaction(
        self, client: aiosmtplib.SMTP, message: OutgoingMessage, content: bytes,
        transcript: Transcript,
    ) -> SMTPResponse:  # fmt: skip
        """MAIL, RCPT and DATA; the first answer that is not a go-ahead, or DATA's 354."""
        recipient = message.recipient.strip()
        size = f" SIZE={len(content)}" if client.supports_extension("size") else ""
        mail_from = f"FROM:<{self.sender.return_path}>{size}"
        transcript.request.append(f"MAIL {mail_from}")
        reply = transcript.answer(await client.execute_command(b"MAIL", mail_from.encode()))
        if reply.code != 250:
            return reply
        rcpt_to = f"TO:<{recipient}>"
        transcript.request.append(f"RCPT {rcpt_to}")
        reply = transcript.answer(await client.execute_command(b"RCPT", rcpt_to.encode()))
        if reply.code not in (250, 251):
            return reply
        transcript.request.append("DATA")
        return transcript.answer(await client.execute_command(b"DATA"))

    def _outcome(
        self, message: OutgoingMessage, reply: SMTPResponse, message_id: str, written: bool
    ) -> SubmitResult:
        code = reply.code
        said = f"{code} {reply.message}".replace("\n", " ")[:300]
        if written and 200 <= code < 300:
            self._problem = ""
            return SubmitResult(message.ref, SubmitOutcome.ACCEPTED, carrier_ids=(message_id,))
        if code in CONNECTOR_CODES or 400 <= code < 500:
            if code in CONNECTOR_CODES:
                self._problem = f"the server answered {said}"
            return _result(
                message, SubmitOutcome.TEMPORARY, f"the server answered {said}", str(code),
                retry_after=TEMPORARY_RETRY_S,
            )  # fmt: skip
        if 500 <= code < 600:
            return _result(message, SubmitOutcome.PERMANENT, f"the server answered {said}",
                           str(code))  # fmt: skip
        return _result(message, SubmitOutcome.TEMPORARY, said)

    async def _reset(self, link: Link, reply: SMTPResponse) -> None:
        """Clears a refused transaction so the link can carry the next message; a link
        the server is closing (421) or that cannot reset is dropped."""
        client = link.client
        if client is None:
            return
        if reply.code != 421:
            try:
                answer = await client.execute_command(b"RSET")
                if answer.code == 250:
                    return
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                pass
        client.close()
        link.client = None

    async def _pace(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._bucket.take(loop.time(), 1):
            await asyncio.sleep(self._bucket.wait_time(loop.time(), 1))

    # -- connections ------------------------------------------------------------------

    async def _connect(self, link: Link) -> aiosmtplib.SMTP:
        """A new connection, upgraded to TLS as configured and signed in."""
        settings = self.settings
        mode = settings.tls_mode
        transcript = Transcript(
            request=[f"connect {settings.host}:{settings.port} (link {link.number}, tls {mode})"]
        )
        at = self._clock()
        started = time.perf_counter()
        client = aiosmtplib.SMTP(
            hostname=settings.host,
            port=settings.port,
            use_tls=mode == "tls",
            start_tls=False,
            tls_context=self._context() if mode != "none" else None,
            timeout=settings.timeout_s,
            local_hostname=settings.ehlo_name or None,
        )
        try:
            transcript.answer(await client.connect())
            transcript.request.append("EHLO")
            transcript.answer(await client.ehlo())
            if mode == "starttls":
                if not client.supports_extension("starttls"):
                    raise SmtpRefused(
                        f"{settings.host} offers no STARTTLS: set tls=tls for a server that "
                        "speaks TLS from the start, or tls=none to send in the clear"
                    )
                transcript.request.append("STARTTLS")
                transcript.answer(await client.starttls())
            if settings.username:
                transcript.request.append(f"AUTH as {settings.username} password {REDACTED}")
                try:
                    transcript.answer(await client.login(settings.username, settings.password))
                except aiosmtplib.SMTPAuthenticationError as error:
                    transcript.response.append(f"{error.code} {error.message}")
                    raise SmtpAuthenticationFailed(
                        f"{settings.host} refused the user name or password "
                        f"({error.code} {error.message})",
                        error.code,
                    ) from None
        except SmtpRefused as error:
            self._connect_failed(client, transcript, started, at, str(error))
            raise
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            detail = f"cannot use {settings.host}:{settings.port}: {_describe(error)}"
            self._connect_failed(client, transcript, started, at, detail)
            code = getattr(error, "code", 0)
            code = code if isinstance(code, int) else 0
            if isinstance(error, TimeoutError):
                raise SmtpNoAnswer(detail, code) from error
            if isinstance(error, OSError):  # aiosmtplib's connect errors are OSErrors too
                raise SmtpUnreachable(detail, code) from error
            raise SmtpRefused(detail, code) from error
        self._authenticated = True
        self._problem = ""
        self._log("connect", transcript, started, at)
        return client

    def _connect_failed(
        self, client: aiosmtplib.SMTP, transcript: Transcript, started: float, at: datetime,
        detail: str,
    ) -> None:  # fmt: skip
        client.close()
        self._problem = detail
        self._errors.append(detail)
        self._log("connect", transcript, started, at, error=detail)

    def _context(self) -> ssl.SSLContext:
        if self._tls_context is None:
            context = ssl.create_default_context()
            if self.settings.tls_ca_file:
                context.load_verify_locations(self.settings.tls_ca_file)
            self._tls_context = context
        return self._tls_context

    def _log(
        self, kind: str, transcript: Transcript, started: float, at: datetime, *,
        refs: tuple[int, ...] = (), error: str | None = None,
    ) -> None:  # fmt: skip
        secrets = (self.settings.password,) if self.settings.password else ()
        self._events.put_nowait(
            LogEntry(
                connector=self.name,
                kind=kind,
                request=scrub("\n".join(transcript.request), secrets),
                response=scrub("\n".join(transcript.response), secrets),
                duration_ms=(time.perf_counter() - started) * 1000,
                at=at,
                refs=refs,
                error=scrub(error, secrets) if error is not None else None,
            )
        )


def _result(
    message: OutgoingMessage, outcome: SubmitOutcome, error: str, code: str | None = None,
    retry_after: float | None = None,
) -> SubmitResult:  # fmt: skip
    return SubmitResult(message.ref, outcome, error_code=code, error=error,
                        retry_after=retry_after)  # fmt: skip


def _describe(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return f"{type(error).__name__}: {text}" if text != type(error).__name__ else text
