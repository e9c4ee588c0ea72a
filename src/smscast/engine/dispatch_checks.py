"""The last look before a message leaves: validity, consent and quiet hours, at dispatch.

Launch checked consent and timing when it queued the message, but minutes or
hours may have passed: an opt-out that arrived since stops the messages still
queued for that contact, and a promotional message delayed (retries, a backlog,
a paused campaign resumed late) into the recipient's quiet hours waits for morning.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select

from smscast.core.consent import Purpose, Status, may_send
from smscast.core.errors import UserError
from smscast.core.schedule import QuietHours, next_allowed_time, parse_clock
from smscast.engine.outbox import Claimed
from smscast.store.messaging_models import Campaign
from smscast.store.models import ConsentState, Contact, Workspace, table_of

states = table_of(ConsentState)
contacts = table_of(Contact)
campaigns = table_of(Campaign)
workspaces = table_of(Workspace)

#: Kinds that answer the person's own request (HELP, the STOP confirmation, the
#: double opt-in prompt): consent rules for marketing do not stop them. The STOP
#: confirmation is kind "confirm" and goes to someone who has just opted out.
COMPLIANCE_KINDS = frozenset({"help", "confirm"})

Held = tuple[Claimed, str, str, str | None, datetime | None]


def quiet_hours_of(*sources: dict[str, Any] | None) -> QuietHours:
    """The first `quiet_hours` ({"start": "21:00", "end": "08:00"}) found in campaign
    schedule, then workspace settings; else the default 21:00-08:00."""
    for source in sources:
        value = (source or {}).get("quiet_hours")
        if isinstance(value, dict) and "start" in value and "end" in value:
            try:
                return QuietHours(parse_clock(str(value["start"])), parse_clock(str(value["end"])))
            except UserError:
                continue
    return QuietHours()


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
    checked = [m for m in alive if m.contact_id is not None and m.kind not in COMPLIANCE_KINDS]
    if not checked:
        return alive, held
    consent = _consent(conn, {m.contact_id for m in checked if m.contact_id is not None})
    blocked: set[int] = set()
    for message in checked:
        assert message.contact_id is not None
        purpose = Purpose.PROMOTIONAL if message.purpose == "promotional" else Purpose.INFORMATIONAL
        status = consent.get((message.contact_id, purpose.value))
        if not may_send(status, purpose):
            code = "opted_out" if status == Status.OPTED_OUT else "no_consent"
            why = f"consent for {purpose.value} texts: {status or 'none given'} at dispatch"
            held.append((message, "cancelled", code, why, None))
            blocked.add(message.id)
    promotional = [m for m in checked if m.purpose == "promotional" and m.id not in blocked]
    for message, until in _quiet(conn, promotional, now):
        held.append((message, "queued", "quiet_hours", "held until quiet hours end", until))
        blocked.add(message.id)
    return [m for m in alive if m.id not in blocked], held


def _consent(conn: Connection, contact_ids: set[int]) -> dict[tuple[int, str], Status]:
    rows = conn.execute(
        select(states.c.contact_id, states.c.purpose, states.c.status).where(
            states.c.channel == "sms",
            states.c.contact_id.in_(bindparam("ids", expanding=True)),
        ),
        {"ids": sorted(contact_ids)},
    ).all()
    return {(row.contact_id, row.purpose): Status(row.status) for row in rows}


def _quiet(
    conn: Connection, promotional: list[Claimed], now: datetime
) -> list[tuple[Claimed, datetime]]:
    if not promotional:
        return []
    zones = dict(
        conn.execute(
            select(contacts.c.id, contacts.c.timezone).where(
                contacts.c.id.in_(bindparam("ids", expanding=True))
            ),
            {"ids": sorted({m.contact_id for m in promotional if m.contact_id is not None})},
        ).all()
    )
    schedules: dict[int, dict[str, Any]] = {}
    campaign_ids = sorted({m.campaign_id for m in promotional if m.campaign_id is not None})
    if campaign_ids:
        schedules = dict(
            conn.execute(
                select(campaigns.c.id, campaigns.c.schedule).where(
                    campaigns.c.id.in_(bindparam("ids", expanding=True))
                ),
                {"ids": campaign_ids},
            ).all()
        )
    workspace_rows = conn.execute(
        select(workspaces.c.id, workspaces.c.settings, workspaces.c.timezone).where(
            workspaces.c.id.in_(bindparam("ids", expanding=True))
        ),
        {"ids": sorted({m.workspace_id for m in promotional})},
    ).all()
    workspace_of = {row.id: row for row in workspace_rows}
    late = []
    for message in promotional:
        workspace = workspace_of[message.workspace_id]
        schedule = schedules.get(message.campaign_id or -1)
        quiet = quiet_hours_of(schedule, workspace.settings)
        zone = zones.get(message.contact_id) or workspace.timezone
        try:
            allowed = next_allowed_time(now, zone, quiet)
        except UserError:
            allowed = next_allowed_time(now, workspace.timezone, quiet)
        if allowed > now:
            late.append((message, allowed))
    return late
