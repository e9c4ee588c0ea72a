"""Saved replies: an agent's canned answers, filled in for the contact of a ticket.

A saved reply is a message template in the language campaigns use (`core.templates`):
`{{ first_name }}` and the contact's other attributes, their phone, country, language,
time zone and email. It is checked when it is saved (a syntax error names its line and
column) and filled in when an agent picks it for a ticket; a value the contact lacks is
an error naming the variable, never an empty gap in the text. Writes are audited.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from smscast.core.errors import UserError
from smscast.core.templates import compile_template, render
from smscast.engine.accounts.audit import record_audit
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.store.inbound_models import SavedReply, Ticket
from smscast.store.models import Contact, table_of

saved_replies = table_of(SavedReply)
tickets = table_of(Ticket)
contacts = table_of(Contact)

TITLE_LIMIT = 120
BODY_LIMIT = 2000
SHOWN = ("id", "title", "body", "created_by", "created_at", "updated_at")


def list_saved_replies(engine: Engine, workspace: WorkspaceRef) -> list[dict[str, Any]]:
    """The workspace's saved replies by title."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(*(saved_replies.c[c] for c in SHOWN))
            .where(saved_replies.c.workspace_id == workspace.id)
            .order_by(saved_replies.c.title, saved_replies.c.id)
        ).all()
    return [dict(row._mapping) for row in rows]


def get_saved_reply(engine: Engine, workspace: WorkspaceRef, reply_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        return _saved_reply(conn, workspace, reply_id)


def _saved_reply(conn: Connection, workspace: WorkspaceRef, reply_id: int) -> dict[str, Any]:
    row = conn.execute(
        select(*(saved_replies.c[c] for c in SHOWN)).where(
            saved_replies.c.id == reply_id, saved_replies.c.workspace_id == workspace.id
        )
    ).first()
    if row is None:
        raise UserError.of(
            "unknown_saved_reply", f"no saved reply #{reply_id}", field="saved_reply_id"
        )
    return dict(row._mapping)


def _checked(title: str, body: str) -> tuple[str, str]:
    """The title and body as stored, or the first thing wrong with them."""
    title = " ".join(title.split())
    if not title:
        raise UserError.of("empty_title", "the saved reply has no title", field="title")
    if len(title) > TITLE_LIMIT:
        raise UserError.of(
            "title_too_long", f"a title has at most {TITLE_LIMIT} characters", field="title"
        )
    body = body.strip()
    if not body:
        raise UserError.of("empty_body", "the saved reply has no text", field="body")
    if len(body) > BODY_LIMIT:
        raise UserError.of(
            "body_too_long", f"a saved reply has at most {BODY_LIMIT} characters", field="body"
        )
    try:
        compile_template(body)
    except UserError as error:  # said of the body, whatever the template names
        raise UserError(replace(error.problem, field="body")) from None
    return title, body


def save_saved_reply(
    engine: Engine, workspace: WorkspaceRef, *, reply_id: int | None, title: str, body: str,
    actor: str, now: datetime,
) -> int:  # fmt: skip
    """Adds a saved reply (`reply_id` None) or changes one; a title already used by
    another saved reply of the workspace is refused, not replaced."""
    title, body = _checked(title, body)
    try:
        with engine.begin() as conn:
            _check_title_free(conn, workspace, title, reply_id)
            if reply_id is None:
                reply_id = int(conn.execute(
                    insert(saved_replies).values(
                        workspace_id=workspace.id, title=title, body=body, created_by=actor,
                        created_at=now, updated_at=now,
                    ).returning(saved_replies.c.id)
                ).scalar_one())  # fmt: skip
                action = "saved_reply.created"
            else:
                _saved_reply(conn, workspace, reply_id)
                conn.execute(
                    update(saved_replies)
                    .where(saved_replies.c.id == reply_id)
                    .values(title=title, body=body, updated_at=now)
                )
                action = "saved_reply.changed"
            record_audit(conn, workspace.id, actor, action, f"saved reply #{reply_id}",
                         {"title": title}, now)  # fmt: skip
    except IntegrityError:  # the same title saved at the same moment by someone else
        raise _title_taken(title) from None
    return reply_id


def _check_title_free(
    conn: Connection, workspace: WorkspaceRef, title: str, reply_id: int | None
) -> None:
    """Titles are told apart as people read them: "Returns" and "returns" are one."""
    query = select(saved_replies.c.id).where(
        saved_replies.c.workspace_id == workspace.id,
        func.lower(saved_replies.c.title) == title.lower(),
    )
    if reply_id is not None:
        query = query.where(saved_replies.c.id != reply_id)
    if conn.execute(query).first() is not None:
        raise _title_taken(title)


def _title_taken(title: str) -> UserError:
    return UserError.of(
        "saved_reply_exists", f'another saved reply is called "{title}"', field="title"
    )


def delete_saved_reply(
    engine: Engine, workspace: WorkspaceRef, reply_id: int, *, actor: str, now: datetime
) -> None:
    with engine.begin() as conn:
        found = _saved_reply(conn, workspace, reply_id)
        conn.execute(delete(saved_replies).where(saved_replies.c.id == reply_id))
        record_audit(conn, workspace.id, actor, "saved_reply.deleted", f"saved reply #{reply_id}",
                     {"title": found["title"]}, now)  # fmt: skip


def fill_saved_reply(engine: Engine, workspace: WorkspaceRef, reply_id: int, ticket_id: int) -> str:
    """The saved reply's text for the contact of `ticket_id`, rendered as a campaign text
    is: the contact's attributes and own fields. A value the contact lacks raises
    `template.missing_value`, naming the variable."""
    with engine.connect() as conn:
        reply = _saved_reply(conn, workspace, reply_id)
        contact = conn.execute(
            select(contacts.c.phone, contacts.c.country, contacts.c.attributes,
                   contacts.c.language, contacts.c.timezone, contacts.c.email)
            .join(tickets, tickets.c.contact_id == contacts.c.id)
            .where(tickets.c.id == ticket_id, tickets.c.workspace_id == workspace.id)
        ).first()  # fmt: skip
    if contact is None:
        raise UserError.of("unknown_ticket", f"no ticket #{ticket_id}", field="ticket_id")
    values: dict[str, Any] = dict(contact.attributes or {})
    values.update(phone=contact.phone, country=contact.country, language=contact.language or "",
                  timezone=contact.timezone, email=contact.email or "")  # fmt: skip
    template = compile_template(reply["body"])
    return render(template, values, language=contact.language or "en").strip()
