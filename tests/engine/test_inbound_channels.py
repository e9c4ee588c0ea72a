"""Inbound beside SMS: email replies and bounces through the SMTP listener over loopback,
WhatsApp messages as their webhook hands them over, routed by the one router."""

from __future__ import annotations

import asyncio
import re
import smtplib
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select

from smscast.channels.base import InboundMessage
from smscast.channels.email.listener import MailListener
from smscast.config import Settings
from smscast.core.consent import Action, Source
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.contacts.consent import consent_history
from smscast.engine.inbound.consent_by_text import record_text_consent
from smscast.engine.inbound.mail_receiver import start_mail_receiver
from smscast.engine.inbound.numbers import add_number
from smscast.engine.inbound.receive import handle_inbound
from smscast.engine.inbound.tickets import reply_to_ticket, show_ticket
from smscast.engine.sending.dispatch_checks import check_before_sending
from smscast.engine.sending.outbox import Claimed, enqueue_messages
from smscast.store.channel_models import SuppressedAddress
from smscast.store.inbound_models import InboundRoute, Ticket
from smscast.store.messaging_models import Campaign, CarrierRef, Connector, Message
from smscast.store.models import Contact, table_of

PHONE = "+48600100200"
ANN = "ann@example.com"
LONG = "+48500100200"
OUR_ID = "7.0badcafe@shop.example"
messages = table_of(Message)


def add_connector(engine: Engine, workspace: WorkspaceRef, now: datetime, name: str, kind: str,
                  settings: dict[str, Any]) -> int:  # fmt: skip
    table = table_of(Connector)
    with engine.begin() as conn:
        return int(conn.execute(insert(table).values(
            workspace_id=workspace.id, name=name, kind=kind, settings=settings, rate_per_s=10.0,
            window=10, enabled=True, created_at=now,
        ).returning(table.c.id)).scalar_one())  # fmt: skip


def add_contact(engine: Engine, workspace: WorkspaceRef, now: datetime, email: str | None) -> int:
    table = table_of(Contact)
    with engine.begin() as conn:
        return int(conn.execute(insert(table).values(
            workspace_id=workspace.id, phone=PHONE, country="PL", attributes={},
            timezone="Europe/Warsaw", email=email, tags=[], created_at=now, updated_at=now,
        ).returning(table.c.id)).scalar_one())  # fmt: skip


@pytest.fixture
def shop(engine: Engine, workspace: WorkspaceRef, now: datetime) -> dict[str, Any]:
    """An SMS number, an smtp connector and Ann, who got a campaign email an hour ago."""
    sms = add_connector(engine, workspace, now, "sim", "smpp", {})
    smtp = add_connector(engine, workspace, now, "mail", "smtp",
                         {"host": "127.0.0.1", "port": 25, "from": "Shop <news@shop.example>",
                          "return_path": "bounces@shop.example"})  # fmt: skip
    number = add_number(engine, workspace, LONG, connector="sim", actor="t", now=now)
    contact = add_contact(engine, workspace, now, ANN)
    sent_at = now - timedelta(hours=1)
    campaigns = table_of(Campaign)
    with engine.begin() as conn:
        campaign = conn.execute(insert(campaigns).values(
            workspace_id=workspace.id, name="Winter sale", status="running",
            purpose="promotional", segment_expression="", number_id=number.id, schedule={},
            options={}, excluded={}, created_by="t", created_at=sent_at,
        ).returning(campaigns.c.id)).scalar_one()  # fmt: skip
        message = conn.execute(insert(messages).values(
            workspace_id=workspace.id, direction="out", kind="campaign", purpose="promotional",
            contact_id=contact, phone=PHONE, number_id=number.id, campaign_id=campaign, run=0,
            body="20% off everything", encoding="UTF-8", parts=1, parts_done=0, cost=0,
            status="sent", attempts=1, created_at=sent_at, sent_at=sent_at, connector_id=smtp,
            channel="email", address=ANN, payload={"subject": "Winter sale"},
        ).returning(messages.c.id)).scalar_one()  # fmt: skip
        conn.execute(insert(table_of(CarrierRef)).values(
            connector_id=smtp, carrier_id=OUR_ID, message_id=message, part=0))  # fmt: skip
    return {"sms": sms, "smtp": smtp, "number": number, "contact": contact,
            "campaign": campaign, "message": message}  # fmt: skip


@pytest.fixture
async def listener(
    engine: Engine, settings: Settings, now: datetime, shop: dict[str, Any]
) -> AsyncIterator[MailListener]:
    running = await start_mail_receiver(engine, settings, host="127.0.0.1", port=0,
                                        clock=lambda: now)  # fmt: skip
    yield running
    await running.close()


async def send(port: int, data: bytes, sender: str) -> int:
    data = re.sub(rb"(?<!\r)\n", b"\r\n", data)

    def talk() -> int:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.ehlo("mx.example.com")
            client.mail(sender)
            client.rcpt("news@shop.example")
            return client.data(data)[0]

    return await asyncio.to_thread(talk)


def reply(body: str, message_id: str = "<ann.1@mail.example.com>") -> bytes:
    mail = EmailMessage()
    mail["From"] = "Ann <ann@example.com>"
    mail["To"] = "Shop <news@shop.example>"
    mail["Subject"] = "Re: Winter sale"
    mail["Message-ID"] = message_id
    mail["In-Reply-To"] = f"<{OUR_ID}>"
    mail.set_content(body + "\n\nOn Mon, Shop <news@shop.example> wrote:\n> 20% off\n")
    return mail.as_bytes()


def bounce(recipient: str) -> bytes:
    return (
        "From: MAILER-DAEMON@mx.example.com\nTo: bounces@shop.example\n"
        "Subject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\n\n'
        "--b\nContent-Type: text/plain\n\nYour message could not be delivered.\n\n"
        "--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.com\n\n"
        f"Final-Recipient: rfc822; {recipient}\nAction: failed\nStatus: 5.1.1\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\n\n"
        "--b\nContent-Type: text/rfc822-headers\n\n"
        f"From: news@shop.example\nTo: {recipient}\nMessage-ID: <{OUR_ID}>\n"
        "Subject: Winter sale\n\n--b--\n"
    ).encode()


def inbound_rows(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(
            select(messages).where(messages.c.direction == "in").order_by(messages.c.id)
        ))  # fmt: skip


async def test_an_email_reply_becomes_a_ticket_answered_by_email(
    listener: MailListener, engine: Engine, workspace: WorkspaceRef, now: datetime,
    shop: dict[str, Any],
) -> None:  # fmt: skip
    assert await send(listener.port, reply("Does it fit a size 44?"), ANN) == 250
    [row] = inbound_rows(engine)
    assert (row.channel, row.address, row.contact_id, row.body) == (
        "email",
        ANN,
        shop["contact"],
        "Does it fit a size 44?",
    )
    assert row.payload["subject"] == "Re: Winter sale"
    assert row.number_id == shop["number"].id and row.connector_id == shop["smtp"]
    with engine.connect() as conn:
        route = conn.execute(select(table_of(InboundRoute))).one()
        ticket = conn.execute(select(table_of(Ticket))).one()
    assert (route.route, route.campaign_id) == ("ticket", shop["campaign"])
    assert (ticket.id, ticket.channel) == (row.ticket_id, "email")

    message_id = reply_to_ticket(engine, workspace, ticket.id, "Yes, it does.", actor="t",
                                 now=now)  # fmt: skip
    with engine.connect() as conn:
        answer = conn.execute(select(messages).where(messages.c.id == message_id)).one()
    assert (answer.channel, answer.address, answer.connector_id, answer.status) == (
        "email",
        ANN,
        shop["smtp"],
        "queued",
    )
    assert answer.payload == {"subject": "Re: Winter sale", "in_reply_to": "ann.1@mail.example.com"}
    thread = show_ticket(engine, workspace, ticket.id)["thread"]
    assert [(m["direction"], m["channel"]) for m in thread] == [("in", "email"), ("out", "email")]

    # The same mail delivered twice (the sender's retry) is stored once.
    assert await send(listener.port, reply("Does it fit a size 44?"), ANN) == 250
    assert len(inbound_rows(engine)) == 1


async def test_stop_by_email_opts_out_of_email_only_and_a_stranger_is_kept_unanswered(
    listener: MailListener, engine: Engine, workspace: WorkspaceRef, now: datetime,
    shop: dict[str, Any],
) -> None:  # fmt: skip
    assert await send(listener.port, reply("STOP", "<ann.2@mail.example.com>"), ANN) == 250
    history = consent_history(engine, workspace, PHONE)
    assert [(e["channel"], e["action"], e["evidence"]) for e in history["events"]] == [
        ("email", "opt_out", "STOP")
    ]
    confirm = [m for m in _outbox(engine) if m.kind == "confirm"]
    assert [(m.channel, m.address) for m in confirm] == [("email", ANN)]

    stranger = reply("Who are you?", "<x.1@other.example>").replace(
        b"ann@example.com", b"zed@other.example"
    )
    stranger = stranger.replace(f"<{OUR_ID}>".encode(), b"<unknown@nowhere.example>")
    assert await send(listener.port, stranger, "zed@other.example") == 250
    last = inbound_rows(engine)[-1]
    assert (last.contact_id, last.status, last.address) == (None, "unrouted",
                                                            "zed@other.example")  # fmt: skip
    assert "no contact has the email address" in last.error


async def test_a_whatsapp_stop_opts_out_of_whatsapp_only(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime,
    shop: dict[str, Any],
) -> None:  # fmt: skip
    whatsapp = add_connector(engine, workspace, now, "wa", "whatsapp_cloud", {})
    with engine.begin() as conn:
        for channel in ("sms", "whatsapp"):
            record_text_consent(conn, workspace.id, shop["contact"], Action.OPT_IN,
                                "promotional", Source.KEYWORD, "JOIN", "test", now,
                                channel=channel)  # fmt: skip
    message = InboundMessage(PHONE, LONG, "Stop", now, carrier_ids=("wamid.1",),
                             channel="whatsapp")  # fmt: skip
    result = handle_inbound(engine, settings, whatsapp, message)
    assert (result.route, result.contact_id) == ("opt_out", shop["contact"])
    state = {(s["channel"], s["purpose"]): s["status"]
             for s in consent_history(engine, workspace, PHONE)["state"]}  # fmt: skip
    assert state[("whatsapp", "promotional")] == "opted_out"
    assert state[("sms", "promotional")] == "opted_in"
    [confirm] = [m for m in _outbox(engine) if m.kind == "confirm"]
    assert (confirm.channel, confirm.address, confirm.connector_id) == ("whatsapp", PHONE, whatsapp)
    # A stranger's first WhatsApp message makes a contact of the number, as an SMS does.
    other = InboundMessage("48600100300", LONG, "Hello", now, carrier_ids=("wamid.2",),
                           channel="whatsapp")  # fmt: skip
    stored = handle_inbound(engine, settings, whatsapp, other)
    assert stored.route == "ticket" and stored.contact_id not in (None, shop["contact"])
    assert inbound_rows(engine)[-1].address == "+48600100300"


async def test_a_bounce_suppresses_the_address_and_the_next_email_to_it_fails(
    listener: MailListener, engine: Engine, workspace: WorkspaceRef, now: datetime,
    shop: dict[str, Any],
) -> None:  # fmt: skip
    assert await send(listener.port, bounce(ANN), "") == 250
    with engine.connect() as conn:
        bounced = conn.execute(select(messages).where(messages.c.id == shop["message"])).one()
        suppressed = conn.execute(select(table_of(SuppressedAddress))).one()
    assert (bounced.status, bounced.error_code) == ("undelivered", "bounce:5.1.1")
    assert (suppressed.channel, suppressed.address, suppressed.reason, suppressed.message_id) == (
        "email",
        ANN,
        "bounce",
        shop["message"],
    )
    with engine.begin() as conn:
        [next_id] = enqueue_messages(conn, [{
            "workspace_id": workspace.id, "kind": "agent_reply", "contact_id": shop["contact"],
            "phone": PHONE, "body": "About your order", "channel": "email", "address": ANN,
            "connector_id": shop["smtp"], "created_at": now,
        }])  # fmt: skip
        claimed = Claimed(next_id, workspace.id, PHONE, "About your order", None, None,
                          shop["contact"], "agent_reply", "informational", 1, 0.0, None,
                          now + timedelta(hours=1), 0, connector_id=shop["smtp"],
                          channel="email", address=ANN)  # fmt: skip
        alive, held = check_before_sending(conn, [claimed], now)
    assert alive == []
    [(_, status, code, why, _)] = held
    assert (status, code) == ("failed", "suppressed") and ANN in why


def _outbox(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(
            select(messages).where(messages.c.direction == "out", messages.c.kind != "campaign")
            .order_by(messages.c.id)
        ))  # fmt: skip
