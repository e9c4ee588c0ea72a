"""Who is on a ticket right now, and whether anything on it changed: what an agent's
open ticket page asks every second or two.

An agent typing a reply marks the ticket "replying" until a moment a few seconds ahead;
their page pushes the moment forward while they type, and a closed tab or a pause lets
the mark lapse by itself (nothing has to clear it). `ticket_pulse` answers both
questions of a live page in one small query: the ticket's version — which moves with
its state, assignee, notes, every text on it and every delivery-status change of its
replies, read through the contact's index on `messages`, never a scan of the table —
and who else is replying.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, and_, case, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from smscast.core.errors import UserError
from smscast.engine.accounts.auth import users
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.store.inbound_models import Ticket, TicketNote, TicketPresence
from smscast.store.messaging_models import Message
from smscast.store.models import table_of

tickets = table_of(Ticket)
notes = table_of(TicketNote)
presence = table_of(TicketPresence)
messages = table_of(Message)

REPLYING = "replying"
LASTS = timedelta(seconds=10)
"""How long a "replying" mark holds without being renewed."""

# A number per delivery status: their sum over a ticket's texts changes whenever one of
# them moves on (queued → sending → sent → delivered or failed …).
_STATUS_WEIGHTS = {
    "received": 0, "queued": 1, "sending": 2, "sent": 3, "delivered": 4, "undelivered": 5,
    "failed": 6, "expired": 7, "unknown": 8, "cancelled": 9, "set_aside": 10,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Replying:
    """A member replying on the ticket now."""

    user_id: int
    name: str  # their name, else their email


@dataclass(frozen=True, slots=True)
class Pulse:
    """What a live ticket page compares between two looks."""

    version: str
    replying: tuple[Replying, ...]


def mark_replying(
    engine: Engine, workspace: WorkspaceRef, ticket_id: int, user_id: int, *, now: datetime,
    lasts: timedelta = LASTS,
) -> None:  # fmt: skip
    """Marks `user_id` as replying on the ticket until `now + lasts` (renewed, not
    added, when already marked); lapsed marks of the ticket are cleared on the way."""
    with engine.begin() as conn:
        _check_ticket(conn, workspace, ticket_id)
        conn.execute(delete(presence).where(presence.c.ticket_id == ticket_id,
                                            presence.c.until < now))  # fmt: skip
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        insert = dialect.insert(presence).values(
            ticket_id=ticket_id, user_id=user_id, activity=REPLYING, until=now + lasts
        )
        conn.execute(insert.on_conflict_do_update(
            index_elements=[presence.c.ticket_id, presence.c.user_id],
            set_={"activity": insert.excluded.activity, "until": insert.excluded.until},
        ))  # fmt: skip


def stop_replying(engine: Engine, workspace: WorkspaceRef, ticket_id: int, user_id: int) -> None:
    """Takes the member's mark away at once (their reply is sent)."""
    with engine.begin() as conn:
        _check_ticket(conn, workspace, ticket_id)
        conn.execute(delete(presence).where(presence.c.ticket_id == ticket_id,
                                            presence.c.user_id == user_id))  # fmt: skip


def _check_ticket(conn: Connection, workspace: WorkspaceRef, ticket_id: int) -> None:
    found = conn.execute(
        select(tickets.c.id).where(tickets.c.id == ticket_id,
                                   tickets.c.workspace_id == workspace.id)
    ).first()  # fmt: skip
    if found is None:
        raise UserError.of("unknown_ticket", f"no ticket #{ticket_id}", field="ticket_id")


def ticket_pulse(
    engine: Engine, workspace: WorkspaceRef, ticket_id: int, *, now: datetime
) -> Pulse:
    """The ticket's version and who is replying on it now, in one query.

    The texts are found by the ticket's contact (`ix_messages_contact`) and then by
    ticket, so a look costs the contact's own texts, however large the table is.
    """
    weight = case(_STATUS_WEIGHTS, value=messages.c.status, else_=len(_STATUS_WEIGHTS))
    last_note = select(func.max(notes.c.id)).where(notes.c.ticket_id == tickets.c.id)
    state = (
        select(
            tickets.c.id, tickets.c.updated_at, tickets.c.state, tickets.c.assignee,
            last_note.scalar_subquery().label("last_note"),
            func.count(messages.c.id).label("texts"),
            func.max(messages.c.id).label("last_text"),
            func.coalesce(func.sum(weight), 0).label("statuses"),
            func.count(messages.c.error).label("errors"),
        )
        .select_from(tickets.outerjoin(messages, and_(
            messages.c.contact_id == tickets.c.contact_id, messages.c.ticket_id == tickets.c.id,
        )))
        .where(tickets.c.id == ticket_id, tickets.c.workspace_id == workspace.id)
        .group_by(tickets.c.id, tickets.c.updated_at, tickets.c.state, tickets.c.assignee)
    ).subquery()  # fmt: skip
    query = (
        select(state, presence.c.user_id, users.c.name, users.c.email)
        .select_from(
            state.outerjoin(presence, and_(presence.c.ticket_id == state.c.id,
                                           presence.c.until > now,
                                           presence.c.activity == REPLYING))
            .outerjoin(users, users.c.id == presence.c.user_id)
        )
        .order_by(presence.c.user_id)
    )  # fmt: skip
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    if not rows:
        raise UserError.of("unknown_ticket", f"no ticket #{ticket_id}", field="ticket_id")
    first = rows[0]
    version = "|".join(str(part) for part in (
        first.updated_at.isoformat(), first.state, first.assignee or "", first.last_note or 0,
        first.texts, first.last_text or 0, first.statuses, first.errors,
    ))  # fmt: skip
    replying = tuple(
        Replying(int(row.user_id), row.name or row.email) for row in rows if row.user_id is not None
    )
    return Pulse(version, replying)


def who_is_replying(
    engine: Engine, workspace: WorkspaceRef, ticket_id: int, *, now: datetime
) -> tuple[Replying, ...]:
    """The members replying on the ticket now (their marks not lapsed)."""
    return ticket_pulse(engine, workspace, ticket_id, now=now).replying
