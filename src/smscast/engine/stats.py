"""Campaign counters in hourly buckets, and the report that sums them.

Every part of the system that changes what a campaign achieved (launch, dispatcher,
delivery reports, clicks, replies, opt-outs, redemptions) adds its change to the
bucket of the hour it happened in, inside its own transaction. A report then sums
a few hundred rows instead of counting tens of millions of messages.

`queued` is a level, not an event count: launch adds to it, and whoever moves a
message out of `queued` (sent, failed, expired, cancelled) subtracts one. `parts`
and `cost` count what was handed to carriers, so the dispatcher adds them on send.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.dialects import postgresql, sqlite

from smscast.core.errors import UserError
from smscast.engine.sending.quiet_hours import campaign_quiet_hours_wait
from smscast.store.campaign_models import COUNTERS, EXCLUSION_REASONS, CampaignStats
from smscast.store.messaging_models import Campaign, Message
from smscast.store.models import table_of

campaign_stats = table_of(CampaignStats)
campaigns = table_of(Campaign)
messages = table_of(Message)
FIELDS = (*COUNTERS, "cost")
log = logging.getLogger(__name__)


def hour_of(at: datetime) -> datetime:
    """The bucket a moment falls in: its UTC hour."""
    return at.replace(minute=0, second=0, microsecond=0)


def bump_campaign_stats(
    conn: Connection, campaign_id: int, at: datetime, **deltas: int | float
) -> None:
    """Adds `deltas` (counter name → change) to the campaign's bucket for the hour of `at`."""
    unknown = set(deltas) - set(FIELDS)
    if unknown:  # a caller's new state must not fail its whole batch: keep the rest
        log.warning("no campaign counter named %s; change not counted", ", ".join(sorted(unknown)))
    changes = {name: value for name, value in deltas.items() if value and name in FIELDS}
    if not changes:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(campaign_stats).values(
        campaign_id=campaign_id,
        hour=hour_of(at),
        **{name: changes.get(name, 0) for name in FIELDS},
    )
    upsert = insert.on_conflict_do_update(
        index_elements=[campaign_stats.c.campaign_id, campaign_stats.c.hour],
        set_={name: campaign_stats.c[name] + insert.excluded[name] for name in changes},
    )
    conn.execute(upsert)


def campaign_totals(conn: Connection, campaign_id: int) -> dict[str, Any]:
    """Every counter summed over the campaign's buckets."""
    sums = [func.coalesce(func.sum(campaign_stats.c[name]), 0).label(name) for name in FIELDS]
    row = (
        conn.execute(select(*sums).where(campaign_stats.c.campaign_id == campaign_id))
        .one()
        ._mapping
    )
    totals: dict[str, Any] = {name: int(row[name]) for name in COUNTERS}
    totals["cost"] = round(float(row["cost"]), 5)
    return totals


def hourly_counts(conn: Connection, campaign_id: int) -> list[dict[str, Any]]:
    """The buckets themselves, oldest first, for charts."""
    rows = conn.execute(
        select(campaign_stats)
        .where(campaign_stats.c.campaign_id == campaign_id)
        .order_by(campaign_stats.c.hour)
    ).all()
    return [
        {"hour": row.hour.isoformat(), **{name: row._mapping[name] for name in FIELDS}}
        for row in rows
    ]


RATES = (
    ("delivery", "delivered", "sent"),
    ("click_through", "unique_clicks", "delivered"),
    ("reply", "replies", "delivered"),
    ("opt_out", "opt_outs", "delivered"),
    ("redemption", "redemptions", "delivered"),
)
"""Each rate as (name, numerator counter, denominator counter). Clicks, replies, opt-outs
and redemptions are measured against the texts that arrived: a text that never reached
anyone cannot be clicked, and counting it would make a bad route look like a bad offer."""


def rate(numerator: int, denominator: int) -> dict[str, Any]:
    """A rate with what it is made of; no value (None) while nothing was counted below it."""
    value = round(numerator / denominator, 4) if denominator else None
    return {"value": value, "numerator": numerator, "denominator": denominator}


def campaign_rates(totals: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The campaign's rates from its summed counters (see `RATES`)."""
    return {name: rate(int(totals[top]), int(totals[bottom])) for name, top, bottom in RATES}


def sending_progress(conn: Connection, campaign: Any) -> dict[str, Any]:
    """Whether the campaign has finished sending, and how many delivery reports it awaits.

    Sending everything is not the end: a campaign completes when each text has its
    delivery report (or expired for want of one). `sending_finished_at` is None while
    a text is still queued or being sent (again, on a recurring campaign's next run or
    an A/B test's second wave); `reports_awaited` counts texts sent and not yet reported.
    """
    in_campaign = messages.c.campaign_id == campaign.id
    sending = conn.execute(
        select(messages.c.id)
        .where(in_campaign, messages.c.status.in_(("queued", "sending")))
        .limit(1)
    ).first()
    awaited = conn.execute(
        select(func.count()).where(in_campaign, messages.c.status == "sent")
    ).scalar_one()
    finished = None if sending is not None else campaign.sending_finished_at
    return {
        "sending_finished_at": finished.isoformat() if finished is not None else None,
        "reports_awaited": int(awaited),
    }


def smart_encoding_summary(totals: dict[str, Any], notes: dict[str, Any] | None) -> dict[str, Any]:
    """How many texts smart encoding changed at launch and which characters it replaced
    (recorded by the launch in the campaign's notes), so no change goes unseen."""
    characters = dict((notes or {}).get("smart_characters") or {})
    return {"changed": int(totals.get("smart_changed", 0)), "characters": characters}


def campaign_report(
    engine: Engine, workspace_id: int, campaign_id: int, *, now: datetime | None = None
) -> dict[str, Any]:
    """What the campaign achieved so far: status, every counter, its rates (each with
    numerator and denominator), exclusions by reason.

    `waiting_for_quiet_hours` counts the texts quiet hours hold at `now` (the clock
    when not given) and says until when the last of them waits.
    """
    with engine.connect() as conn:
        campaign = conn.execute(
            select(campaigns).where(
                campaigns.c.id == campaign_id, campaigns.c.workspace_id == workspace_id
            )
        ).first()
        if campaign is None:
            raise UserError.of(
                "unknown_campaign", f"no campaign with id {campaign_id}", field="campaign"
            )
        totals = campaign_totals(conn, campaign_id)
        progress = sending_progress(conn, campaign)
        hours = hourly_counts(conn, campaign_id)
        waiting = campaign_quiet_hours_wait(conn, campaign_id, now or datetime.now(UTC))
    excluded = {reason: totals.pop(f"excluded_{reason}") for reason in EXCLUSION_REASONS}
    return {
        "id": campaign.id,
        "name": campaign.name,
        "status": campaign.status,
        "purpose": campaign.purpose,
        **progress,
        **totals,
        "rates": campaign_rates(totals),
        "excluded": excluded,
        "excluded_total": sum(excluded.values()),
        "smart_encoding": smart_encoding_summary(totals, campaign.excluded),
        "waiting_for_quiet_hours": waiting,
        "hours": hours,
    }
