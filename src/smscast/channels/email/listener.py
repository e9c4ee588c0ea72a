"""An SMTP listener for mail that comes back: replies, bounces (DSNs) and complaints.

It is not a mail server for people: it takes mail for any recipient, never relays
any, reads each with `dsn.read_mail` and hands the events to `deliver`, which stores
them. A mail is answered 250 only once `deliver` returned (so a crash before the
commit makes the sending server try again, as for SMS we acknowledge after the
commit); 451 when storing failed (the server retries later); 550 when the mail is
not mail we can read; 552 (by aiosmtpd) when it is larger than `max_bytes`. One bad
mail never stops the listener.

Put it behind the MTA that receives the domain's mail (Postfix, Exim: forward the
reply and bounce addresses to it), or make it the MX of a subdomain of its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiosmtpd.smtp import SMTP, Session
from aiosmtpd.smtp import Envelope as SmtpEnvelope

from smscast.channels.email.dsn import Envelope, MailEvent, MailRejected, read_mail

log = logging.getLogger(__name__)
MAX_BYTES = 10_000_000  # a reply with a photo fits; a mail bomb does not
MAX_RECIPIENTS = 100
Deliver = Callable[[Sequence[MailEvent]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ListenerStats:
    accepted: int
    rejected: int
    failed: int


class _Handler:
    """aiosmtpd's handler: one method per SMTP command it wants to see."""

    def __init__(self, deliver: Deliver, clock: Callable[[], datetime]) -> None:
        self.deliver = deliver
        self.clock = clock
        self.accepted = 0
        self.rejected = 0
        self.failed = 0

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: SmtpEnvelope, address: str,
        options: list[str],
    ) -> str:  # fmt: skip
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: SmtpEnvelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        peer = _peer(session)
        try:
            events = read_mail(raw, Envelope(envelope.mail_from or "",
                                             tuple(envelope.rcpt_tos)), self.clock())  # fmt: skip
        except MailRejected as rejected:
            self.rejected += 1
            log.warning("mail from %s (%s) refused: %s", envelope.mail_from, peer,
                        rejected.reason)  # fmt: skip
            return f"550 5.6.0 {_one_line(rejected.reason)}"
        except Exception:
            self.rejected += 1
            log.exception("mail from %s (%s) could not be read", envelope.mail_from, peer)
            return "550 5.6.0 Unreadable message"
        if events:
            try:
                await self.deliver(events)
            except Exception:
                self.failed += 1
                log.exception("mail from %s (%s): %d event(s) not stored; the sender retries",
                              envelope.mail_from, peer, len(events))  # fmt: skip
                return "451 4.3.0 Temporary failure, try again later"
        self.accepted += 1
        return "250 2.0.0 OK"


class MailListener:
    """A running listener: `port` is where it answers, `close()` stops it."""

    def __init__(self, server: asyncio.Server, handler: _Handler) -> None:
        self._server = server
        self._handler = handler
        sockets = server.sockets or ()
        self.port: int = int(sockets[0].getsockname()[1]) if sockets else 0

    def stats(self) -> ListenerStats:
        h = self._handler
        return ListenerStats(h.accepted, h.rejected, h.failed)

    async def close(self) -> None:
        self._server.close()
        await self._server.wait_closed()


async def start_mail_listener(
    deliver: Deliver,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    hostname: str | None = None,
    max_bytes: int = MAX_BYTES,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> MailListener:
    """Listens on `host`:`port` (0: any free port) until closed."""
    handler = _Handler(deliver, clock)
    loop = asyncio.get_running_loop()

    def protocol() -> SMTP:
        return SMTP(handler, data_size_limit=max_bytes, enable_SMTPUTF8=True,
                    decode_data=False, hostname=hostname, timeout=60,
                    ident="smscast mail listener")  # fmt: skip

    server = await loop.create_server(protocol, host=host, port=port)
    listener = MailListener(server, handler)
    log.info("mail listener on %s:%d", host, listener.port)
    return listener


def _peer(session: Session) -> str:
    peer: Any = session.peer
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return str(peer or "?")


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]
