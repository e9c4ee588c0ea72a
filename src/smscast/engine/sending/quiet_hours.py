"""Texts held by quiet hours: how many wait and until when, and re-timing them when the
hours change.

Wherever quiet hours move a text (at launch, or at dispatch when it would land in
them), `messages.due_at` keeps when it was due and `send_after` when it may go.
From those two columns a report says who waits, and a change of the workspace's
quiet hours re-times the texts still waiting from when they were due, in each
recipient's zones as launch and dispatch pick them: the contact's own (else the
workspace's) and the one its number implies.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from smscast.core.campaign_rules import CampaignRules
from smscast.core.errors import UserError
from smscast.core.phones import timezone_for_phone
from smscast.core.schedule import QuietHours, retime, zone_of
from smscast.store.bulk import DriverValues
from smscast.store.driver_sql import execute_many
from smscast.store.messaging_models import Message
from smscast.store.models import Contact, table_of

messages = table_of(Message)
contacts = table_of(Contact)

#: Queued texts re-timed per read when quiet hours change.
RETIME_BATCH = 5000
WAITING_COLUMNS = (
    messages.c.id, messages.c.phone, messages.c.purpose, messages.c.kind, messages.c.due_at,
    messages.c.send_after,
)  # fmt: skip


def quiet_hours_wait(message: Any, now: datetime) -> dict[str, Any] | None:
    """Why one message waits, if quiet hours hold it: {"due_at", "until"}, else None.

    `message` is any row with `status`, `due_at` and `send_after` (`messages show`).
    """
    if message.status != "queued" or message.due_at is None or message.send_after is None:
        return None
    if message.send_after <= now:
        return None
    return {"due_at": message.due_at.isoformat(), "until": message.send_after.isoformat()}


def campaign_quiet_hours_wait(conn: Connection, campaign_id: int, now: datetime) -> dict[str, Any]:
    """How many of a campaign's texts wait for quiet hours to end, and until when the
    last of them waits (None when none does); one query on the campaign's index."""
    count, until = conn.execute(
        select(func.count(), func.max(messages.c.send_after)).where(
            messages.c.campaign_id == campaign_id,
            messages.c.status == "queued",
            messages.c.due_at.is_not(None),
            messages.c.send_after > now,
        )
    ).one()
    return {"count": int(count), "until": until.isoformat() if until is not None else None}


def retime_waiting(
    conn: Connection, workspace_id: int, workspace_zone: str, rules: CampaignRules, now: datetime
) -> int:
    """Re-times the workspace's queued texts that quiet hours moved, under `rules`;
    returns how many changed. Runs in the caller's transaction (the settings change).

    A text goes at its due time when the new hours allow it then (or at once if that
    has passed); else at the first allowed moment from then (or now). Texts a retry
    put back (error code other than quiet hours) keep their backoff.
    """
    driver = DriverValues(conn)
    changed = 0
    after = 0
    while True:
        rows = conn.execute(
            select(*WAITING_COLUMNS, contacts.c.timezone)
            .select_from(messages.outerjoin(contacts, contacts.c.id == messages.c.contact_id))
            .where(
                messages.c.workspace_id == workspace_id,
                messages.c.status == "queued",
                messages.c.due_at.is_not(None),
                (messages.c.error_code.is_(None)) | (messages.c.error_code == "quiet_hours"),
                messages.c.id > after,
            )
            .order_by(messages.c.id)
            .limit(RETIME_BATCH)
        ).all()
        if not rows:
            return changed
        after = rows[-1].id
        updates = []
        for row in rows:
            quiet = rules.quiet if _keeps_quiet_hours(row, rules) else QuietHours.off()
            zones = _zones(row.timezone, row.phone, workspace_zone)
            send_after, due_at = retime(row.due_at, now, zones, quiet)
            if send_after != row.send_after or due_at != row.due_at:
                moved = None if due_at is None else driver.moment(due_at)
                updates.append((driver.moment(send_after), moved, row.id))
        execute_many(
            conn,
            "UPDATE messages SET send_after = ?, due_at = ? WHERE id = ? AND status = 'queued'",
            updates,
        )
        changed += len(updates)


def _keeps_quiet_hours(row: Any, rules: CampaignRules) -> bool:
    """As at dispatch: promotional texts and campaign texts keep quiet hours (unless the
    workspace exempts informational ones); replies to someone who wrote do not."""
    may_be_quiet = row.purpose == "promotional" or row.kind == "campaign"
    return may_be_quiet and rules.quiet_applies(row.purpose)


def _zones(own: str | None, phone: str, workspace_zone: str) -> tuple[str, ...]:
    """The contact's zone (the workspace's when it has none or an unknown one) and the
    zone its number implies, as launch takes them."""
    zone = own or workspace_zone
    try:
        zone_of(zone)
    except UserError:
        zone = workspace_zone
    by_number = timezone_for_phone(phone, zone)
    return (zone,) if by_number == zone else (zone, by_number)
