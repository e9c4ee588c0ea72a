"""The live inbox's reads: a version that moves with every change to a ticket and is
read from the tickets' indexes alone, and rows with the contact's name and last text."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from mo_harness import SHORT, add_connector
from sqlalchemy import Engine, text, update

from smscast.channels.base import InboundMessage
from smscast.config import Settings
from smscast.engine.accounts.workspaces import WorkspaceRef, create_workspace
from smscast.engine.inbound.inbox_feed import first_words, inbox_tickets, inbox_version
from smscast.engine.inbound.numbers import add_number
from smscast.engine.inbound.receive import handle_inbound
from smscast.engine.inbound.tickets import (
    assign_ticket,
    list_tickets,
    reply_to_ticket,
    solve_ticket,
)
from smscast.store.models import Contact, table_of

ANNA, BOLEK, CELINA = "+48600100201", "+48600100202", "+48600100203"


@pytest.fixture
def texting(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> Callable[[str, str, datetime], int]:
    """`texting(phone, text, at)`: a text to the short code that becomes (or reopens) a
    ticket, as the router handles it; returns the ticket id."""
    connector_id = add_connector(engine, workspace, now)
    add_number(engine, workspace, SHORT, connector="sim", actor="test", now=now)

    def send(phone: str, body: str, at: datetime) -> int:
        result = handle_inbound(
            engine, settings, connector_id, InboundMessage(phone, SHORT, body, at)
        )
        assert result.route == "ticket" and result.ticket_id is not None
        return result.ticket_id

    return send


def test_the_version_moves_with_every_change_to_a_ticket(
    engine: Engine, workspace: WorkspaceRef, now: datetime,
    texting: Callable[[str, str, datetime], int],
) -> None:  # fmt: skip
    empty = inbox_version(engine, workspace.id)
    assert (empty.latest, empty.tickets, empty.open) == (None, 0, 0)

    first = texting(ANNA, "Where is my parcel?", now)
    texting(BOLEK, "Hello", now + timedelta(seconds=1))
    two = inbox_version(engine, workspace.id)
    assert (two.tickets, two.open) == (2, 2) and two != empty
    assert inbox_version(engine, workspace.id) == two  # nothing happened: the same version

    reply_to_ticket(
        engine, workspace, first, "On its way", actor="t", now=now + timedelta(minutes=1)
    )
    replied = inbox_version(engine, workspace.id)
    assert replied.open == 1 and replied != two  # pending now: one ticket waits for us

    solve_ticket(engine, workspace, first, actor="t", now=now + timedelta(minutes=2))
    solved = inbox_version(engine, workspace.id)
    assert solved != replied
    texting(ANNA, "It has not come", now + timedelta(minutes=3))  # reopens it
    again = inbox_version(engine, workspace.id)
    assert (again.open, again.tickets) == (2, 2)
    assert again.latest == now + timedelta(minutes=3)


def test_another_workspaces_tickets_do_not_move_the_version(
    engine: Engine, workspace: WorkspaceRef, now: datetime,
    texting: Callable[[str, str, datetime], int],
) -> None:  # fmt: skip
    other = create_workspace(engine, "Other", "PL", "Europe/Warsaw", actor="test", now=now)
    before = inbox_version(engine, other.id)
    texting(ANNA, "Hi", now)
    assert inbox_version(engine, other.id) == before


@pytest.mark.sqlite_only
def test_the_version_reads_the_tickets_indexes_and_never_the_messages(
    engine: Engine, workspace: WorkspaceRef
) -> None:
    with engine.connect() as conn:
        plan = " | ".join(
            str(row[-1])
            for row in conn.execute(
                text(
                    "EXPLAIN QUERY PLAN SELECT max(updated_at), count(*), (SELECT count(*) "
                    "FROM tickets WHERE workspace_id = :w AND state = 'open') FROM tickets "
                    "WHERE workspace_id = :w"
                ),
                {"w": workspace.id},
            )
        )
    assert "messages" not in plan
    assert "ix_tickets_workspace_updated" in plan and "ix_tickets_workspace_state" in plan
    assert "SCAN tickets" not in plan.replace("COVERING INDEX", "")


def test_rows_carry_the_name_and_the_last_text_most_recent_first(
    engine: Engine, workspace: WorkspaceRef, now: datetime,
    texting: Callable[[str, str, datetime], int],
) -> None:  # fmt: skip
    anna = texting(ANNA, "My order 1234 has not arrived", now)
    question = "Do you deliver to Gdańsk on Sundays as well as on weekdays, or only on Fridays?"
    bolek = texting(BOLEK, question, now + timedelta(minutes=1))
    contacts = table_of(Contact)
    with engine.begin() as conn:
        conn.execute(
            update(contacts)
            .where(contacts.c.phone == ANNA)
            .values(attributes={"first_name": "Anna", "last_name": "Nowak"})
        )
    reply_to_ticket(engine, workspace, anna, "Sorry, it ships today", actor="t",
                    now=now + timedelta(minutes=2))  # fmt: skip

    rows = inbox_tickets(engine, workspace)
    assert [(r["id"], r["name"], r["last_direction"]) for r in rows] == [
        (anna, "Anna Nowak", "out"),
        (bolek, "", "in"),
    ]
    assert rows[0]["preview"] == "Sorry, it ships today"
    assert rows[0]["last_inbound_at"] == now
    assert rows[1]["preview"] == "Do you deliver to Gdańsk on Sundays as well as on weekdays,…"
    assert inbox_tickets(engine, workspace, search="nothing like it") == []


def test_rows_filter_by_state_and_assignee_and_page_by_activity(
    engine: Engine, workspace: WorkspaceRef, now: datetime,
    texting: Callable[[str, str, datetime], int],
    add_member: Callable[..., None],
) -> None:  # fmt: skip
    add_member(engine, workspace, "ola@shop.pl", "agent", now)
    ids = [texting(phone, "Hi", now + timedelta(minutes=i))
           for i, phone in enumerate((ANNA, BOLEK, CELINA))]  # fmt: skip
    assign_ticket(engine, workspace, ids[0], "ola@shop.pl", actor="t", now=now + timedelta(hours=1))
    solve_ticket(engine, workspace, ids[1], actor="t", now=now + timedelta(hours=2))

    assert [r["id"] for r in inbox_tickets(engine, workspace)] == [ids[1], ids[0], ids[2]]
    assert [r["id"] for r in inbox_tickets(engine, workspace, state="open")] == [ids[0], ids[2]]
    assert [r["id"] for r in inbox_tickets(engine, workspace, assignee="ola@shop.pl")] == [ids[0]]
    assert [r["id"] for r in inbox_tickets(engine, workspace, unassigned=True)] == [ids[1], ids[2]]
    assert [r["id"] for r in inbox_tickets(engine, workspace, number=SHORT, state="solved")] == [
        ids[1]
    ]

    first = inbox_tickets(engine, workspace, limit=2)
    after = (first[-1]["updated_at"], first[-1]["id"])
    assert [r["id"] for r in inbox_tickets(engine, workspace, limit=2, before=after)] == [ids[2]]
    # the API's paging by id is as it was
    assert [t["id"] for t in list_tickets(engine, workspace, before_id=ids[2])] == ids[1::-1]


def test_first_words_of_a_text() -> None:
    assert first_words("  one\ntwo   three ", 5) == "one two three"
    assert first_words("one two three", 2) == "one two…"
    assert first_words("") == ""
