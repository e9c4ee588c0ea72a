"""An SMTP server that takes the simulator's (and the tests') campaign email, on aiosmtpd.

It accepts mail as a relay would and keeps what it received. Like a real mail system it
also says no, by the recipient's address (local parts, by default):

- `refuse…@` is refused at RCPT with `550 5.1.1` (the connector fails the message);
- `later…@` is put off at RCPT with `451 4.7.1` (greylisting: the connector retries);
- `bounce…@` is accepted, then bounced: a DSN (RFC 3464 `multipart/report;
  report-type=delivery-status`, status 5.1.1, the original headers with its Message-ID
  returned) is mailed from the null sender to the envelope's return path, at
  `dsn_host:dsn_port` (smscast's SMTP listener) when given; it is kept in `dsns` either
  way.

Sign-in (`auth`: user name → password, AUTH PLAIN and LOGIN) and STARTTLS (`tls_context`)
are offered when configured, so a connector is tested against what a provider demands.
Started in the caller's event loop (`start_smtp_sink`), closed with `close()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import format_datetime
from typing import Any

import aiosmtplib
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

log = logging.getLogger("smscast.simulator.smtp")
SINK_HOSTNAME = "sink.smscast.test"


@dataclass(frozen=True, slots=True)
class ReceivedEmail:
    """One message the sink accepted: its envelope and its bytes as they came."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes

    @property
    def message(self) -> EmailMessage:
        """The message parsed (headers decoded, `get_body()` and friends available)."""
        parsed = message_from_bytes(self.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass(slots=True)
class SinkRules:
    """Which recipients the sink refuses, puts off or bounces (regular expressions,
    searched in the whole address, case-insensitive)."""

    refuse: str = r"^refuse"
    later: str = r"^later"
    bounce: str = r"^bounce"


@dataclass(slots=True)
class SmtpSink:
    """The running sink: where it listens and what it was sent."""

    host: str
    port: int
    rules: SinkRules
    keep: bool = True
    dsn_host: str | None = None
    dsn_port: int | None = None
    received: list[ReceivedEmail] = field(default_factory=list)
    accepted: int = 0  # messages accepted, kept or not
    connections: int = 0  # connections opened to the sink
    quits: int = 0  # sessions ended by QUIT (a connector stopping cleanly)
    dsns: list[bytes] = field(default_factory=list)  # the DSNs made, mailed or not
    dsn_errors: list[str] = field(default_factory=list)
    server: asyncio.Server | None = None
    _mailing: set[asyncio.Task[None]] = field(default_factory=set)

    async def close(self) -> None:
        """Stops listening and waits for DSNs still being mailed."""
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2)
        if self._mailing:
            await asyncio.gather(*self._mailing, return_exceptions=True)

    async def wait_for(self, count: int, timeout: float = 10.0) -> None:
        """Returns once `count` messages were accepted (a test's wait, not a sleep)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.accepted < count:
            if loop.time() > deadline:
                raise TimeoutError(f"the sink has {self.accepted} of {count} messages")
            await asyncio.sleep(0.01)

    def bounce_later(self, envelope_from: str, recipients: list[str], content: bytes) -> None:
        """Makes the DSN for `recipients` and mails it (when a DSN address is set)."""
        if not envelope_from:
            return  # never bounce a bounce (RFC 3464 2.1: the null sender)
        dsn = make_dsn(envelope_from, recipients, content, datetime.now(UTC))
        self.dsns.append(dsn)
        if self.dsn_host is None or self.dsn_port is None:
            return
        task = asyncio.get_running_loop().create_task(self._mail_dsn(envelope_from, dsn))
        self._mailing.add(task)
        task.add_done_callback(self._mailing.discard)

    async def _mail_dsn(self, to: str, dsn: bytes) -> None:
        assert self.dsn_host is not None and self.dsn_port is not None
        client = aiosmtplib.SMTP(hostname=self.dsn_host, port=self.dsn_port, start_tls=False,
                                 use_tls=False, timeout=10)  # fmt: skip
        try:
            async with client:
                await client.sendmail("", [to], dsn)  # the null sender: MAIL FROM:<>
        except (aiosmtplib.SMTPException, OSError) as error:
            self.dsn_errors.append(f"DSN to {to}: {error}")
            log.warning("SMTP sink: could not mail the DSN to %s: %s", to, error)


class _Handler:
    """aiosmtpd's hooks: the sink's rules at RCPT, keeping and bouncing at DATA."""

    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink
        flags = re.IGNORECASE
        self.refuse = re.compile(sink.rules.refuse, flags) if sink.rules.refuse else None
        self.later = re.compile(sink.rules.later, flags) if sink.rules.later else None
        self.bounce = re.compile(sink.rules.bounce, flags) if sink.rules.bounce else None

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str,
        options: list[str],
    ) -> str:  # fmt: skip
        if self.refuse is not None and self.refuse.search(address):
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        if self.later is not None and self.later.search(address):
            return "451 4.7.1 Greylisted, please try again later"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_QUIT(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.sink.quits += 1
        return "221 2.0.0 Bye"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        sink = self.sink
        content = envelope.original_content or b""
        sink.accepted += 1
        mail_from = str(envelope.mail_from or "").strip("<>")  # the null sender is ""
        if sink.keep:
            sink.received.append(ReceivedEmail(mail_from, tuple(envelope.rcpt_tos), content))
        if self.bounce is not None:
            bounced = [a for a in envelope.rcpt_tos if self.bounce.search(a)]
            if bounced:
                sink.bounce_later(mail_from, bounced, content)
        return f"250 2.0.0 Ok: queued as {sink.accepted:X}"


def make_dsn(return_path: str, recipients: list[str], original: bytes, now: datetime) -> bytes:
    """A delivery status notification (RFC 3464) saying `recipients` do not exist, with
    the original message's headers (and so its Message-ID) returned."""
    boundary = f"dsn={secrets.token_hex(10)}"
    headers_end = original.find(b"\r\n\r\n")
    returned = original[: headers_end + 2] if headers_end >= 0 else original
    subject = BytesHeaderParser(policy=policy.compat32).parsebytes(original).get("Subject", "")
    report = "".join(
        f"Final-Recipient: rfc822; {address}\r\n"
        "Action: failed\r\n"
        "Status: 5.1.1\r\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{address}>: Recipient address rejected: "
        "User unknown\r\n\r\n"
        for address in recipients
    )
    listed = "".join(f"<{address}>: host {SINK_HOSTNAME} said: 550 5.1.1 User unknown\r\n"
                     for address in recipients)  # fmt: skip
    text = (
        f"From: Mail Delivery System <MAILER-DAEMON@{SINK_HOSTNAME}>\r\n"
        f"To: <{return_path}>\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Date: {format_datetime(now)}\r\n"
        f"Message-ID: <dsn.{secrets.token_hex(8)}@{SINK_HOSTNAME}>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n'
        "\r\n"
        f"--{boundary}\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n"
        "Your message could not be delivered to one or more recipients.\r\n"
        f"Its subject was: {' '.join(str(subject).split())[:200]}\r\n\r\n"
        f"{listed}"
        f"\r\n--{boundary}\r\n"
        "Content-Type: message/delivery-status\r\n"
        "\r\n"
        f"Reporting-MTA: dns; {SINK_HOSTNAME}\r\n"
        f"Arrival-Date: {format_datetime(now)}\r\n"
        "\r\n"
        f"{report}"
        f"--{boundary}\r\n"
        "Content-Type: text/rfc822-headers\r\n"
        "\r\n"
    )
    return text.encode("ascii", errors="replace") + returned + f"\r\n--{boundary}--\r\n".encode()


def _authenticator(users: Mapping[str, str]) -> Any:
    def check(server: SMTP, session: Session, envelope: Envelope, mechanism: str,
              data: Any) -> AuthResult:  # fmt: skip
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user = data.login.decode(errors="replace")
        password = data.password.decode(errors="replace")
        return AuthResult(success=users.get(user) == password and user in users, handled=False)

    return check


async def start_smtp_sink(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    rules: SinkRules | None = None,
    keep: bool = True,
    dsn_host: str | None = None,
    dsn_port: int | None = None,
    auth: Mapping[str, str] | None = None,
    tls_context: ssl.SSLContext | None = None,
    require_starttls: bool = False,
) -> SmtpSink:
    """Starts the sink in this event loop; `port=0` picks a free port (see `.port`).

    `keep=False` only counts what arrives (a benchmark's million messages need no copy).
    With `auth`, every sender must sign in; over STARTTLS when `tls_context` is given,
    else in the clear (loopback tests only).
    """
    sink = SmtpSink(host, port, rules or SinkRules(), keep, dsn_host, dsn_port)
    handler = _Handler(sink)
    options: dict[str, Any] = {
        "hostname": SINK_HOSTNAME,
        "data_size_limit": 10 * 1024 * 1024,
        "tls_context": tls_context,
        "require_starttls": require_starttls,
    }
    if auth is not None:
        options.update(
            authenticator=_authenticator(dict(auth)),
            auth_required=True,
            auth_require_tls=tls_context is not None,
        )
    loop = asyncio.get_running_loop()

    def session() -> SMTP:
        sink.connections += 1
        return SMTP(handler, loop=loop, **options)

    sink.server = await loop.create_server(session, host=host, port=port)
    sink.port = int(sink.server.sockets[0].getsockname()[1])
    return sink
