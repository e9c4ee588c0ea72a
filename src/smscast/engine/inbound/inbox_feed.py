"""The agents' inbox as it changes: what a live list asks on every tick, and its rows.

A live inbox polls `inbox_version()` — one statement over the tickets table's
indexes (`ix_tickets_workspace_updated`, `ix_tickets_workspace_state`), never the
messages table — and reads the rows again (`inbox_tickets()`) only when the version
has moved. Every change an agent or a customer makes to a ticket moves its
`updated_at` (a new text, a reply, a note, an assignment, solving, reopening), so the
latest `updated_at` with the counts of tickets (a ticket erased with its contact
lowers them) tells a changed inbox from an unchanged one.

Each ticket says the channel its person last wrote on (`tickets.channel`: sms, email,
whatsapp, voice), on which the agent's reply goes, and the address there (`address`:
the phone for SMS and voice, the email address, the WhatsApp number). The inbox can be
narrowed to one channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select

from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.inbound.tickets import list_tickets
from smscast.store.inbound_models import Ticket
from smscast.store.messaging_models import Message
from smscast.store.models import Contact, table_of

tickets = table_of(Ticket)
messages = table_of(Message)
contacts = table_of(Contact)
PREVIEW_WORDS = 12  # how much of the last text a row shows


@dataclass(frozen=True, slots=True)
class InboxVersion:
    """What the inbox looks like from afar: equal versions, unchanged tickets."""

    latest: datetime | None  # the last change to any ticket of the workspace
    tickets: int
    open: int  # tickets waiting for an answer: the count in the inbox's title


def inbox_version(engine: Engine, workspace_id: int) -> InboxVersion:
    """The workspace's inbox version, in one statement read from the tickets' indexes."""
    waiting = (
        select(func.count())
        .select_from(tickets)
        .where(tickets.c.workspace_id == workspace_id, tickets.c.state == "open")
        .scalar_subquery()
    )
    query = select(func.max(tickets.c.updated_at), func.count(), waiting).where(
        tickets.c.workspace_id == workspace_id
    )
    with engine.connect() as conn:
        latest, total, open_ = conn.execute(query).one()
    return InboxVersion(latest, int(total), int(open_))


def inbox_tickets(
    engine: Engine,
    workspace: WorkspaceRef,
    *,
    state: str | None = None,
    assignee: str | None = None,
    unassigned: bool = False,
    number: str | None = None,
    search: str | None = None,
    before: tuple[datetime, int] | None = None,
    limit: int = 50,
    channel: str | None = None,
) -> list[dict[str, Any]]:
    """Tickets as the inbox lists them, most recently active first (`list_tickets`, its
    filters and its paging by activity), each with the contact's name (empty if none),
    the first words of the thread's last text and which way it went (`last_direction`:
    "in", "out" or None), when the customer last wrote (`last_inbound_at`), the ticket's
    channel and the person's address on it (`address`). `channel` keeps one channel's."""
    found = _of_channel(engine, workspace, channel, before, limit, dict(
        state=state, assignee=assignee, unassigned=unassigned, number=number, search=search,
    ))  # fmt: skip
    if not found:
        return []
    # The thread's last text, found through the contact's index on messages (a ticket is
    # one contact's): a few rows per ticket, never the whole table.
    last_text = (
        select(messages.c.id)
        .where(messages.c.contact_id == tickets.c.contact_id, messages.c.ticket_id == tickets.c.id)
        .order_by(messages.c.created_at.desc(), messages.c.id.desc())
        .limit(1)
        .correlate(tickets)
        .scalar_subquery()
    )
    # Where the person last wrote from, on the ticket's channel: the address a reply goes to.
    last_address = (
        select(messages.c.address)
        .where(messages.c.contact_id == tickets.c.contact_id, messages.c.ticket_id == tickets.c.id,
               messages.c.direction == "in", messages.c.channel == tickets.c.channel)
        .order_by(messages.c.created_at.desc(), messages.c.id.desc())
        .limit(1)
        .correlate(tickets)
        .scalar_subquery()
    )  # fmt: skip
    query = (
        select(
            tickets.c.id,
            tickets.c.last_inbound_at,
            contacts.c.attributes,
            messages.c.body,
            messages.c.direction,
            contacts.c.email,
            contacts.c.whatsapp,
            last_address.label("last_address"),
        )
        .join(contacts, contacts.c.id == tickets.c.contact_id)
        .outerjoin(messages, messages.c.id == last_text)
        .where(tickets.c.id.in_([row["id"] for row in found]))
    )
    with engine.connect() as conn:
        details = {row.id: row for row in conn.execute(query)}
    rows = []
    for ticket in found:
        detail = details.get(ticket["id"])
        if detail is None:  # erased between the two reads
            continue
        attributes = detail.attributes or {}
        name = " ".join(
            str(attributes.get(key) or "") for key in ("first_name", "last_name")
        ).strip()
        rows.append({
            **ticket,
            "name": name,
            "preview": first_words(detail.body or ticket["subject"]),
            "last_direction": detail.direction,
            "last_inbound_at": detail.last_inbound_at,
            "channel": str(ticket.get("channel") or "sms"),
            "address": address_on(str(ticket.get("channel") or "sms"), ticket["phone"],
                                  detail.email, detail.whatsapp, detail.last_address),
        })  # fmt: skip
    return rows


def address_on(channel: str, phone: str, email: str | None, whatsapp: str | None,
               last_address: str | None) -> str:  # fmt: skip
    """The person's address on a ticket's channel: where they wrote from, else the
    contact's own address for it (the phone for SMS and voice)."""
    if last_address:
        return last_address
    if channel == "email" and email:
        return email
    if channel == "whatsapp":
        return whatsapp or phone
    return phone


"""Tickets read at a time while looking for one channel's."""


def _of_channel(engine: Engine, workspace: WorkspaceRef, channel: str | None,
                before: tuple[datetime, int] | None, limit: int,
                filters: dict[str, Any]) -> list[dict[str, Any]]:  # fmt: skip
    """`list_tickets` with its filters and, when asked, one channel's tickets only."""
    return list_tickets(engine, workspace, before=before, limit=limit, channel=channel,
                        **filters)  # fmt: skip


def first_words(text: str, words: int = PREVIEW_WORDS) -> str:
    """The first `words` words of `text` on one line, with "…" when there is more."""
    parts = text.split()
    shown = " ".join(parts[:words])
    return shown + "…" if len(parts) > words else shown
