"""Webhook events from inbound texts, consent changes, tickets and finished campaigns.

Each is emitted where the change happens and reaches a real loopback receiver,
signed; a repeat that changes nothing is no event; nothing is queued without a
subscriber.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import httpx
from sqlalchemy import Engine, func, insert, select
from webhook_receiver import Receiver, webhook_receiver

from smscast.channels.base import InboundMessage
from smscast.config import Settings
from smscast.core.consent import Action, Source
from smscast.core.webhook_signing import verify_signature_header
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.campaigns.lifecycle import complete_finished_campaigns
from smscast.engine.contacts.consent import ConsentChange, record_consent
from smscast.engine.inbound.numbers import add_number
from smscast.engine.inbound.receive import handle_inbound
from smscast.engine.sending.connectors import add_connector
from smscast.engine.webhooks.endpoints import create_webhook, deliveries
from smscast.engine.webhooks.sender import deliver_due_webhooks
from smscast.store.messaging_models import Campaign
from smscast.store.models import table_of

NUMBER = "+48500100200"
PHONE = "+48600100200"
campaigns = table_of(Campaign)


def _open(settings: Settings) -> Settings:
    return settings.model_copy(update={"webhook_allow_private": True})


def _number(engine: Engine, workspace: WorkspaceRef, now: datetime) -> int:
    row = add_connector(engine, workspace, name="sim", kind="smpp",
                        settings={"host": "127.0.0.1", "port": 2775, "system_id": "smscast"},
                        rate_per_s=0, window=10, actor="t", now=now)  # fmt: skip
    add_number(engine, workspace, NUMBER, connector="sim", actor="t", now=now)
    return row.id


def _text(engine: Engine, settings: Settings, connector_id: int, text: str, at: datetime) -> None:
    handle_inbound(engine, settings, connector_id, InboundMessage(PHONE, NUMBER, text, at))


def _deliver(engine: Engine, settings: Settings, receiver: Receiver, now: datetime, secret: str
             ) -> list[dict]:  # fmt: skip
    """Sends what is due; returns the events received, each checked against its signature."""
    later = now + timedelta(hours=1)  # every event of the test is due
    with httpx.Client() as http:
        while deliver_due_webhooks(engine, settings, http, later):
            pass
    events = []
    for headers, body in receiver.posts:
        assert verify_signature_header(secret, headers["Smscast-Signature"], body,
                                       int(later.timestamp()))  # fmt: skip
        event = json.loads(body)
        assert headers["Smscast-Event"] == event["type"]
        events.append(event)
    receiver.posts.clear()
    return events


def test_inbound_tickets_and_keyword_consent_reach_the_subscriber(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    settings = _open(settings)
    connector_id = _number(engine, workspace, now)
    with webhook_receiver() as receiver:
        endpoint, secret = create_webhook(
            engine, settings, workspace, receiver.url,
            ["inbound.received", "ticket.created", "contact.opted_out", "contact.opted_in"],
            description="", actor="t", now=now,
        )  # fmt: skip
        _text(engine, settings, connector_id, "Where is my parcel?", now)
        first = _deliver(engine, settings, receiver, now, secret)
        assert [e["type"] for e in first] == ["ticket.created", "inbound.received"]
        ticket, inbound = first[0]["data"], first[1]["data"]
        assert inbound["from"] == PHONE and inbound["text"] == "Where is my parcel?"
        assert inbound["route"] == "ticket" and inbound["ticket_id"] == ticket["ticket_id"]
        _text(engine, settings, connector_id, "Any news?", now + timedelta(minutes=1))
        again = _deliver(engine, settings, receiver, now, secret)
        assert [e["type"] for e in again] == ["inbound.received"]  # same ticket: not created
        _text(engine, settings, connector_id, "STOP", now + timedelta(minutes=2))
        stop = _deliver(engine, settings, receiver, now, secret)
        assert sorted(e["type"] for e in stop) == ["contact.opted_out", "inbound.received"]
        [opted_out] = [e["data"] for e in stop if e["type"] == "contact.opted_out"]
        assert (opted_out["phone"], opted_out["status"], opted_out["source"]) == (
            PHONE, "opted_out", "keyword"
        )  # fmt: skip
        _text(engine, settings, connector_id, "STOP", now + timedelta(minutes=3))
        repeated = _deliver(engine, settings, receiver, now, secret)
        assert [e["type"] for e in repeated] == ["inbound.received"]  # nothing changed
        _text(engine, settings, connector_id, "START", now + timedelta(minutes=4))
        start = _deliver(engine, settings, receiver, now, secret)
        assert sorted(e["type"] for e in start) == ["contact.opted_in", "inbound.received"]
    assert endpoint["id"]


def test_a_consent_change_by_api_or_cli_is_one_event(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    settings = _open(settings)
    with webhook_receiver() as receiver:
        _, secret = create_webhook(engine, settings, workspace, receiver.url, ["*"],
                                   description="", actor="t", now=now)  # fmt: skip

        def change(action: Action) -> None:
            record_consent(
                engine,
                settings,
                workspace,
                PHONE,
                ConsentChange("sms", "all", action, Source.API, "", "t", now),
            )

        change(Action.OPT_IN)
        change(Action.OPT_OUT)
        change(Action.OPT_OUT)
        events = _deliver(engine, settings, receiver, now, secret)
    assert [(e["type"], e["data"]["source"]) for e in events] == [
        ("contact.opted_in", "api"),
        ("contact.opted_out", "api"),
    ]


def test_a_completed_campaign_is_reported(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    settings = _open(settings)
    with engine.begin() as conn:
        campaign_id = conn.execute(
            insert(campaigns).values(workspace_id=workspace.id, name="Sale", status="running",
                                     launched_at=now, created_at=now).returning(campaigns.c.id)
        ).scalar_one()  # fmt: skip
    with webhook_receiver() as receiver:
        _, secret = create_webhook(
            engine,
            settings,
            workspace,
            receiver.url,
            ["campaign.completed"],
            description="",
            actor="t",
            now=now,
        )
        assert complete_finished_campaigns(engine, now) == [campaign_id]
        assert complete_finished_campaigns(engine, now) == []
        events = _deliver(engine, settings, receiver, now, secret)
    assert [(e["type"], e["data"]["campaign_id"], e["data"]["name"]) for e in events] == [
        ("campaign.completed", campaign_id, "Sale")
    ]


def test_nothing_is_queued_without_a_subscriber(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    connector_id = _number(engine, workspace, now)
    with webhook_receiver() as receiver:  # subscribed to something else only
        create_webhook(engine, _open(settings), workspace, receiver.url, ["import.finished"],
                       description="", actor="t", now=now)  # fmt: skip
        _text(engine, settings, connector_id, "Hello?", now)
        _text(engine, settings, connector_id, "STOP", now + timedelta(minutes=1))
        record_consent(
            engine,
            settings,
            workspace,
            PHONE,
            ConsentChange("sms", "all", Action.OPT_IN, Source.API, "", "t", now),
        )
        with engine.begin() as conn:
            conn.execute(
                insert(campaigns).values(
                    workspace_id=workspace.id,
                    name="Sale",
                    status="running",
                    launched_at=now,
                    created_at=now,
                )
            )
        complete_finished_campaigns(engine, now)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(deliveries)).scalar_one() == 0
