"""Support tickets: one conversation per contact and number, answered by agents.

States: open (the customer waits for us), pending (we wait for the customer),
solved. A text from the customer opens the ticket again, whatever its state; a solved
ticket reopened that way, or by an agent, says so in its thread and in the audit log.
A ticket is assigned to a member of the workspace who may answer tickets, by email.
Agent replies leave through the outbox like every other text, so the thread shows
each reply's delivery status as the dispatcher and the reports move it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, exists, insert, or_, select, update

from smscast.core.encoding import analyse
from smscast.core.errors import UserError
from smscast.core.roles import Permission, allows
from smscast.engine.accounts.audit import record_audit
from smscast.engine.accounts.auth import memberships, users
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.inbound.batch_rows import update_cases
from smscast.engine.inbound.numbers import number_by_text
from smscast.engine.sending.outbox import enqueue_messages
from smscast.engine.webhooks.events import emit_events, load_subscriptions
from smscast.store.bulk import DriverValues, insert_returning
from smscast.store.inbound_models import Ticket, TicketNote
from smscast.store.messaging_models import Message, Number
from smscast.store.models import Contact, table_of

tickets = table_of(Ticket)
notes = table_of(TicketNote)
messages = table_of(Message)
contacts = table_of(Contact)
numbers = table_of(Number)
STATES = ("open", "pending", "solved")
SYSTEM_AUTHOR = "smscast"  # the author of the notes the system writes in a thread
REOPENED_BY_TEXT = "Reopened: the contact texted again after the ticket was solved"


def ticket_for_inbound(
    conn: Connection, workspace_id: int, contact_id: int, number_id: int, text: str, now: datetime,
    channel: str = "sms",
) -> int:  # fmt: skip
    """The contact's ticket on this number, created or (if pending or solved) reopened; its
    channel becomes the one they wrote on."""
    row = conn.execute(
        select(tickets.c.id).where(
            tickets.c.contact_id == contact_id, tickets.c.number_id == number_id
        )
    ).first()
    if row is not None:
        _note_reopened_by_text(conn, workspace_id, {contact_id: int(row.id)}, {contact_id: now})
        conn.execute(
            update(tickets)
            .where(tickets.c.id == row.id)
            .values(
                state="open", solved_at=None, updated_at=now, last_inbound_at=now, channel=channel
            )
        )
        return int(row.id)
    subject = " ".join(text.split())[:200]
    ticket_id = int(conn.execute(
        insert(tickets).values(
            workspace_id=workspace_id, contact_id=contact_id, number_id=number_id, state="open",
            channel=channel,
            assignee=None, subject=subject, created_at=now, updated_at=now,
            last_inbound_at=now, solved_at=None,
        ).returning(tickets.c.id)
    ).scalar_one())  # fmt: skip
    _emit_created(conn, workspace_id, number_id, [(contact_id, ticket_id, subject, now)], now)
    return ticket_id


def tickets_for_inbound(
    conn: Connection,
    workspace_id: int,
    number_id: int,
    texts: list[tuple[int, str, datetime]],
    channel: str = "sms",
) -> dict[int, int]:
    """`ticket_for_inbound` for a batch of (contact, text, received at) on one channel, in
    few statements; returns each contact's ticket id. The ticket's channel becomes that
    one: agents answer where the person last wrote."""
    if not texts:
        return {}
    latest: dict[int, datetime] = {}
    first_text: dict[int, str] = {}
    for contact_id, text, at in texts:
        latest[contact_id] = max(at, latest.get(contact_id, at))
        first_text.setdefault(contact_id, text)
    ids = sorted(latest)
    found: dict[int, int] = {}
    for start in range(0, len(ids), 900):
        existing = conn.execute(
            select(tickets.c.contact_id, tickets.c.id).where(
                tickets.c.number_id == number_id, tickets.c.contact_id.in_(ids[start : start + 900])
            )
        )
        found.update({contact_id: ticket_id for contact_id, ticket_id in existing})
    values = DriverValues(conn)
    stamps = {c: values.moment(at) for c, at in latest.items()}
    if found:
        _note_reopened_by_text(conn, workspace_id, found, latest)
        update_cases(conn, "tickets", "state = 'open', solved_at = NULL, channel = ?", (channel,),
                     ("updated_at", "last_inbound_at"),
                     [(found[c], stamps[c], stamps[c]) for c in found])  # fmt: skip
    new = [c for c in ids if c not in found]
    if new:
        rows = [
            (workspace_id, c, number_id, "open", " ".join(first_text[c].split())[:200],
             stamps[c], stamps[c], stamps[c], channel)
            for c in new
        ]  # fmt: skip
        columns = ("workspace_id", "contact_id", "number_id", "state", "subject", "created_at",
                   "updated_at", "last_inbound_at", "channel")  # fmt: skip
        created = insert_returning(conn, tickets, columns, rows, ("contact_id", "id"))
        found.update({contact_id: ticket_id for contact_id, ticket_id in created})
        _emit_created(
            conn, workspace_id, number_id,
            [(c, found[c], " ".join(first_text[c].split())[:200], latest[c]) for c in new],
            max(latest.values()),
        )  # fmt: skip
    return found


def _note_reopened_by_text(
    conn: Connection, workspace_id: int, found: dict[int, int], latest: dict[int, datetime]
) -> None:
    """Writes, in the routing batch's transaction, a thread note and an audit event for
    each solved ticket a new text reopens: the agent sees why it is back in the inbox."""
    ticket_ids = sorted(found.values())
    solved: set[int] = set()
    for start in range(0, len(ticket_ids), 900):
        solved.update(conn.execute(
            select(tickets.c.id).where(
                tickets.c.id.in_(ticket_ids[start : start + 900]), tickets.c.state == "solved"
            )
        ).scalars())  # fmt: skip
    reopened = [(c, t) for c, t in found.items() if t in solved]
    if not reopened:
        return
    conn.execute(insert(notes), [
        {"ticket_id": t, "author": SYSTEM_AUTHOR, "body": REOPENED_BY_TEXT, "created_at": latest[c]}
        for c, t in reopened
    ])  # fmt: skip
    for contact_id, ticket_id in reopened:
        details = {"by": "inbound text", "contact_id": contact_id}
        record_audit(conn, workspace_id, SYSTEM_AUTHOR, "ticket.reopened", f"#{ticket_id}",
                     details, latest[contact_id])  # fmt: skip


def _emit_created(
    conn: Connection,
    workspace_id: int,
    number_id: int,
    created: list[tuple[int, int, str, datetime]],
    now: datetime,
) -> None:
    """Queues `ticket.created` for subscribers: (contact, ticket, subject, created at)."""
    subscriptions = load_subscriptions(conn)
    if not subscriptions.wants(workspace_id, "ticket.created"):
        return
    items = [
        {"ticket_id": ticket_id, "contact_id": contact_id, "number_id": number_id,
         "subject": subject, "state": "open", "created_at": at.isoformat()}
        for contact_id, ticket_id, subject, at in created
    ]  # fmt: skip
    emit_events(conn, subscriptions, workspace_id, "ticket.created", items, now)


def list_tickets(
    engine: Engine,
    workspace: WorkspaceRef,
    *,
    state: str | None = None,
    assignee: str | None = None,
    search: str | None = None,
    number: str | None = None,
    limit: int = 100,
    before_id: int | None = None,
    contact_id: int | None = None,
    unassigned: bool = False,
    before: tuple[datetime, int] | None = None,
    channel: str | None = None,
) -> list[dict[str, Any]]:
    """Tickets, most recently active first; `search` looks in phones, subjects and texts;
    `channel`: only those whose person last wrote on it.

    Given `before_id` (0 for the first page), newest tickets first instead, older than
    that id: activity reorders tickets between requests, ids never do, so pages stay stable.
    Given `before` (the last shown ticket's `updated_at` and id), the next page in the
    order of activity, as the live inbox pages. `unassigned`: only tickets of nobody.
    """
    if state is not None and state not in STATES:
        raise UserError.of("invalid_state", f'"{state}" is not {", ".join(STATES)}', field="state")
    query = (
        select(tickets, contacts.c.phone, numbers.c.number)
        .join(contacts, contacts.c.id == tickets.c.contact_id)
        .join(numbers, numbers.c.id == tickets.c.number_id)
        .where(tickets.c.workspace_id == workspace.id)
        .limit(limit)
    )
    if before_id is None:
        query = query.order_by(tickets.c.updated_at.desc(), tickets.c.id.desc())
        if before is not None:
            at, last_id = before
            query = query.where(or_(
                tickets.c.updated_at < at, and_(tickets.c.updated_at == at, tickets.c.id < last_id)
            ))  # fmt: skip
    else:
        query = query.order_by(tickets.c.id.desc())
        if before_id:
            query = query.where(tickets.c.id < before_id)
    if state is not None:
        query = query.where(tickets.c.state == state)
    if assignee is not None:
        query = query.where(tickets.c.assignee == assignee.strip().lower())
    if unassigned:
        query = query.where(tickets.c.assignee.is_(None))
    if channel is not None:
        query = query.where(tickets.c.channel == channel)
    if contact_id is not None:  # one person's tickets, as their contact page lists them
        query = query.where(tickets.c.contact_id == contact_id)
    if search:
        pattern = f"%{search}%"
        # Through the contact's index: messages.ticket_id has none (the outbox's inserts
        # stay cheap), and a ticket's texts are all its contact's.
        in_texts = exists().where(
            messages.c.contact_id == tickets.c.contact_id,
            messages.c.ticket_id == tickets.c.id,
            messages.c.body.ilike(pattern),
        )
        query = query.where(or_(
            contacts.c.phone.like(pattern), tickets.c.subject.ilike(pattern), in_texts,
        ))  # fmt: skip
    with engine.connect() as conn:
        if number is not None:
            query = query.where(tickets.c.number_id == number_by_text(conn, workspace, number).id)
        return [_summary(r) for r in conn.execute(query)]


def _summary(row: Any) -> dict[str, Any]:
    return {
        "id": row.id, "state": row.state, "phone": row.phone, "number": row.number,
        "assignee": row.assignee, "subject": row.subject, "updated_at": row.updated_at,
        "created_at": row.created_at, "channel": row.channel,
    }  # fmt: skip


def show_ticket(engine: Engine, workspace: WorkspaceRef, ticket_id: int) -> dict[str, Any]:
    """The ticket and its thread: texts both ways (with delivery status) and notes, in order."""
    with engine.connect() as conn:
        ticket = _ticket(conn, workspace, ticket_id)
        texts = conn.execute(
            select(
                messages.c.id,
                messages.c.direction,
                messages.c.kind,
                messages.c.body,
                messages.c.status,
                messages.c.error,
                messages.c.created_at,
                messages.c.channel,
                messages.c.address,
            )
            # the contact's index first: messages.ticket_id has none
            .where(messages.c.contact_id == ticket.contact_id, messages.c.ticket_id == ticket_id)
            .order_by(messages.c.created_at, messages.c.id)
        ).all()
        note_rows = conn.execute(
            select(notes).where(notes.c.ticket_id == ticket_id).order_by(notes.c.id)
        ).all()
    thread = [
        {"type": "message", "id": m.id, "direction": m.direction, "kind": m.kind, "body": m.body,
         "status": m.status, "error": m.error, "at": m.created_at, "channel": m.channel,
         "address": m.address}
        for m in texts
    ] + [
        {"type": "note", "id": n.id, "author": n.author, "body": n.body, "at": n.created_at}
        for n in note_rows
    ]  # fmt: skip
    thread.sort(key=lambda item: (item["at"], item["type"] == "note", item["id"]))
    return {**_summary(ticket), "thread": thread}


def _ticket(conn: Connection, workspace: WorkspaceRef, ticket_id: int) -> Any:
    row = conn.execute(
        select(tickets, contacts.c.phone, numbers.c.number, numbers.c.connector_id)
        .join(contacts, contacts.c.id == tickets.c.contact_id)
        .join(numbers, numbers.c.id == tickets.c.number_id)
        .where(tickets.c.id == ticket_id, tickets.c.workspace_id == workspace.id)
    ).first()
    if row is None:
        raise UserError.of("unknown_ticket", f"no ticket #{ticket_id}", field="ticket")
    return row


def reply_to_ticket(
    engine: Engine, workspace: WorkspaceRef, ticket_id: int, body: str, *, actor: str,
    now: datetime,
) -> int:  # fmt: skip
    """Queues an agent's answer to the customer on the channel they last wrote on (the
    ticket's), to the address they wrote from; the ticket then waits for them (pending).

    An email answer is "Re:" their subject and names their mail in In-Reply-To, so it
    lands in their thread."""
    if not body.strip():
        raise UserError.of("empty_reply", "the reply is empty", field="body")
    with engine.begin() as conn:
        ticket = _ticket(conn, workspace, ticket_id)
        answer = answer_on_channel(conn, ticket.contact_id, ticket_id, ticket.channel)
        row: dict[str, Any] = {
            "workspace_id": workspace.id, "direction": "out", "kind": "agent_reply",
            "purpose": "informational", "contact_id": ticket.contact_id, "phone": ticket.phone,
            "number_id": ticket.number_id, "connector_id": ticket.connector_id,
            "ticket_id": ticket_id, "body": body, "status": "queued", "send_after": now,
            "created_at": now,
        }  # fmt: skip
        if answer is None:
            info = analyse(body)
            row.update(encoding=info.encoding.value, parts=info.parts)
        else:
            row.update(answer, encoding="UTF-8", parts=1)
        [message_id] = enqueue_messages(conn, [row])
        conn.execute(
            update(tickets).where(tickets.c.id == ticket_id).values(state="pending", updated_at=now)
        )
        record_audit(conn, workspace.id, actor, "ticket.replied", f"#{ticket_id}",
                     {"message_id": message_id}, now)  # fmt: skip
    return int(message_id)


def answer_on_channel(
    conn: Connection, contact_id: int, ticket_id: int, channel: str
) -> dict[str, Any] | None:
    """What an answer on `channel` carries beside the text (channel, address, payload,
    connector), from the person's last message of the ticket on it; None for SMS, or when
    they never wrote on it (the answer then goes by SMS to their phone)."""
    if channel == "sms":
        return None
    last = conn.execute(
        select(messages.c.address, messages.c.payload, messages.c.connector_id)
        .where(messages.c.contact_id == contact_id, messages.c.ticket_id == ticket_id,
               messages.c.direction == "in", messages.c.channel == channel,
               messages.c.address.is_not(None))
        .order_by(messages.c.id.desc())
        .limit(1)
    ).first()  # fmt: skip
    if last is None:
        return None
    return {"channel": channel, "address": last.address, "connector_id": last.connector_id,
            "payload": answer_payload(channel, last.payload or {})}  # fmt: skip


def answer_payload(channel: str, inbound: dict[str, Any]) -> dict[str, Any] | None:
    """An email answer's subject ("Re: " theirs, once) and the Message-ID it answers."""
    if channel != "email":
        return None
    subject = str(inbound.get("subject") or "").strip()
    if not subject.lower().startswith(("re:", "odp:")):
        subject = f"Re: {subject}" if subject else "Re: your message"
    payload: dict[str, Any] = {"subject": subject}
    if inbound.get("message_id"):
        payload["in_reply_to"] = inbound["message_id"]
    return payload


def assign_ticket(
    engine: Engine, workspace: WorkspaceRef, ticket_id: int, assignee: str | None, *,
    actor: str, now: datetime,
) -> None:  # fmt: skip
    """Gives the ticket to a member who may answer tickets (by email, stored in lower
    case as members' emails are), or to nobody with None."""
    with engine.begin() as conn:
        _ticket(conn, workspace, ticket_id)
        if assignee is not None and assignee.strip():
            assignee = _check_assignee(conn, workspace, assignee)
        else:
            assignee = None
        conn.execute(update(tickets).where(tickets.c.id == ticket_id).values(
            assignee=assignee, updated_at=now))  # fmt: skip
        record_audit(conn, workspace.id, actor, "ticket.assigned", f"#{ticket_id}",
                     {"assignee": assignee}, now)  # fmt: skip


def _check_assignee(conn: Connection, workspace: WorkspaceRef, raw: str) -> str:
    """The member's email as stored; refuses anyone who is not an active member of this
    workspace or whose role may not answer tickets (a marketer, a viewer)."""
    email = raw.strip().lower()
    row = conn.execute(
        select(memberships.c.role, users.c.is_active)
        .join(users, users.c.id == memberships.c.user_id)
        .where(memberships.c.workspace_id == workspace.id, users.c.email == email)
    ).first()
    if row is None or not row.is_active:
        raise UserError.of(
            "unknown_assignee", f'"{raw}" is not a member of this workspace (give a member\'s '
            "email)", field="assignee",
        )  # fmt: skip
    if not allows(row.role, Permission.TICKETS_WRITE):
        raise UserError.of(
            "assignee_cannot_answer", f"{email} is a {row.role}, who may not answer tickets "
            "(owners, admins and agents may)", field="assignee",
        )  # fmt: skip
    return email


def reopen_ticket(
    engine: Engine, workspace: WorkspaceRef, ticket_id: int, *, actor: str, now: datetime
) -> None:
    """Opens a solved ticket again (the customer waits for us), noted in its thread."""
    with engine.begin() as conn:
        ticket = _ticket(conn, workspace, ticket_id)
        if ticket.state != "solved":
            raise UserError.of(
                "ticket_not_solved", f"ticket #{ticket_id} is {ticket.state}, not solved",
                field="state",
            )  # fmt: skip
        conn.execute(update(tickets).where(tickets.c.id == ticket_id).values(
            state="open", solved_at=None, updated_at=now))  # fmt: skip
        conn.execute(
            insert(notes).values(
                ticket_id=ticket_id, author=actor, body=f"Reopened by {actor}", created_at=now
            )
        )
        record_audit(conn, workspace.id, actor, "ticket.reopened", f"#{ticket_id}", {}, now)


def solve_ticket(
    engine: Engine, workspace: WorkspaceRef, ticket_id: int, *, actor: str, now: datetime
) -> None:
    with engine.begin() as conn:
        _ticket(conn, workspace, ticket_id)
        conn.execute(update(tickets).where(tickets.c.id == ticket_id).values(
            state="solved", solved_at=now, updated_at=now))  # fmt: skip
        record_audit(conn, workspace.id, actor, "ticket.solved", f"#{ticket_id}", {}, now)


def add_ticket_note(
    engine: Engine, workspace: WorkspaceRef, ticket_id: int, body: str, *, actor: str,
    now: datetime,
) -> int:  # fmt: skip
    """An internal note: for the team only, never texted."""
    if not body.strip():
        raise UserError.of("empty_note", "the note is empty", field="body")
    with engine.begin() as conn:
        _ticket(conn, workspace, ticket_id)
        note_id = conn.execute(insert(notes).values(
            ticket_id=ticket_id, author=actor, body=body, created_at=now,
        ).returning(notes.c.id)).scalar_one()  # fmt: skip
        conn.execute(update(tickets).where(tickets.c.id == ticket_id).values(updated_at=now))
    return int(note_id)
