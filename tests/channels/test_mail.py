"""Mail through a real SMTP server on loopback (aiosmtpd): the message as it arrives,
signing in to the relay, and the relay's refusals as plain words."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from smscast.channels.mail import MailError, relay_from_url, send_mail


class Inbox:
    """Keeps what the server accepted; refuses the address `refuse@…`."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], Message]] = []

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address.startswith("refuse@"):
            return "550 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else b""
        self.received.append(
            (str(envelope.mail_from), list(envelope.rcpt_tos), message_from_bytes(content))
        )
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def check_login(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"ola", b"p@ss")
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox()
    port = free_port()
    controller = Controller(
        handler, hostname="127.0.0.1", port=port, authenticator=check_login,
        auth_require_tls=False,
    )  # fmt: skip
    controller.start()
    yield handler, port
    controller.stop()


def test_a_message_arrives_whole_in_utf8(inbox: tuple[Inbox, int]) -> None:
    handler, port = inbox
    relay = relay_from_url(f"smtp://127.0.0.1:{port}", "portal@shop.test")
    assert relay is not None
    send_mail(relay, "nina@shop.test", "Dołącz do Kwiaciarni", "Zażółć gęślą jaźń\nhttp://x/invite/t",
              timeout=5)  # fmt: skip
    [(sender, recipients, message)] = handler.received
    assert (sender, recipients) == ("portal@shop.test", ["nina@shop.test"])
    assert str(make_header(decode_header(message["Subject"]))) == "Dołącz do Kwiaciarni"
    body = message.get_payload(decode=True)
    assert isinstance(body, bytes)
    text = body.decode(message.get_content_charset() or "utf-8").replace("\r\n", "\n")
    assert text.strip() == ("Zażółć gęślą jaźń\nhttp://x/invite/t")


def test_the_relay_is_signed_in_to_with_the_url_s_user_and_password(
    inbox: tuple[Inbox, int],
) -> None:
    handler, port = inbox
    relay = relay_from_url(f"smtp://ola:p%40ss@127.0.0.1:{port}", "")
    assert relay is not None and relay.sender == "smscast@127.0.0.1"
    assert "p@ss" not in repr(relay)
    send_mail(relay, "nina@shop.test", "Hi", "Hello", timeout=5)
    assert len(handler.received) == 1
    wrong = relay_from_url(f"smtp://ola:wrong@127.0.0.1:{port}", "")
    assert wrong is not None
    with pytest.raises(MailError, match="refused the user name or password"):
        send_mail(wrong, "nina@shop.test", "Hi", "Hello", timeout=5)


def test_refusals_and_an_unreachable_relay_are_said_plainly(inbox: tuple[Inbox, int]) -> None:
    handler, port = inbox
    relay = relay_from_url(f"smtp://127.0.0.1:{port}", "portal@shop.test")
    assert relay is not None
    with pytest.raises(MailError, match=r"refused the address refuse@shop\.test"):
        send_mail(relay, "refuse@shop.test", "Hi", "Hello", timeout=5)
    closed = relay_from_url(f"smtp://127.0.0.1:{free_port()}", "portal@shop.test")
    assert closed is not None
    with pytest.raises(MailError, match="cannot reach the mail relay"):
        send_mail(closed, "nina@shop.test", "Hi", "Hello", timeout=5)
    assert handler.received == []


def test_the_relay_url_is_read_or_refused() -> None:
    assert relay_from_url("", "x@y") is None
    secure = relay_from_url("smtps://mail.shop.test", "")
    assert secure is not None and (secure.tls, secure.port) == (True, 465)
    with pytest.raises(MailError, match="smtp://host:port"):
        relay_from_url("http://mail.shop.test", "")
    with pytest.raises(MailError, match="port is not a number"):
        relay_from_url("smtp://mail.shop.test:abc", "")
