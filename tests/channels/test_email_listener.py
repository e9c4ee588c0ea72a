"""The SMTP listener over loopback: DSNs, complaints, replies and garbage, sent with
smtplib as a real mail server would, read into events."""

from __future__ import annotations

import asyncio
import re
import smtplib
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from smscast.channels.base import AddressGone, DeliveryReport, GoneReason, InboundMessage
from smscast.channels.email.dsn import Envelope, MailEvent, own_words, read_mail
from smscast.channels.email.listener import MailListener, start_mail_listener

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
OURS = "42.f00d@news.shop.example"


class Stored:
    def __init__(self) -> None:
        self.events: list[MailEvent] = []
        self.fail = False

    async def __call__(self, events: Sequence[MailEvent]) -> None:
        if self.fail:
            raise RuntimeError("database down")
        self.events.extend(events)


@pytest.fixture
async def listener() -> AsyncIterator[tuple[MailListener, Stored]]:
    stored = Stored()
    running = await start_mail_listener(stored, port=0, max_bytes=200_000, clock=lambda: NOW)
    yield running, stored
    await running.close()


def original() -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = "Shop <news@shop.example>"
    mail["To"] = "ann@example.com"
    mail["Subject"] = "Winter sale"
    mail["Message-ID"] = f"<{OURS}>"
    mail.set_content("20% off everything this week.")
    return mail


def dsn(status: str, action: str, recipient: str = "nobody@example.com") -> bytes:
    """A DSN as Postfix writes one: human text, the status fields, our email's headers."""
    headers = original().as_string().split("\n\n")[0]
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\r\n"
        "To: bounces@shop.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n'
        "\r\n--b1\r\nContent-Type: text/plain\r\n\r\n"
        "This is the mail system at host mx.example.com.\r\n"
        "\r\n--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.com\r\n"
        "Arrival-Date: Mon, 7 Dec 2026 09:59:58 +0100\r\n"
        "\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        f"Original-Recipient: rfc822;{recipient}\r\n"
        f"Action: {action}\r\n"
        f"Status: {status}\r\n"
        f"Diagnostic-Code: smtp; 550 {status} <{recipient}>: Recipient address\r\n"
        "    rejected: User unknown in virtual mailbox table\r\n"
        "\r\n--b1\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        + headers.replace("\n", "\r\n")
        + "\r\n\r\n--b1--\r\n"
    ).encode()


def arf(feedback_type: str = "abuse") -> bytes:
    report = EmailMessage()
    report["From"] = "feedback@fbl.mailbox.example"
    report["To"] = "abuse@shop.example"
    report["Subject"] = "FW: Winter sale"
    report.set_content("This is an email abuse report for an email message received.\n")
    report.make_mixed()
    report.replace_header(
        "Content-Type", 'multipart/report; report-type=feedback-report; boundary="b2"'
    )
    report.set_boundary("b2")
    fields = EmailMessage()
    fields["Content-Type"] = "message/feedback-report"
    fields.set_payload(
        f"Feedback-Type: {feedback_type}\nUser-Agent: SomeFBL/1.0\nVersion: 1\n"
        "Original-Mail-From: <bounces@shop.example>\nOriginal-Rcpt-To: <ann@example.com>\n"
    )
    report.attach(fields)
    returned = EmailMessage()
    returned.set_content(original())  # message/rfc822
    report.attach(returned)
    return report.as_bytes()


def reply(body: str, **headers: str) -> bytes:
    mail = EmailMessage()
    mail["From"] = "Ann Nowak <Ann@Example.COM>"
    mail["To"] = "Shop <news@shop.example>"
    mail["Subject"] = "Re: Winter sale"
    mail["Message-ID"] = "<CAF=ann.1@mail.example.com>"
    mail["In-Reply-To"] = f"<{OURS}>"
    mail["References"] = f"<older@shop.example> <{OURS}>"
    for name, value in headers.items():
        del mail[name.replace("_", "-")]
        mail[name.replace("_", "-")] = value
    mail.set_content(body)
    return mail.as_bytes()


async def send(
    port: int, data: bytes, sender: str = "ann@example.com",
    recipients: tuple[str, ...] = ("news@shop.example",),
) -> tuple[int, bytes]:  # fmt: skip
    """Sends one mail with smtplib (in a thread: the listener shares this loop), its lines
    ended with CRLF as on the wire."""
    data = re.sub(rb"(?<!\r)\n", b"\r\n", data)

    def talk() -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.ehlo("mx.example.com")
            client.mail(sender)
            for recipient in recipients:
                client.rcpt(recipient)
            return client.data(data)

    return await asyncio.to_thread(talk)


async def test_a_permanent_dsn_is_an_undelivered_report_and_the_address_gone(
    listener: tuple[MailListener, Stored],
) -> None:
    running, stored = listener
    code, _ = await send(running.port, dsn("5.1.1", "failed"), sender="",
                         recipients=("bounces@shop.example",))  # fmt: skip
    assert code == 250
    report, gone = stored.events
    assert isinstance(report, DeliveryReport) and isinstance(gone, AddressGone)
    assert (report.carrier_id, report.state.value, report.error_code) == (
        OURS,
        "undelivered",
        "bounce:5.1.1",
    )
    assert report.done_at == NOW and "User unknown" in report.raw
    assert (gone.channel, gone.address, gone.reason, gone.carrier_id) == (
        "email",
        "nobody@example.com",
        GoneReason.BOUNCE,
        OURS,
    )


async def test_a_transient_dsn_is_accepted_and_changes_nothing(
    listener: tuple[MailListener, Stored],
) -> None:
    running, stored = listener
    code, _ = await send(running.port, dsn("4.2.2", "delayed"), sender="")
    assert code == 250
    assert stored.events == []


async def test_a_complaint_is_the_address_gone_and_not_spam_is_nothing(
    listener: tuple[MailListener, Stored],
) -> None:
    running, stored = listener
    assert (await send(running.port, arf("not-spam")))[0] == 250
    assert stored.events == []
    assert (await send(running.port, arf()))[0] == 250
    [gone] = stored.events
    assert isinstance(gone, AddressGone)
    assert (gone.address, gone.reason, gone.carrier_id) == (
        "ann@example.com",
        GoneReason.COMPLAINT,
        OURS,
    )
    assert "SomeFBL" in gone.detail


async def test_a_reply_is_an_inbound_message_with_only_the_persons_own_words(
    listener: tuple[MailListener, Stored],
) -> None:
    running, stored = listener
    body = (
        "Do you ship to Gdansk?\n\nAnn\n\n"
        "On Mon, 7 Dec 2026 at 09:00, Shop <news@shop.example> wrote:\n"
        "> 20% off everything this week.\n"
    )
    assert (await send(running.port, reply(body)))[0] == 250
    [message] = stored.events
    assert isinstance(message, InboundMessage)
    assert (message.channel, message.sender, message.recipient) == (
        "email",
        "Ann@example.com",
        "news@shop.example",
    )
    assert message.text == "Do you ship to Gdansk?\n\nAnn"
    assert (message.subject, message.in_reply_to) == ("Re: Winter sale", OURS)
    assert message.carrier_ids == ("CAF=ann.1@mail.example.com",)
    assert message.received_at == NOW


async def test_references_stand_in_for_a_missing_in_reply_to_and_auto_replies_are_dropped(
    listener: tuple[MailListener, Stored],
) -> None:
    running, stored = listener
    mail = reply("STOP", In_Reply_To="", References=f"<a@b.example> <{OURS}>")
    assert (await send(running.port, mail))[0] == 250
    vacation = reply("I am away until Monday.", Auto_Submitted="auto-replied")
    assert (await send(running.port, vacation))[0] == 250
    [message] = stored.events
    assert isinstance(message, InboundMessage)
    assert (message.text, message.in_reply_to) == ("STOP", OURS)


async def test_garbage_is_refused_and_the_listener_goes_on(
    listener: tuple[MailListener, Stored],
) -> None:
    running, stored = listener
    assert (await send(running.port, b"\x00\xff\xfe garbage with no headers at all"))[0] == 550
    no_status = dsn("5.1.1", "failed").replace(b"Status: 5.1.1", b"X-Nothing: 1")
    assert (await send(running.port, no_status))[0] == 550
    assert (await send(running.port, reply("a line of text\n" * 20_000)))[0] == 552
    stored.fail = True
    assert (await send(running.port, reply("hello")))[0] == 451  # the sender tries again
    stored.fail = False
    assert (await send(running.port, reply("hello")))[0] == 250
    assert [e.text for e in stored.events if isinstance(e, InboundMessage)] == ["hello"]
    stats = running.stats()
    assert (stats.accepted, stats.rejected, stats.failed) == (1, 2, 1)


def test_quoted_history_in_its_many_forms_is_dropped() -> None:
    assert own_words("Yes please\r\n\r\n> earlier\r\n>> older\r\n") == "Yes please"
    assert own_words("Tak\n\nW dniu 7.12.2026 o 09:00, Shop pisze:\n> oferta") == "Tak"
    assert own_words("OK\n-----Original Message-----\nFrom: Shop") == "OK"
    assert own_words("Sure\n-- \nAnn Nowak\nCEO") == "Sure"
    assert own_words("Fine\nOn Mon, 7 Dec 2026, Shop <news@shop.example>\nwrote:\n> x") == "Fine"


def test_a_reply_in_html_only_is_read_as_text() -> None:
    mail = EmailMessage()
    mail["From"] = "ann@example.com"
    mail["To"] = "news@shop.example"
    mail["Subject"] = "Re: sale"
    mail.set_content("<p>Yes&nbsp;please</p><blockquote>old</blockquote>", subtype="html")
    [message] = read_mail(mail.as_bytes(), Envelope("ann@example.com", ()), NOW)
    assert isinstance(message, InboundMessage)
    assert message.text.startswith("Yes please")
    assert message.in_reply_to is None and message.carrier_ids == ()
