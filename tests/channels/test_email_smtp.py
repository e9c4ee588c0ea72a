"""The SMTP connector against a real SMTP server on loopback (the simulator's aiosmtpd sink)
that demands STARTTLS and a sign-in, with a certificate made for the test: the emails as
they arrive, the server's refusals as outcomes, the pool reused, the log without the
password or the body, and a DSN for a bounced address."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from test_smpp_client_tls import make_certificate

from smscast.channels.base import LogEntry, OutgoingMessage, SubmitOutcome
from smscast.channels.email.compose import compose_email, make_sender
from smscast.channels.email.smtp import (
    SmtpAuthenticationFailed,
    SmtpConnector,
    SmtpSettings,
    SmtpUnreachable,
)
from smscast.channels.simulator.smtp_sink import SmtpSink, start_smtp_sink
from smscast.engine.sending.connectors import ConnectorRow, build_connector

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
USER, PASSWORD = "kwiatek", "s3cret-Pass!"
FROM = "Kwiaciarnia Żonkil <news@kwiatek.test>"
PEOPLE = [("Ann", "ann@example.test"), ("Zoë", "zoe@example.test"), ("Jan", "jan@example.test")]


@dataclass
class Relay:
    sink: SmtpSink
    cert: Path


@pytest.fixture
async def relay(tmp_path: Path) -> AsyncIterator[Relay]:
    cert, key = make_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    sink = await start_smtp_sink(auth={USER: PASSWORD}, tls_context=context, require_starttls=True)
    yield Relay(sink, cert)
    await sink.close()


def settings(relay: Relay, **changes: Any) -> SmtpSettings:
    values: dict[str, Any] = {
        "name": "mail", "host": "127.0.0.1", "port": relay.sink.port, "from": FROM,
        "username": USER, "password": PASSWORD, "tls": "starttls",
        "tls_ca_file": str(relay.cert), "return_path": "bounces@kwiatek.test",
        "reply_to": "help@kwiatek.test", "rate": 0.0, "concurrency": 2, "timeout_s": 5.0,
    }  # fmt: skip
    values.update(changes)
    return SmtpSettings(**values)


def campaign_email(ref: int, name: str, address: str, *, html: bool = True) -> OutgoingMessage:
    extras: dict[str, Any] = {
        "subject": f"{name}, tulipany -20% tylko dziś",
        "unsubscribe_url": f"https://s.kwiatek.test/u/{ref}/tok{ref}",
    }
    if html:
        extras["html"] = f"<p>Cześć <b>{name}</b>, kod <code>TUL{ref}</code></p>"
    return OutgoingMessage(
        ref=ref, sender="", recipient=address,
        text=f"Cześć {name}, Twój kod: TUL{ref}\n.\nZajrzyj do nas.", channel="email",
        extras=extras,
    )  # fmt: skip


def drain(connector: SmtpConnector) -> list[LogEntry]:
    entries = []
    while not connector._events.empty():
        event = connector._events.get_nowait()
        if isinstance(event, LogEntry):
            entries.append(event)
    return entries


def plain_body(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert isinstance(part, EmailMessage)
    return str(part.get_content()).replace("\r\n", "\n")


async def test_campaign_emails_arrive_personalised_with_one_click_unsubscribe(
    relay: Relay,
) -> None:
    connector = SmtpConnector(settings(relay), clock=lambda: NOW)
    await connector.start()
    assert connector.state().connected
    batch = [campaign_email(100 + i, name, address) for i, (name, address) in enumerate(PEOPLE)]
    results = await connector.send(batch)
    await connector.stop()

    assert [r.outcome for r in results] == [SubmitOutcome.ACCEPTED] * 3
    received = {r.rcpt_tos[0]: r for r in relay.sink.received}
    assert set(received) == {address for _, address in PEOPLE}
    for result, (name, address) in zip(results, PEOPLE, strict=True):
        email = received[address]
        assert email.mail_from == "bounces@kwiatek.test"
        message = email.message
        assert message["From"] == FROM
        assert message["To"] == address
        assert message["Reply-To"] == "help@kwiatek.test"
        assert message["Subject"] == f"{name}, tulipany -20% tylko dziś"
        assert parsedate_to_datetime(message["Date"]) == NOW
        [carrier_id] = result.carrier_ids
        assert message["Message-ID"] == f"<{carrier_id}>"
        assert carrier_id.startswith(f"{result.ref}.") and carrier_id.endswith("@kwiatek.test")
        assert (
            message["List-Unsubscribe"]
            == f"<https://s.kwiatek.test/u/{result.ref}/tok{result.ref}>"
        )
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message.get_content_type() == "multipart/alternative"
        assert plain_body(message) == f"Cześć {name}, Twój kod: TUL{result.ref}\n.\nZajrzyj do nas."
        html = message.get_body(("html",))
        assert isinstance(html, EmailMessage)
        assert f"<b>{name}</b>" in html.get_content()
    assert len({r.carrier_ids[0] for r in results}) == 3


async def test_a_plain_email_without_html_or_unsubscribe_is_one_text_part(relay: Relay) -> None:
    connector = SmtpConnector(settings(relay, reply_to=""), clock=lambda: NOW)
    await connector.start()
    message = OutgoingMessage(ref=7, sender="", recipient="ann@example.test",
                              text="Your order has shipped.", channel="email",
                              extras={"subject": "Order 7"})  # fmt: skip
    [result] = await connector.send([message])
    await connector.stop()
    assert result.outcome == SubmitOutcome.ACCEPTED
    [email] = relay.sink.received
    parsed = email.message
    assert parsed.get_content_type() == "text/plain"
    assert parsed["List-Unsubscribe"] is None and parsed["Reply-To"] is None
    assert parsed.get_content().strip() == "Your order has shipped."


async def test_refusals_become_outcomes_and_the_connection_carries_on(relay: Relay) -> None:
    connector = SmtpConnector(settings(relay, concurrency=1), clock=lambda: NOW)
    await connector.start()
    batch = [
        campaign_email(1, "Ann", "ann@example.test"),
        campaign_email(2, "Nobody", "refuse.me@example.test"),
        campaign_email(3, "Grey", "later@example.test"),
        campaign_email(4, "Jan", "jan@example.test"),
        OutgoingMessage(ref=5, sender="", recipient="not an address", text="x", channel="email"),
    ]
    results = await connector.send(batch)
    await connector.stop()
    outcomes = {r.ref: r for r in results}
    assert outcomes[1].outcome == SubmitOutcome.ACCEPTED
    assert outcomes[2].outcome == SubmitOutcome.PERMANENT
    assert outcomes[2].error_code == "550" and "5.1.1" in (outcomes[2].error or "")
    assert outcomes[3].outcome == SubmitOutcome.TEMPORARY
    assert outcomes[3].error_code == "451" and outcomes[3].retry_after
    assert outcomes[4].outcome == SubmitOutcome.ACCEPTED
    assert outcomes[5].outcome == SubmitOutcome.PERMANENT
    assert [r.rcpt_tos for r in relay.sink.received] == [
        ("ann@example.test",),
        ("jan@example.test",),
    ]
    assert relay.sink.connections == 1  # a refusal is reset, not a reason to reconnect


async def test_the_pool_reuses_its_connections_and_quits_them_on_stop(relay: Relay) -> None:
    connector = SmtpConnector(settings(relay, concurrency=3), clock=lambda: NOW)
    await connector.start()
    batch = [campaign_email(i, f"P{i}", f"p{i}@example.test") for i in range(30)]
    results = await connector.send(batch)
    more = await connector.send([campaign_email(99, "Late", "late.one@example.test")])
    await connector.stop()
    assert all(r.outcome == SubmitOutcome.ACCEPTED for r in [*results, *more])
    assert relay.sink.accepted == 31
    assert relay.sink.connections == 3
    assert relay.sink.quits == 3
    connects = [e for e in drain(connector) if e.kind == "connect"]
    assert len(connects) == 3 and not any(e.error for e in connects)


async def test_a_connection_dropped_while_idle_is_opened_again(relay: Relay) -> None:
    connector = SmtpConnector(settings(relay, concurrency=1), clock=lambda: NOW)
    await connector.start()
    link = connector._links.get_nowait()
    assert link.client is not None
    link.client.close()  # as a server's idle timeout would leave it
    connector._links.put_nowait(link)
    [result] = await connector.send([campaign_email(1, "Ann", "ann@example.test")])
    await connector.stop()
    assert result.outcome == SubmitOutcome.ACCEPTED
    assert relay.sink.connections == 2


async def test_the_log_has_commands_and_headers_but_no_password_and_no_body(
    relay: Relay,
) -> None:
    connector = SmtpConnector(settings(relay), clock=lambda: NOW)
    await connector.start()
    await connector.send([campaign_email(1, "Ann", "ann@example.test")])
    await connector.stop()
    entries = drain(connector)
    text = "\n".join(f"{e.request}\n{e.response}\n{e.error}" for e in entries)
    assert PASSWORD not in text
    assert "TUL1" not in text  # the body (a personal coupon) is never logged
    [submit] = [e for e in entries if e.kind == "submit"]
    assert submit.refs == (1,)
    assert "RCPT TO:<ann@example.test>" in submit.request
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in submit.request
    assert "250" in submit.response
    [connect] = [e for e in entries if e.kind == "connect"]
    assert "STARTTLS" in connect.request and f"AUTH as {USER}" in connect.request


async def test_wrong_password_fails_the_start_clearly(relay: Relay) -> None:
    connector = SmtpConnector(settings(relay, password="wrong"), clock=lambda: NOW)
    with pytest.raises(SmtpAuthenticationFailed) as refused:
        await connector.start()
    assert "refused the user name or password" in str(refused.value)
    assert refused.value.code == 535
    assert not connector.state().connected
    assert "wrong" not in "\n".join(e.request for e in drain(connector))


async def test_a_certificate_the_connector_does_not_trust_is_refused(relay: Relay) -> None:
    connector = SmtpConnector(settings(relay, tls_ca_file=""), clock=lambda: NOW)
    with pytest.raises(Exception, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify"):
        await connector.start()


async def test_a_bounced_address_gets_a_dsn_naming_the_message(relay: Relay) -> None:
    listener = await start_smtp_sink(rules=None)  # stands in for smscast's SMTP listener
    relay.sink.dsn_host, relay.sink.dsn_port = "127.0.0.1", listener.port
    connector = SmtpConnector(settings(relay), clock=lambda: NOW)
    await connector.start()
    [result] = await connector.send([campaign_email(8, "Gone", "bounce.gone@example.test")])
    await connector.stop()
    await listener.wait_for(1)
    await relay.sink.close()
    await listener.close()
    assert result.outcome == SubmitOutcome.ACCEPTED  # SMTP said "sent"; the DSN comes later
    [dsn] = listener.received
    assert dsn.mail_from == "" and dsn.rcpt_tos == ("bounces@kwiatek.test",)
    report = dsn.message
    assert report.get_content_type() == "multipart/report"
    assert report.get_param("report-type") == "delivery-status"
    status, returned = [part for part in report.iter_parts()][1:]
    assert status.get_content_type() == "message/delivery-status"
    assert "Status: 5.1.1" in status.as_string()
    assert "Final-Recipient: rfc822; bounce.gone@example.test" in status.as_string()
    assert f"Message-ID: <{result.carrier_ids[0]}>" in returned.as_string()


async def silent_after(stage: bytes, port_holder: list[int]) -> asyncio.Server:
    """A server that speaks SMTP until `stage` (b"RCPT" or b"DATA-END"), then hangs up."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 fake ESMTP\r\n")
        while line := await reader.readline():
            verb = line.split(b" ", 1)[0].strip().upper()
            if verb == stage:
                break
            if verb in (b"EHLO", b"HELO"):
                writer.write(b"250-fake\r\n250 8BITMIME\r\n")
            elif verb == b"DATA":
                writer.write(b"354 go ahead\r\n")
                await writer.drain()
                while (await reader.readline()) != b".\r\n":
                    pass
                if stage == b"DATA-END":
                    break
                writer.write(b"250 ok\r\n")
            else:
                writer.write(b"250 ok\r\n")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port_holder.append(int(server.sockets[0].getsockname()[1]))
    return server


@pytest.mark.parametrize(
    ("stage", "outcome"),
    [(b"RCPT", SubmitOutcome.TEMPORARY), (b"DATA-END", SubmitOutcome.UNKNOWN)],
)
async def test_a_lost_connection_is_unknown_only_once_the_message_was_sent(
    stage: bytes, outcome: SubmitOutcome
) -> None:
    port: list[int] = []
    server = await silent_after(stage, port)
    connector = SmtpConnector(
        SmtpSettings(name="m", host="127.0.0.1", port=port[0], tls="none", concurrency=1,
                     timeout_s=5.0, **{"from": "news@kwiatek.test"}),
        clock=lambda: NOW,
    )  # fmt: skip
    await connector.start()
    [result] = await connector.send([campaign_email(1, "Ann", "ann@example.test")])
    await connector.stop()
    server.close()
    assert result.outcome == outcome, result.error


def test_the_kind_builds_from_a_row_with_its_from_setting() -> None:
    stored = {"host": "smtp.example.test", "port": 465, "from": "Shop <news@shop.test>"}
    row = ConnectorRow(1, 1, "mail", "smtp", stored, 20.0, 3, True)
    connector = build_connector(row)
    assert isinstance(connector, SmtpConnector)
    assert connector.settings.tls_mode == "tls"  # port 465 speaks TLS from the start
    assert connector.settings.concurrency == 3 and connector.settings.rate == 20.0
    assert connector.sender.address == "news@shop.test"
    assert connector.sender.return_path == "news@shop.test"
    assert "password" not in repr(SmtpSettings(name="m", host="h", username="u", password="pw",
                                               **{"from": "a@b.test"}))  # fmt: skip


async def test_a_server_that_is_not_there_is_unreachable_and_its_messages_wait() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    connector = SmtpConnector(
        SmtpSettings(name="m", host="127.0.0.1", port=port, tls="none", timeout_s=5.0,
                     **{"from": "news@kwiatek.test"}),
        clock=lambda: NOW,
    )  # fmt: skip
    with pytest.raises(SmtpUnreachable):
        await connector.start()
    [result] = await connector.send([campaign_email(1, "Ann", "ann@example.test")])
    assert result.outcome == SubmitOutcome.TEMPORARY
    assert not connector.state().connected and connector.state().detail


def test_an_answer_to_a_persons_mail_is_threaded_under_it() -> None:
    sender = make_sender("Shop <shop@example.com>")
    composed = compose_email(
        sender, ref=7, recipient="ann@example.com", text="We are on it.",
        extras={"subject": "Re: my order", "in_reply_to": "<CAB123@mail.example.org>"},
        now=datetime(2026, 12, 7, 9, 0, tzinfo=UTC),
    )  # fmt: skip
    assert "In-Reply-To: <CAB123@mail.example.org>" in composed.headers
    assert "References: <CAB123@mail.example.org>" in composed.headers
    assert "List-Unsubscribe" not in composed.headers
