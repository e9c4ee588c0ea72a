"""Inbound routing end to end: MO texts injected by the simulator over real SMPP,
received by our client on loopback, routed and answered by the engine."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mo_harness import (
    LONG,
    SHORT,
    Mo,
    add_sent_campaign,
    mo_pipe,
    outbox,
    setup_numbers,
)
from sqlalchemy import Engine, select, update

from smscast.channels.base import InboundMessage
from smscast.config import Settings
from smscast.core.addresses import AddressPolicy
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.contacts.consent import consent_history
from smscast.engine.contacts.records import show_contact
from smscast.engine.inbound.keyword_rules import add_keyword_rule, edit_compliance_word
from smscast.engine.inbound.receive import handle_inbound, handle_inbound_batch
from smscast.engine.stats import campaign_totals
from smscast.store.inbound_models import InboundRoute
from smscast.store.models import Contact, table_of

PHONE = "+48600100200"
OTHER = "+48600100300"


@pytest.fixture
def numbers(engine: Engine, workspace: WorkspaceRef, now: datetime) -> tuple[int, Any, Any]:
    return setup_numbers(engine, workspace, now)


@pytest.fixture
async def mo(engine: Engine, settings: Settings, numbers: tuple[int, Any, Any]) -> Any:
    async with mo_pipe(engine, settings, numbers[0]) as pipe:
        yield pipe


def routes(engine: Engine) -> list[Any]:
    table = table_of(InboundRoute)
    with engine.connect() as conn:
        return list(conn.execute(select(table).order_by(table.c.message_id)))


async def test_stop_from_an_unknown_sender_opts_out_with_the_text_as_evidence(
    mo: Mo, engine: Engine, workspace: WorkspaceRef
) -> None:
    result = await mo.send(PHONE, SHORT, "Stop.")
    assert result.route == "opt_out"
    contact = show_contact(engine, workspace, PHONE)
    assert contact["timezone"] == "Europe/Warsaw"
    history = consent_history(engine, workspace, PHONE)
    assert [(e["action"], e["purpose"], e["evidence"]) for e in history["events"]] == [
        ("opt_out", "all", "Stop.")
    ]
    assert {s["status"] for s in history["state"]} == {"opted_out"}
    [confirmation] = outbox(engine)
    assert confirmation.kind == "confirm" and confirmation.phone == PHONE
    assert confirmation.status == "queued" and "START" in confirmation.body
    # A second STOP is recorded but not confirmed again.
    again = await mo.send(PHONE, SHORT, " stop ")
    assert (again.route, again.replies) == ("opt_out", 0)
    assert len(outbox(engine)) == 1
    assert len(consent_history(engine, workspace, PHONE)["events"]) == 2


async def test_start_and_help_answer_in_the_workspace_language(mo: Mo, engine: Engine) -> None:
    await mo.send(PHONE, LONG, "STÓP")
    start = await mo.send(PHONE, LONG, "start")
    help_ = await mo.send(PHONE, LONG, "Pomoc")
    assert (start.route, help_.route) == ("opt_in", "help")
    kinds = [(m.kind, m.body.split(":")[0]) for m in outbox(engine)]
    assert kinds == [("confirm", "Shop"), ("confirm", "Shop"), ("help", "Shop")]
    assert "odpisz STOP" in outbox(engine, kind="help")[0].body


async def test_keyword_rule_answers_personally_tags_and_sets_attributes(
    mo: Mo, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    actions = [
        {"type": "reply", "text": "Hi {{ first_name | default('there') }}, your code: PIZZA10"},
        {"type": "tag", "name": "pizza"},
        {"type": "set_attribute", "name": "size"},
    ]
    add_keyword_rule(engine, workspace, SHORT, "PIZZA", actions, aliases=["PIZZE"],
                     actor="test", now=now)  # fmt: skip
    await mo.send(PHONE, SHORT, "pizze large")
    with engine.begin() as conn:
        conn.execute(update(table_of(Contact)).values(attributes={"first_name": "Ala"}))
    result = await mo.send(PHONE, SHORT, "Pizza!")
    assert result.route == "keyword"
    assert [m.body for m in outbox(engine)] == [
        "Hi there, your code: PIZZA10",
        "Hi Ala, your code: PIZZA10",
    ]
    contact = show_contact(engine, workspace, PHONE)
    assert contact["tags"] == ["pizza"]
    assert contact["attributes"]["size"] == ""  # the second text had nothing after the keyword
    assert [(r.route, r.keyword) for r in routes(engine)] == [
        ("keyword", "pizze"),
        ("keyword", "pizza"),
    ]


async def test_one_number_serves_campaigns_told_apart_by_keyword(
    mo: Mo, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    add_keyword_rule(engine, workspace, SHORT, "PIZZA", [{"type": "reply", "text": "pizza"}],
                     actor="t", now=now)  # fmt: skip
    add_keyword_rule(engine, workspace, SHORT, "PIZZA XL", [{"type": "reply", "text": "xl"}],
                     actor="t", now=now)  # fmt: skip
    add_keyword_rule(engine, workspace, SHORT, "SUSHI", [{"type": "reply", "text": "sushi"}],
                     actor="t", now=now)  # fmt: skip
    add_keyword_rule(engine, workspace, SHORT, None, [{"type": "reply", "text": "default"}],
                     actor="t", now=now)  # fmt: skip
    for text in ("sushi", "PIZZA xl please", "pizza", "what?"):
        await mo.send(PHONE, SHORT, text)
    assert [m.body for m in outbox(engine)] == ["sushi", "xl", "pizza", "default"]


async def test_double_opt_in_confirmed_with_both_texts_as_evidence(
    mo: Mo, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    prompt = "Reply YES to confirm Shop offers"
    add_keyword_rule(engine, workspace, SHORT, "JOIN",
                     [{"type": "double_opt_in", "text": prompt}], actor="t", now=now)  # fmt: skip
    joined = await mo.send(PHONE, SHORT, "Join")
    assert joined.route == "keyword"
    assert [m.body for m in outbox(engine)] == [prompt]
    assert consent_history(engine, workspace, PHONE)["events"] == []
    confirmed = await mo.send(PHONE, SHORT, "Yes")
    assert confirmed.route == "confirm_opt_in"
    [event] = consent_history(engine, workspace, PHONE)["events"]
    assert (event["action"], event["purpose"], event["source"]) == (
        "opt_in",
        "promotional",
        "double_opt_in",
    )
    assert '"Join"' in event["evidence"] and '"Yes"' in event["evidence"]
    assert prompt in event["evidence"]
    assert len(outbox(engine, kind="confirm")) == 2  # the prompt and the thank-you
    # Another YES has nothing to confirm: it becomes a support conversation.
    assert (await mo.send(PHONE, SHORT, "yes")).route == "ticket"


async def test_double_opt_in_expires_after_a_day(
    mo: Mo, engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    doi = [{"type": "double_opt_in", "text": "Reply YES"}]
    add_keyword_rule(engine, workspace, SHORT, "JOIN", doi, actor="t", now=now)
    joined = await mo.receive(PHONE, SHORT, "JOIN")
    handle_inbound(engine, settings, mo.connector_id, joined)
    yes = await mo.receive(PHONE, SHORT, "YES")
    late = InboundMessage(yes.sender, yes.recipient, yes.text,
                          joined.received_at + timedelta(hours=25))  # fmt: skip
    assert handle_inbound(engine, settings, mo.connector_id, late).route == "ticket"
    assert consent_history(engine, workspace, PHONE)["events"] == []


async def test_reply_is_attributed_to_the_campaign_that_last_texted_the_contact(
    mo: Mo, engine: Engine, workspace: WorkspaceRef, numbers: tuple[int, Any, Any]
) -> None:
    first = await mo.send(PHONE, LONG, "hello")  # creates the contact
    sent = datetime.now(UTC) - timedelta(hours=1)
    old = add_sent_campaign(
        engine, workspace, numbers[1].id, first.contact_id, sent - timedelta(hours=1)
    )
    campaign = add_sent_campaign(engine, workspace, numbers[1].id, first.contact_id, sent,
                                 options={"expects_reply": True})  # fmt: skip
    reply = await mo.send(PHONE, LONG, "Sounds good")
    stop = await mo.send(PHONE, LONG, "STOP")
    assert reply.route == "campaign_reply"
    assert [r.campaign_id for r in routes(engine)] == [None, campaign, campaign]
    with engine.connect() as conn:
        totals = campaign_totals(conn, campaign)
        assert (totals["replies"], totals["opt_outs"]) == (1, 1)  # STOP is no reply
        assert campaign_totals(conn, old)["replies"] == 0
    assert stop.route == "opt_out"


async def test_loop_guard_limits_automatic_replies_per_hour(
    mo: Mo, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    add_keyword_rule(engine, workspace, SHORT, None, [{"type": "reply", "text": "Thanks!"}],
                     actor="t", now=now)  # fmt: skip
    results = [await mo.send(PHONE, SHORT, f"robot says {i}") for i in range(8)]
    assert sum(r.replies for r in results) == 5
    assert "loop guard" in (results[-1].detail or "")
    other = await mo.send(OTHER, SHORT, "a person")
    assert other.replies == 1


async def test_compliance_lists_are_editable_per_workspace(
    mo: Mo, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    edit_compliance_word(engine, workspace, "opt_out", "NIE", language="pl", removed=True,
                         actor="t", now=now)  # fmt: skip
    edit_compliance_word(engine, workspace, "opt_out", "DOŚĆ", language="pl", removed=False,
                         actor="t", now=now)  # fmt: skip
    assert (await mo.send(PHONE, SHORT, "Nie")).route == "ticket"
    assert (await mo.send(PHONE, SHORT, "dosc!")).route == "opt_out"


async def test_a_dead_webhook_never_blocks_routing(
    mo: Mo, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    loopback = AddressPolicy((ipaddress.ip_network("127.0.0.0/8"),))
    add_keyword_rule(engine, workspace, SHORT, "HOOK",
                     [{"type": "webhook", "url": "http://127.0.0.1:9/none"},
                      {"type": "reply", "text": "got it"}], actor="t", now=now,
                     policy=loopback)  # fmt: skip
    result = await mo.send(PHONE, SHORT, "hook")
    assert result.replies == 1
    assert (await mo.send(OTHER, SHORT, "STOP")).route == "opt_out"


async def test_batch_routes_each_text_against_the_state_its_predecessors_left(
    mo: Mo, engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    doi = [{"type": "double_opt_in", "text": "Reply YES"}]
    add_keyword_rule(engine, workspace, SHORT, "JOIN", doi, actor="t", now=now)
    texts = ["JOIN", "yes", "STOP", "STOP"]
    batch = [await mo.receive(PHONE, SHORT, t) for t in texts]
    results = handle_inbound_batch(engine, settings, mo.connector_id, batch)
    assert [r.route for r in results] == ["keyword", "confirm_opt_in", "opt_out", "opt_out"]
    assert [r.replies for r in results] == [1, 1, 1, 0]
    actions = [e["action"] for e in consent_history(engine, workspace, PHONE)["events"]]
    assert actions == ["opt_in", "opt_out", "opt_out"]


def test_a_connector_nobody_has_is_reported_not_raised(engine: Engine, settings: Settings) -> None:
    message = InboundMessage(PHONE, SHORT, "hi", datetime.now(UTC))
    result = handle_inbound(engine, settings, 999, message)
    assert result.route == "unrouted" and "999" in (result.detail or "")
