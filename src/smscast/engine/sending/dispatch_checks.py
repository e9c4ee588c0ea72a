"""The last look before a message leaves: validity, consent and quiet hours, at dispatch.

Launch checked consent and timing when it queued the message, but minutes or
hours may have passed: an opt-out that arrived since stops the messages still
queued for that contact, and a promotional message delayed (retries, a backlog,
a paused campaign resumed late) into the recipient's quiet hours waits for morning.

Consent is the message's channel's: a STOP by SMS stops SMS, an email's unsubscribe
link stops email. An address that bounced or complained is never sent to again, and a
WhatsApp text that is not an approved template goes only inside the 24 hours after
the person last wrote (the customer-service window): outside it, it fails with
`outside_window` and a campaign's chain falls back to its next channel.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, select

from smscast.core.campaign_rules import CampaignRules, rules_from_settings
from smscast.core.channels import Channel, within_service_window
from smscast.core.consent import Purpose, Status, may_send
from smscast.core.errors import UserError
from smscast.core.phones import timezone_for_phone
from smscast.core.schedule import next_allowed_time_in_zones
from smscast.engine.sending.outbox import Claimed
from smscast.engine.tally import read_moment
from smscast.store.bulk import select_in
from smscast.store.messaging_models import Message
from smscast.store.models import Contact, Workspace, table_of

contacts = table_of(Contact)
inbound = table_of(Message)
workspaces = table_of(Workspace)

#: Kinds that answer the person's own request (HELP, the STOP confirmation, the
#: double opt-in prompt): consent rules for marketing do not stop them. The STOP
#: confirmation is kind "confirm" and goes to someone who has just opted out.
COMPLIANCE_KINDS = frozenset({"help", "confirm"})

OUTSIDE_WINDOW = (
    "free text outside the 24-hour window after the person's last message: "
    "send an approved template"
)
Held = tuple[Claimed, str, str, str | None, datetime | None]


def rules_of(settings: dict[str, Any] | None) -> CampaignRules:
    """The workspace's campaign rules (quiet hours as launch reads them); defaults when
    its settings are unreadable, so a typo there never stops sending altogether."""
    try:
        return rules_from_settings(settings or {})
    except UserError:
        return CampaignRules()


def check_before_sending(
    conn: Connection, claimed: Sequence[Claimed], now: datetime
) -> tuple[list[Claimed], list[Held]]:
    """Splits claimed messages into those to hand to the connector now and those held
    back, with the status each held one takes (see `outbox.settle_unsendable`)."""
    held: list[Held] = []
    alive: list[Claimed] = []
    for message in claimed:
        if message.deadline < now:
            held.append((message, "expired", "validity_ended", "validity ended in the queue", None))
        else:
            alive.append(message)
    checked = [m for m in alive if m.kind not in COMPLIANCE_KINDS]
    by_phone = _contacts_by_phone(conn, [m for m in checked if m.contact_id is None])
    contact_of = {
        m.id: m.contact_id if m.contact_id is not None else by_phone.get((m.workspace_id, m.phone))
        for m in checked
    }
    consent = _consent(conn, {c for c in contact_of.values() if c is not None})
    blocked: set[int] = set()
    for message in checked:
        contact_id = contact_of[message.id]
        purpose = Purpose.PROMOTIONAL if message.purpose == "promotional" else Purpose.INFORMATIONAL
        key = (contact_id or -1, message.channel, purpose.value)
        status = None if contact_id is None else consent.get(key)
        if not may_send(status, purpose):
            code = "opted_out" if status == Status.OPTED_OUT else "no_consent"
            why = (f"consent for {purpose.value} {message.channel} messages: "
                   f"{status or 'none given'} at dispatch")  # fmt: skip
            if contact_id is None:
                why = f"no opt-in on record for {message.phone} at dispatch"
            held.append((message, "cancelled", code, why, None))
            blocked.add(message.id)
    for message, code, why in _refused_addresses(conn, [m for m in alive if m.id not in blocked],
                                                 now):  # fmt: skip
        held.append((message, "failed", code, why, None))
        blocked.add(message.id)
    timed = [m for m in alive if m.id not in blocked and _may_be_quiet(m)]
    for message, until in _quiet(conn, timed, now):
        held.append((message, "queued", "quiet_hours", "held until quiet hours end", until))
        blocked.add(message.id)
    return [m for m in alive if m.id not in blocked], held


def _contacts_by_phone(conn: Connection, unlinked: list[Claimed]) -> dict[tuple[int, str], int]:
    """The contacts of texts queued without one (API sends, answers to new senders), by
    (workspace, phone): consent belongs to the person, however the text was queued.

    A phone without a contact, an erased person's included, has no opt-in on record.
    One query per workspace in the batch; campaign texts are always linked, so the
    busy path never runs it.
    """
    phones: dict[int, set[str]] = {}
    for message in unlinked:
        phones.setdefault(message.workspace_id, set()).add(message.phone)
    found: dict[tuple[int, str], int] = {}
    for workspace_id, wanted in phones.items():
        rows = select_in(
            conn,
            f"SELECT id, phone FROM contacts WHERE workspace_id = {int(workspace_id)} AND phone IN",
            sorted(wanted),
        )
        found.update({(workspace_id, phone): contact_id for contact_id, phone in rows})
    return found


def _consent(conn: Connection, contact_ids: set[int]) -> dict[tuple[int, str, str], Status]:
    if not contact_ids:
        return {}
    # FOR SHARE on PostgreSQL: an opt-out committing while this claim is open waits
    # for it, so no message passes this check after the opt-out was recorded. SQLite
    # needs nothing: the claim already holds the only write lock. Plain SQL: built
    # with SQLAlchemy this query cost more than itself on every dispatcher step.
    share = "FOR SHARE" if conn.dialect.name == "postgresql" else ""
    rows = select_in(
        conn,
        "SELECT contact_id, channel, purpose, status FROM consent_states WHERE contact_id IN",
        sorted(contact_ids),
        tail=share,
    )
    return {
        (contact_id, channel, purpose): Status(status)
        for contact_id, channel, purpose, status in rows
    }


def _refused_addresses(
    conn: Connection, messages: list[Claimed], now: datetime
) -> list[tuple[Claimed, str, str]]:
    """Messages to a suppressed address, and WhatsApp free texts outside the window.

    Both fail (not cancel): the person did not say no, the channel cannot carry it, so
    a campaign's chain moves on to its next channel.
    """
    refused: list[tuple[Claimed, str, str]] = []
    addressed = [m for m in messages if m.channel != Channel.SMS]
    if not addressed:
        return refused
    suppressed: set[tuple[int, str, str]] = set()
    for workspace_id in sorted({m.workspace_id for m in addressed}):
        mine = sorted({m.recipient for m in addressed if m.workspace_id == workspace_id})
        rows = select_in(
            conn,
            "SELECT channel, address FROM suppressed_addresses "
            f"WHERE workspace_id = {int(workspace_id)} AND address IN",
            mine,
        )
        suppressed.update((workspace_id, channel, address) for channel, address in rows)
    free_texts = [
        m for m in addressed
        if m.channel == Channel.WHATSAPP and not (m.payload or {}).get("template")
    ]  # fmt: skip
    last_heard = _last_inbound(conn, free_texts)
    for message in addressed:
        if (message.workspace_id, message.channel, message.recipient) in suppressed:
            refused.append((message, "suppressed",
                            f"{message.recipient} is suppressed on {message.channel}"))  # fmt: skip
        elif message in free_texts and not within_service_window(
            last_heard.get(message.contact_id or -1), now
        ):
            refused.append((message, "outside_window", OUTSIDE_WINDOW))
    return refused


def _last_inbound(conn: Connection, messages: list[Claimed]) -> dict[int, datetime]:
    """When each contact last wrote to us on WhatsApp."""
    contact_ids = sorted({m.contact_id for m in messages if m.contact_id is not None})
    if not contact_ids:
        return {}
    rows = conn.execute(
        select(inbound.c.contact_id, func.max(inbound.c.created_at))
        .where(
            inbound.c.contact_id.in_(bindparam("ids", expanding=True)),
            inbound.c.direction == "in",
            inbound.c.channel == Channel.WHATSAPP.value,
        )
        .group_by(inbound.c.contact_id),
        {"ids": contact_ids},
    )
    heard = {contact_id: read_moment(at) for contact_id, at in rows}
    return {contact_id: at for contact_id, at in heard.items() if at is not None}


def _may_be_quiet(message: Claimed) -> bool:
    """Promotional texts, and campaign texts of any purpose, keep quiet hours; replies
    to someone who just wrote to us do not."""
    return message.purpose == "promotional" or message.kind == "campaign"


def _quiet(conn: Connection, timed: list[Claimed], now: datetime) -> list[tuple[Claimed, datetime]]:
    """Messages that would now land in quiet hours, with the moment they may go.

    The zones are the contact's own and the one its number implies, as at launch.
    """
    if not timed:
        return []
    workspace_rows = conn.execute(
        select(workspaces.c.id, workspaces.c.settings, workspaces.c.timezone).where(
            workspaces.c.id.in_(bindparam("ids", expanding=True))
        ),
        {"ids": sorted({m.workspace_id for m in timed})},
    ).all()
    workspace_of = {row.id: (rules_of(row.settings), row.timezone) for row in workspace_rows}
    # Only where quiet hours apply are the contacts' own zones read: a workspace
    # without them (or a batch they do not concern) costs one small query a step.
    timed = [
        m for m in timed
        if (rules := workspace_of[m.workspace_id][0]).quiet.enabled
        and rules.quiet_applies(m.purpose, m.channel)
    ]  # fmt: skip
    contact_ids = sorted({m.contact_id for m in timed if m.contact_id is not None})
    own_zone: dict[int, str] = dict(
        select_in(conn, "SELECT id, timezone FROM contacts WHERE id IN", contact_ids)
    )
    late = []
    for message in timed:
        rules, workspace_zone = workspace_of[message.workspace_id]
        own = own_zone.get(message.contact_id or -1) or workspace_zone
        by_number = timezone_for_phone(message.phone, own)
        zones = (own,) if by_number == own else (own, by_number)
        try:
            allowed = next_allowed_time_in_zones(now, zones, rules.quiet)
        except UserError:
            allowed = next_allowed_time_in_zones(now, (workspace_zone,), rules.quiet)
        if allowed > now:
            late.append((message, allowed))
    return late
