"""Who is replying on a ticket, and the ticket's version that a live page watches: it
moves with every text, note, assignment, state change and delivery report, and one look
reads the contact's texts by index, never the whole messages table."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, update
from test_saved_replies import open_ticket

from smscast.channels.base import InboundMessage
from smscast.config import Settings
from smscast.core.errors import UserError
from smscast.engine.accounts.auth import users
from smscast.engine.accounts.workspaces import WorkspaceRef, create_workspace
from smscast.engine.inbound.presence import (
    mark_replying,
    stop_replying,
    ticket_pulse,
    who_is_replying,
)
from smscast.engine.inbound.receive import handle_inbound
from smscast.engine.inbound.tickets import (
    add_ticket_note,
    assign_ticket,
    reopen_ticket,
    reply_to_ticket,
    solve_ticket,
)
from smscast.engine.sending.connectors import list_connectors
from smscast.store.messaging_models import Message
from smscast.store.models import table_of

messages = table_of(Message)


def user_ids(engine: Engine, emails: dict[str, str]) -> dict[str, int]:
    """Users with these emails and names (name → id)."""
    with engine.begin() as conn:
        return {
            name: int(conn.execute(users.insert().values(
                email=email, name=name, password_hash="-", is_active=True,
                created_at=datetime(2026, 1, 1, tzinfo=UTC),
            ).returning(users.c.id)).scalar_one())
            for name, email in emails.items()
        }  # fmt: skip


def test_a_replying_mark_shows_then_lapses_by_itself(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    ticket, _contact = open_ticket(engine, settings, workspace, now)
    people = user_ids(engine, {"Ola": "ola@shop.pl", "": "jan@shop.pl"})

    mark_replying(engine, workspace, ticket, people["Ola"], now=now)
    mark_replying(engine, workspace, ticket, people[""], now=now + timedelta(seconds=4))

    replying = who_is_replying(engine, workspace, ticket, now=now + timedelta(seconds=5))
    assert [r.name for r in replying] == ["Ola", "jan@shop.pl"]  # no name: the email
    # Ola stopped typing 10 s ago; Jan typed 6 s ago.
    later = who_is_replying(engine, workspace, ticket, now=now + timedelta(seconds=10))
    assert [r.name for r in later] == ["jan@shop.pl"]
    assert who_is_replying(engine, workspace, ticket, now=now + timedelta(seconds=15)) == ()


def test_typing_on_renews_the_mark_and_a_sent_reply_takes_it_away(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    ticket, _contact = open_ticket(engine, settings, workspace, now)
    ola = user_ids(engine, {"Ola": "ola@shop.pl"})["Ola"]
    for seconds in (0, 5, 10, 15):
        mark_replying(engine, workspace, ticket, ola, now=now + timedelta(seconds=seconds))
    assert len(who_is_replying(engine, workspace, ticket, now=now + timedelta(seconds=24))) == 1

    stop_replying(engine, workspace, ticket, ola)

    assert who_is_replying(engine, workspace, ticket, now=now + timedelta(seconds=16)) == ()


def test_the_version_moves_with_everything_a_live_page_shows(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime,
    add_member: Callable[..., None],
) -> None:  # fmt: skip
    ticket, _contact = open_ticket(engine, settings, workspace, now)
    add_member(engine, workspace, "ola@shop.pl", "agent", now)
    [connector] = list_connectors_of(engine, workspace)
    seen = [ticket_pulse(engine, workspace, ticket, now=now).version]

    def moved() -> bool:
        version = ticket_pulse(engine, workspace, ticket, now=now).version
        fresh = version not in seen
        seen.append(version)
        return fresh

    # Every change below happens at the same moment: the version must not rely on time.
    add_ticket_note(engine, workspace, ticket, "VIP customer", actor="a", now=now)
    assert moved()
    assign_ticket(engine, workspace, ticket, "ola@shop.pl", actor="a", now=now)
    assert moved()
    reply = reply_to_ticket(engine, workspace, ticket, "On its way!", actor="a", now=now)
    assert moved()
    for status in ("sending", "sent", "delivered"):  # as the dispatcher and the report do
        with engine.begin() as conn:
            conn.execute(update(messages).where(messages.c.id == reply).values(status=status))
        assert moved(), status
    with engine.begin() as conn:  # held for quiet hours: back to queued, with the reason
        conn.execute(update(messages).where(messages.c.id == reply).values(
            status="queued", error="held until quiet hours end"))  # fmt: skip
    assert moved()
    solve_ticket(engine, workspace, ticket, actor="a", now=now)
    assert moved()
    reopen_ticket(engine, workspace, ticket, actor="a", now=now)
    assert moved()
    handle_inbound(engine, settings, connector,
                   InboundMessage("+48600100200", "4000", "Thanks!", now))  # fmt: skip
    assert moved()
    jan = user_ids(engine, {"Jan": "jan@shop.pl"})["Jan"]
    mark_replying(engine, workspace, ticket, jan, now=now)
    assert not moved()  # presence is told apart from the version
    assert not moved()


def list_connectors_of(engine: Engine, workspace: WorkspaceRef) -> list[int]:
    with engine.connect() as conn:
        return [int(c["id"]) for c in list_connectors(conn, workspace.id)]


def test_another_workspaces_ticket_is_unknown(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    ticket, _contact = open_ticket(engine, settings, workspace, now)
    other = create_workspace(engine, "Other", "PL", "Europe/Warsaw", actor="t", now=now)
    ola = user_ids(engine, {"Ola": "ola@shop.pl"})["Ola"]
    for call in (
        lambda: ticket_pulse(engine, other, ticket, now=now),
        lambda: mark_replying(engine, other, ticket, ola, now=now),
        lambda: stop_replying(engine, other, ticket, ola),
    ):
        with pytest.raises(UserError) as refused:
            call()
        assert refused.value.problem.code == "unknown_ticket"


@pytest.mark.sqlite_only
def test_a_look_reads_the_messages_of_the_contact_by_index(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    """SQLite's plan for the pulse: messages are searched by the contact's index."""
    ticket, _contact = open_ticket(engine, settings, workspace, now)
    captured: list[tuple[str, Any]] = []

    def remember(conn: object, cursor: object, statement: str, parameters: Any,
                 *args: object) -> None:  # fmt: skip
        if "ticket_presence" in statement:
            captured.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", remember)
    try:
        ticket_pulse(engine, workspace, ticket, now=now)
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    [(statement, parameters)] = captured
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        plan = raw.execute("EXPLAIN QUERY PLAN " + statement, parameters).fetchall()
    steps = " / ".join(str(row[-1]) for row in plan)
    assert "messages USING INDEX ix_messages_contact" in steps, steps
    assert "SCAN messages" not in steps, steps
