"""Saved replies: checked when saved, filled in for a ticket's contact as campaign texts
are, refused rather than sent with a gap, audited."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from smscast.channels.base import InboundMessage
from smscast.config import Settings
from smscast.core.errors import UserError
from smscast.engine.accounts.workspaces import WorkspaceRef, create_workspace
from smscast.engine.contacts.edits import ContactFields, update_contact
from smscast.engine.inbound.numbers import add_number
from smscast.engine.inbound.receive import handle_inbound
from smscast.engine.inbound.saved_replies import (
    delete_saved_reply,
    fill_saved_reply,
    get_saved_reply,
    list_saved_replies,
    save_saved_reply,
)
from smscast.engine.sending.connectors import add_connector
from smscast.store.models import AuditEvent, table_of

PHONE = "+48600100200"


def open_ticket(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime, phone: str = PHONE
) -> tuple[int, int]:
    """A ticket opened by a text to the workspace's number 4000: (ticket, contact)."""
    connector = add_connector(engine, workspace, name="sim", kind="smpp", actor="t", now=now,
                              settings={"host": "127.0.0.1", "port": 2775, "system_id": "s"},
                              rate_per_s=0.0, window=10)  # fmt: skip
    add_number(engine, workspace, "4000", connector="sim", actor="t", now=now)
    result = handle_inbound(engine, settings, connector.id,
                            InboundMessage(phone, "4000", "Where is my parcel?", now))  # fmt: skip
    assert result.route == "ticket" and result.ticket_id is not None
    assert result.contact_id is not None
    return result.ticket_id, result.contact_id


def test_a_saved_reply_is_filled_with_the_contacts_name_and_phone(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    ticket, contact = open_ticket(engine, settings, workspace, now)
    update_contact(engine, workspace, contact, ContactFields(attributes={"first_name": "Ola"}),
                   now=now)  # fmt: skip
    reply = save_saved_reply(
        engine, workspace, reply_id=None, title="Parcel late",
        body="Hi {{ first_name }}, your parcel is on its way. We text {{ phone }} when it lands.",
        actor="user:ola@shop.pl", now=now,
    )  # fmt: skip

    text = fill_saved_reply(engine, workspace, reply, ticket)

    assert text == f"Hi Ola, your parcel is on its way. We text {PHONE} when it lands."


def test_a_value_the_contact_lacks_is_an_error_naming_it_not_a_gap(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    ticket, _contact = open_ticket(engine, settings, workspace, now)
    reply = save_saved_reply(engine, workspace, reply_id=None, title="Hi",
                             body="Hi {{ first_name }}", actor="t", now=now)  # fmt: skip
    with pytest.raises(UserError) as refused:
        fill_saved_reply(engine, workspace, reply, ticket)
    assert refused.value.problem.code == "template.missing_value"
    assert refused.value.problem.field == "first_name"
    with_default = save_saved_reply(
        engine, workspace, reply_id=None, title="Hi there",
        body='Hi {{ first_name | default("there") }}', actor="t", now=now,
    )  # fmt: skip
    assert fill_saved_reply(engine, workspace, with_default, ticket) == "Hi there"


def test_saved_replies_are_listed_by_title_changed_and_deleted_with_audit(
    engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    later = now + timedelta(minutes=5)
    second = save_saved_reply(engine, workspace, reply_id=None, title="  Zwrot   towaru ",
                              body="Odeślij paczkę w 14 dni.", actor="a", now=now)  # fmt: skip
    first = save_saved_reply(engine, workspace, reply_id=None, title="Address",
                             body="We ship to {{ city }}.", actor="a", now=now)  # fmt: skip
    titles = [r["title"] for r in list_saved_replies(engine, workspace)]
    assert titles == ["Address", "Zwrot towaru"]

    save_saved_reply(engine, workspace, reply_id=second, title="Returns",
                     body="Send it back within 14 days.", actor="b", now=later)  # fmt: skip
    changed = get_saved_reply(engine, workspace, second)
    assert (changed["title"], changed["body"], changed["created_by"]) == (
        "Returns", "Send it back within 14 days.", "a")  # fmt: skip
    assert changed["updated_at"] == later

    delete_saved_reply(engine, workspace, first, actor="b", now=later)
    assert [r["id"] for r in list_saved_replies(engine, workspace)] == [second]
    events = table_of(AuditEvent)
    with engine.connect() as conn:
        actions = conn.execute(
            select(events.c.actor, events.c.action)
            .where(events.c.action.like("saved_reply.%"))
            .order_by(events.c.id)
        ).all()
    assert [tuple(a) for a in actions] == [
        ("a", "saved_reply.created"), ("a", "saved_reply.created"),
        ("b", "saved_reply.changed"), ("b", "saved_reply.deleted"),
    ]  # fmt: skip


def test_bad_saved_replies_are_refused_naming_the_field(
    engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    save_saved_reply(engine, workspace, reply_id=None, title="Hello", body="Hello!", actor="a",
                     now=now)  # fmt: skip
    cases = [
        ("", "text", "empty_title", "title"),
        ("x" * 121, "text", "title_too_long", "title"),
        ("Other", "   ", "empty_body", "body"),
        ("Other", "Hi {{ first_name ", "template.syntax", "body"),
        ("hello", "Hi", "saved_reply_exists", "title"),
    ]
    for title, body, code, field in cases:
        with pytest.raises(UserError) as refused:
            save_saved_reply(engine, workspace, reply_id=None, title=title, body=body, actor="a",
                             now=now)  # fmt: skip
        assert (refused.value.problem.code, refused.value.problem.field) == (code, field), title
    assert [r["title"] for r in list_saved_replies(engine, workspace)] == ["Hello"]


def test_another_workspaces_saved_reply_and_ticket_are_not_found(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    ticket, _contact = open_ticket(engine, settings, workspace, now)
    other = create_workspace(engine, "Other", "PL", "Europe/Warsaw", actor="t", now=now)
    theirs = save_saved_reply(engine, other, reply_id=None, title="Theirs", body="Hi", actor="t",
                              now=now)  # fmt: skip
    mine = save_saved_reply(engine, workspace, reply_id=None, title="Mine", body="Hi", actor="t",
                            now=now)  # fmt: skip
    for call in (
        lambda: get_saved_reply(engine, workspace, theirs),
        lambda: delete_saved_reply(engine, workspace, theirs, actor="t", now=now),
        lambda: fill_saved_reply(engine, workspace, theirs, ticket),
        lambda: fill_saved_reply(engine, other, theirs, ticket),
    ):
        with pytest.raises(UserError) as refused:
            call()
        assert refused.value.problem.code in ("unknown_saved_reply", "unknown_ticket")
    assert fill_saved_reply(engine, workspace, mine, ticket) == "Hi"
    assert [r["title"] for r in list_saved_replies(engine, other)] == ["Theirs"]
