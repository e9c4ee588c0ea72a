"""Support tickets and response analysis, with texts arriving over real SMPP loopback."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from mo_harness import LONG, SHORT, Mo, add_sent_campaign, mo_pipe, outbox, setup_numbers
from sqlalchemy import Engine, select, update
from typer.testing import CliRunner

from smscast.channels.base import InboundMessage
from smscast.cli import app
from smscast.config import Settings
from smscast.core.errors import UserError
from smscast.engine.accounts.workspaces import WorkspaceRef, create_workspace
from smscast.engine.inbound.keyword_rules import add_keyword_rule
from smscast.engine.inbound.receive import handle_inbound
from smscast.engine.inbound.response_report import number_report
from smscast.engine.inbound.tickets import (
    add_ticket_note,
    assign_ticket,
    list_tickets,
    reopen_ticket,
    reply_to_ticket,
    show_ticket,
    solve_ticket,
)
from smscast.store.messaging_models import Message
from smscast.store.models import AuditEvent, table_of

PHONE = "+48600100200"
OTHER = "+48600100300"


def audit_actions(engine: Engine, subject: str) -> list[tuple[str, str]]:
    events = table_of(AuditEvent)
    with engine.connect() as conn:
        rows = conn.execute(
            select(events.c.actor, events.c.action)
            .where(events.c.subject == subject)
            .order_by(events.c.id)
        )
        return [(r.actor, r.action) for r in rows]


@pytest.fixture
async def mo(engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime) -> Any:
    connector_id, _, _ = setup_numbers(engine, workspace, now)
    async with mo_pipe(engine, settings, connector_id) as pipe:
        yield pipe


async def test_a_conversation_from_first_text_to_solved_and_reopened(
    mo: Mo, engine: Engine, workspace: WorkspaceRef, add_member: Callable[..., None]
) -> None:
    add_member(engine, workspace, "ola@shop.pl", "agent", datetime(2026, 11, 1, tzinfo=UTC))
    first = await mo.send(PHONE, SHORT, "My order 1234 has not arrived")
    second = await mo.send(PHONE, SHORT, "Any news?")
    assert first.route == "ticket" and first.ticket_id == second.ticket_id
    ticket = first.ticket_id
    now = datetime.now(UTC)  # the agent answers after the texts arrived
    assert ticket is not None
    [listed] = list_tickets(engine, workspace, state="open")
    assert (listed["id"], listed["phone"]) == (ticket, PHONE)
    assert listed["subject"] == "My order 1234 has not arrived"

    assign_ticket(engine, workspace, ticket, "ola@shop.pl", actor="t", now=now)
    add_ticket_note(engine, workspace, ticket, "courier lost it", actor="ola@shop.pl", now=now)
    message_id = reply_to_ticket(engine, workspace, ticket, "Sorry! A new one ships today.",
                                 actor="ola@shop.pl", now=now)  # fmt: skip
    [agent_reply] = outbox(engine, kind="agent_reply")
    assert (agent_reply.id, agent_reply.ticket_id, agent_reply.status) == (
        message_id,
        ticket,
        "queued",
    )
    assert agent_reply.phone == PHONE and agent_reply.purpose == "informational"
    with engine.begin() as conn:  # the dispatcher and a delivery report move it on
        messages = table_of(Message)
        conn.execute(update(messages).where(messages.c.id == message_id).values(status="delivered"))
    shown = show_ticket(engine, workspace, ticket)
    assert shown["state"] == "pending" and shown["assignee"] == "ola@shop.pl"
    thread = [(i["type"], i.get("direction"), i["body"], i.get("status")) for i in shown["thread"]]
    assert ("message", "out", "Sorry! A new one ships today.", "delivered") in thread
    assert ("note", None, "courier lost it", None) in thread
    assert thread[0][:3] == ("message", "in", "My order 1234 has not arrived")

    solve_ticket(engine, workspace, ticket, actor="t", now=now)
    assert list_tickets(engine, workspace, state="solved")[0]["id"] == ticket
    again = await mo.send(PHONE, SHORT, "It came, thanks")
    assert again.ticket_id == ticket
    assert show_ticket(engine, workspace, ticket)["state"] == "open"


async def test_one_ticket_per_contact_and_number_and_search(
    mo: Mo, engine: Engine, workspace: WorkspaceRef
) -> None:
    a = await mo.send(PHONE, SHORT, "question about invoice")
    b = await mo.send(PHONE, LONG, "hello on the other number")
    c = await mo.send(OTHER, SHORT, "refund please")
    assert len({a.ticket_id, b.ticket_id, c.ticket_id}) == 3
    assert [t["id"] for t in list_tickets(engine, workspace, search="refund")] == [c.ticket_id]
    assert [t["id"] for t in list_tickets(engine, workspace, search="600100300")] == [c.ticket_id]
    assert list_tickets(engine, workspace, search="nothing like this") == []


async def test_ticket_errors_name_the_problem(engine: Engine, workspace: WorkspaceRef,
                                              now: datetime) -> None:  # fmt: skip
    with pytest.raises(UserError, match="no ticket #99"):
        reply_to_ticket(engine, workspace, 99, "hi", actor="t", now=now)
    with pytest.raises(UserError, match="not open, pending, solved"):
        list_tickets(engine, workspace, state="closed")


async def test_number_report_counts_replies_keywords_and_opt_outs(
    mo: Mo, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    add_keyword_rule(engine, workspace, LONG, "PIZZA", [{"type": "reply", "text": "ok"}],
                     actor="t", now=now)  # fmt: skip
    contacts = [(await mo.send(p, LONG, "hi")).contact_id for p in (PHONE, OTHER)]
    sent = datetime.now(UTC) - timedelta(minutes=30)
    numbers_id = outbox_number(engine)
    campaign = 0
    for phone, contact_id in zip((PHONE, OTHER), contacts, strict=True):
        assert contact_id is not None
        campaign = add_sent_campaign(engine, workspace, numbers_id, contact_id, sent, phone=phone)
    await mo.send(PHONE, LONG, "pizza")
    await mo.send(PHONE, LONG, "pizza again")
    await mo.send(OTHER, LONG, "STOP")
    report = number_report(engine, workspace, "48500100200")
    assert report["inbound"] == 5 and report["unique_senders"] == 2
    assert report["by_route"] == {"keyword": 2, "opt_out": 1, "ticket": 2}
    [pizza] = report["keywords"]
    assert (pizza["keyword"], pizza["hits"], pizza["unique_senders"]) == ("pizza", 2, 1)
    [response] = [c for c in report["campaigns"] if c["campaign_id"] == campaign]
    assert response["sent"] == 1 and response["replies"] == 1
    assert response["opt_outs"] == 1 and response["opt_out_rate"] == 1.0
    assert response["median_first_reply_s"] is not None and response["median_first_reply_s"] > 0


def outbox_number(engine: Engine) -> int:
    from smscast.store.messaging_models import Number

    numbers = table_of(Number)
    with engine.connect() as conn:
        return int(conn.execute(numbers.select().where(numbers.c.kind == "long")).first().id)


def test_cli_numbers_keywords_and_tickets(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: Engine,
    workspace: WorkspaceRef, now: datetime,
) -> None:  # fmt: skip
    from mo_harness import add_connector

    monkeypatch.setenv("SMSCAST_DATABASE_URL", db_url)
    monkeypatch.setenv("SMSCAST_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.chdir(tmp_path)
    add_connector(engine, workspace, now)
    runner = CliRunner()

    def run(*args: str) -> Any:
        result = runner.invoke(app, list(args))
        return result.exit_code, result.output

    code, out = run("numbers", "add", "4000", "--connector", "sim", "--json")
    assert code == 0, out
    assert json.loads(out)["kind"] == "short"
    code, out = run("numbers", "add", "+48 12", "--connector", "sim")
    assert code == 1 and "neither a phone number for PL nor a short code" in out
    code, out = run("keywords", "add", "PIZZA", "--number", "4000", "--reply", "Hi {{ name")
    assert code == 1 and "actions[0].text: line 1" in out
    code, out = run("keywords", "add", "STOP", "--number", "4000", "--reply", "x")
    assert code == 1 and "compliance keyword" in out
    code, out = run("keywords", "add", "PIZZA", "--number", "4000", "--reply", "Hi!", "--json")
    assert code == 0, out
    rule_id = json.loads(out)["id"]
    code, out = run("keywords", "list", "--json")
    assert [r["keyword"] for r in json.loads(out)] == ["pizza"]
    assert run("keywords", "remove", "NIE", "--compliance", "opt_out", "--language", "pl")[0] == 0
    code, out = run("keywords", "list", "--compliance", "--json")
    assert "nie" not in json.loads(out)["opt_out"] and "stop" in json.loads(out)["opt_out"]
    assert run("keywords", "remove", str(rule_id))[0] == 0
    code, out = run("numbers", "report", "4000", "--json")
    assert code == 0 and json.loads(out)["inbound"] == 0
    code, out = run("tickets", "show", "5")
    assert code == 1 and "no ticket #5" in out
    code, out = run("tickets", "list", "--json")
    assert code == 0 and json.loads(out) == []


def test_a_ticket_goes_only_to_a_member_who_may_answer_it(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime,
    add_member: Callable[..., None],
) -> None:
    ticket = _ticket_by_text(engine, settings, workspace, now)
    for email, role in [("ola@shop.pl", "agent"), ("ewa@shop.pl", "admin"),
                        ("max@shop.pl", "marketer"), ("vic@shop.pl", "viewer")]:  # fmt: skip
        add_member(engine, workspace, email, role, now)
    other = create_workspace(engine, "Other", "PL", "Europe/Warsaw", actor="t", now=now)
    add_member(engine, other, "out@else.pl", "agent", now)

    for who, code in [("nobody@shop.pl", "unknown_assignee"), ("out@else.pl", "unknown_assignee"),
                      ("max@shop.pl", "assignee_cannot_answer"),
                      ("vic@shop.pl", "assignee_cannot_answer")]:  # fmt: skip
        with pytest.raises(UserError) as refused:
            assign_ticket(engine, workspace, ticket, who, actor="t", now=now)
        assert (refused.value.problem.code, refused.value.problem.field) == (code, "assignee"), who
        assert who in refused.value.problem.message
    assert show_ticket(engine, workspace, ticket)["assignee"] is None

    assign_ticket(engine, workspace, ticket, "  Ola@Shop.PL ", actor="t", now=now)
    assert show_ticket(engine, workspace, ticket)["assignee"] == "ola@shop.pl"
    assert [t["id"] for t in list_tickets(engine, workspace, assignee="OLA@shop.pl")] == [ticket]
    assign_ticket(engine, workspace, ticket, "ewa@shop.pl", actor="t", now=now)
    assert show_ticket(engine, workspace, ticket)["assignee"] == "ewa@shop.pl"
    assign_ticket(engine, workspace, ticket, None, actor="t", now=now)
    assert show_ticket(engine, workspace, ticket)["assignee"] is None


def test_an_agent_reopens_a_solved_ticket_and_the_thread_says_so(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    ticket = _ticket_by_text(engine, settings, workspace, now)
    later = now + timedelta(minutes=5)
    with pytest.raises(UserError) as refused:
        reopen_ticket(engine, workspace, ticket, actor="user:ola", now=later)
    assert (refused.value.problem.code, refused.value.problem.field) == (
        "ticket_not_solved", "state")
    solve_ticket(engine, workspace, ticket, actor="user:ola", now=later)
    reopen_ticket(engine, workspace, ticket, actor="user:ola", now=later + timedelta(minutes=1))
    shown = show_ticket(engine, workspace, ticket)
    assert shown["state"] == "open"
    notes = [(i["author"], i["body"]) for i in shown["thread"] if i["type"] == "note"]
    assert notes == [("user:ola", "Reopened by user:ola")]
    assert ("user:ola", "ticket.reopened") in audit_actions(engine, f"#{ticket}")
    with pytest.raises(UserError, match="no ticket #999"):
        reopen_ticket(engine, workspace, 999, actor="user:ola", now=later)


def test_a_new_text_reopens_a_solved_ticket_with_a_note_in_its_thread(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    ticket = _ticket_by_text(engine, settings, workspace, now)
    solve_ticket(engine, workspace, ticket, actor="user:ola", now=now + timedelta(minutes=1))
    again = now + timedelta(minutes=10)
    result = handle_inbound(engine, settings, _connector(engine),
                            InboundMessage(PHONE, LONG, "It broke again", again))  # fmt: skip
    assert result.ticket_id == ticket
    shown = show_ticket(engine, workspace, ticket)
    assert shown["state"] == "open"
    notes = [(i["author"], i["body"], i["at"]) for i in shown["thread"] if i["type"] == "note"]
    assert [(a, b) for a, b, _ in notes] == [
        ("smscast", "Reopened: the contact texted again after the ticket was solved")
    ]
    assert notes[0][2].replace(tzinfo=None) == again.replace(tzinfo=None)
    assert ("smscast", "ticket.reopened") in audit_actions(engine, f"#{ticket}")
    # An open ticket that gets another text is not "reopened" a second time.
    handle_inbound(engine, settings, _connector(engine),
                   InboundMessage(PHONE, LONG, "Hello?", again + timedelta(minutes=1)))  # fmt: skip
    thread = show_ticket(engine, workspace, ticket)["thread"]
    assert len([i for i in thread if i["type"] == "note"]) == 1


def _connector(engine: Engine) -> int:
    from smscast.store.messaging_models import Connector

    with engine.connect() as conn:
        return int(conn.execute(select(table_of(Connector).c.id)).scalar_one())


def _ticket_by_text(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> int:
    """A ticket opened by a text to the long number (no keyword rules: it goes to the inbox)."""
    connector_id, _, _ = setup_numbers(engine, workspace, now)
    result = handle_inbound(engine, settings, connector_id,
                            InboundMessage(PHONE, LONG, "Where is my order?", now))  # fmt: skip
    assert result.route == "ticket" and result.ticket_id is not None
    return result.ticket_id
