"""Routing batches: double opt-ins answered, STOPs, consent webhook events and
campaign replies, all decided in memory in the texts' order and written once per batch.

Each test routes a batch of texts as the connector runtime hands them over, on a real
database, and checks what a person or a subscriber sees: the consent ledger, the
answers queued, the events posted.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from mo_harness import add_sent_campaign
from sqlalchemy import Engine, select, update

from smscast.channels.base import InboundMessage
from smscast.config import Settings
from smscast.core.consent import Action, Source
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.contacts.consent import ConsentChange, consent_history, record_consent
from smscast.engine.inbound.keyword_rules import add_keyword_rule
from smscast.engine.inbound.numbers import add_number
from smscast.engine.inbound.receive import handle_inbound_batch
from smscast.engine.sending.connectors import add_connector
from smscast.engine.webhooks.endpoints import create_webhook
from smscast.store.api_models import WebhookDelivery
from smscast.store.inbound_models import InboundRoute, PendingOptIn
from smscast.store.messaging_models import Campaign
from smscast.store.models import table_of

SHORT = "4000"
ANNA = "+48600100200"
BEN = "+48600100300"
CAROL = "+48600100400"


def _setup(engine: Engine, workspace: WorkspaceRef, now: datetime) -> int:
    connector = add_connector(engine, workspace, name="sim", kind="smpp",
                              settings={"host": "127.0.0.1", "port": 2775},
                              rate_per_s=0, window=10, actor="t", now=now)  # fmt: skip
    add_number(engine, workspace, SHORT, connector="sim", actor="t", now=now)
    add_keyword_rule(engine, workspace, SHORT, "JOIN",
                     [{"type": "double_opt_in", "text": "Reply YES for offers"}],
                     actor="t", now=now)  # fmt: skip
    return connector.id


def _texts(start: datetime, *texts: tuple[str, str]) -> list[InboundMessage]:
    return [
        InboundMessage(phone, SHORT, text, start + timedelta(seconds=i))
        for i, (phone, text) in enumerate(texts)
    ]


def _ledger(engine: Engine, workspace: WorkspaceRef, phone: str) -> list[tuple[str, str]]:
    events = consent_history(engine, workspace, phone)["events"]
    return [(e["action"], e["source"]) for e in events]


def routes_number(engine: Engine) -> int:
    table = table_of(InboundRoute)
    with engine.connect() as conn:
        return int(conn.execute(select(table.c.number_id).limit(1)).scalar_one())


def _waiting(engine: Engine) -> list[int]:
    table = table_of(PendingOptIn)
    with engine.connect() as conn:
        return sorted(conn.execute(select(table.c.contact_id)).scalars())


def test_yes_in_a_later_batch_confirms_the_join_and_the_evidence_quotes_both_texts(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    connector_id = _setup(engine, workspace, now)
    handle_inbound_batch(engine, settings, connector_id, _texts(now, (ANNA, "JOIN"), (BEN, "JOIN")))
    later = now + timedelta(minutes=5)
    texts = _texts(later, (BEN, "hello"), (ANNA, "yes"), (BEN, "YES"))
    results = handle_inbound_batch(engine, settings, connector_id, texts)
    assert [r.route for r in results] == ["ticket", "confirm_opt_in", "confirm_opt_in"]
    assert [r.replies for r in results] == [0, 1, 1]
    assert _ledger(engine, workspace, ANNA) == [("opt_in", "double_opt_in")]
    [event] = consent_history(engine, workspace, ANNA)["events"]
    assert 'sent "JOIN"' in event["evidence"] and 'confirmed "yes"' in event["evidence"]
    assert 'was asked "Reply YES for offers"' in event["evidence"]
    assert _waiting(engine) == []  # answered: nothing waits any more


def test_an_opt_out_recorded_after_the_join_voids_it_and_the_yes_confirms_nothing(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    connector_id = _setup(engine, workspace, now)
    handle_inbound_batch(engine, settings, connector_id, _texts(now, (ANNA, "JOIN")))
    stop = ConsentChange("all", "all", Action.OPT_OUT, Source.API, "asked by phone", "agent",
                         now + timedelta(minutes=1))  # fmt: skip
    record_consent(engine, settings, workspace, ANNA, stop)
    later = now + timedelta(minutes=5)
    results = handle_inbound_batch(engine, settings, connector_id,
                                   _texts(later, (ANNA, "YES"), (CAROL, "JOIN")))  # fmt: skip
    assert results[0].route == "confirm_opt_in"
    assert results[0].replies == 0 and "no double opt-in waiting" in (results[0].detail or "")
    assert _ledger(engine, workspace, ANNA) == [("opt_out", "api")]  # no opt-in by that YES
    assert len(_waiting(engine)) == 1  # Anna's JOIN is gone, Carol's waits


def test_join_stop_join_yes_in_one_batch_confirms_the_second_join_after_the_stop(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    connector_id = _setup(engine, workspace, now)
    texts = _texts(now, (ANNA, "JOIN"), (ANNA, "STOP"), (ANNA, "JOIN"), (ANNA, "YES"))
    results = handle_inbound_batch(engine, settings, connector_id, texts)
    assert [r.route for r in results] == ["keyword", "opt_out", "keyword", "confirm_opt_in"]
    assert _ledger(engine, workspace, ANNA) == [
        ("opt_out", "keyword"), ("opt_in", "double_opt_in"),
    ]  # fmt: skip
    [event] = [e for e in consent_history(engine, workspace, ANNA)["events"]
               if e["action"] == "opt_in"]  # fmt: skip
    assert "at " + (now + timedelta(seconds=2)).strftime("%Y-%m-%d %H:%M:%S") in event["evidence"]
    assert _waiting(engine) == []


def test_each_consent_event_of_a_batch_names_what_changed_it(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    settings = settings.model_copy(update={"webhook_allow_private": True})
    connector_id = _setup(engine, workspace, now)
    create_webhook(engine, settings, workspace, "http://127.0.0.1:9/hook",
                   ["contact.opted_in", "contact.opted_out"], description="", actor="t",
                   now=now)  # fmt: skip
    handle_inbound_batch(engine, settings, connector_id, _texts(now, (BEN, "JOIN")))
    later = now + timedelta(minutes=5)
    handle_inbound_batch(engine, settings, connector_id,
                         _texts(later, (ANNA, "STOP"), (BEN, "YES")))  # fmt: skip
    table = table_of(WebhookDelivery)
    with engine.connect() as conn:
        stored = conn.execute(select(table.c.payload).order_by(table.c.id)).scalars()
        payloads = [json.loads(p) if isinstance(p, str) else p for p in stored]
    sources = sorted((p["type"], p["data"]["phone"], p["data"]["source"]) for p in payloads)
    assert sources == [
        ("contact.opted_in", BEN, "double_opt_in"),
        ("contact.opted_out", ANNA, "keyword"),
    ]


def test_a_reply_names_a_campaign_finished_since_it_texted_but_not_one_outside_the_window(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    connector_id = _setup(engine, workspace, now)
    [first] = handle_inbound_batch(engine, settings, connector_id, _texts(now, (ANNA, "hi")))
    assert first.contact_id is not None
    number_id = routes_number(engine)
    sent = now + timedelta(hours=1)
    asked = add_sent_campaign(engine, workspace, number_id, first.contact_id, sent,
                              phone=ANNA, options={"expects_reply": True})  # fmt: skip
    campaigns = table_of(Campaign)
    with engine.begin() as conn:  # sent, then completed: replies may still come for days
        conn.execute(update(campaigns).where(campaigns.c.id == asked).values(
            status="completed", finished_at=sent + timedelta(minutes=5)))  # fmt: skip
    later = sent + timedelta(hours=20)
    [reply] = handle_inbound_batch(engine, settings, connector_id,
                                   _texts(later, (ANNA, "Count me in")))  # fmt: skip
    assert reply.route == "campaign_reply"
    window = timedelta(hours=settings.inbound_reply_window_hours)
    too_late = _texts(sent + window + timedelta(hours=2), (ANNA, "Still on?"))
    [late] = handle_inbound_batch(engine, settings, connector_id, too_late)
    assert late.route == "ticket"
