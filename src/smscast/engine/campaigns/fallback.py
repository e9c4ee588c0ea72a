"""Fallback from one channel of a campaign's chain to the next: one pass a second.

A campaign on `whatsapp,sms` writes each person's first usable step at launch, with
the later steps already rendered in `payload["next"]` and `fallback_at` set to the
moment the next one takes over (see `recipients.ChainRow`). This pass moves the
chain on for every message that

- ended without reaching the person, at any time: failed (not a WhatsApp user, a
  suppressed address, outside the WhatsApp window, refused by the provider),
  undelivered, expired, or cancelled at dispatch for want of consent on its channel;
- or is still not delivered at its `fallback_at`: sent (accepted, no delivery report
  yet) or unknown. It is marked `fell_back` (error code) and keeps its status, so a
  delivery report that still comes is recorded: that person then has both messages.
  A message that left later than it was due (a backlog, quiet hours) gets the whole
  delay from when it was sent: its `fallback_at` moves on to that moment.

Still queued or being sent, a message never falls back: it has not had its chance.
A delivered one, or one cancelled for another reason (the campaign was cancelled),
only has its `fallback_at` cleared.

"At most one message of the chain" therefore holds wherever the earlier message is
known not to have arrived: the chain's own refusals (no address, no consent,
suppressed, outside the window) and every failure a provider reports, including
providers that expire the earlier message before the deadline (WhatsApp's own
time-to-live). Where a provider delivers after the deadline, the person gets both;
the report counts that message as delivered and as fallen back.

The next row is written with an INSERT guarded by the unique key (campaign, run,
contact, chain step), in the same transaction as clearing the earlier row's
`fallback_at`: a pass run twice, by two workers or after a crash, never writes a
step twice. Consent, suppression and quiet hours of the next channel are checked at
dispatch, as for any message.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from smscast.engine.sending.routing import Routes, load_routes
from smscast.engine.stats import bump_campaign_stats
from smscast.store.messaging_models import Campaign, Message
from smscast.store.models import table_of

messages = table_of(Message)
campaigns = table_of(Campaign)

ENDED_UNREACHED = ("failed", "undelivered", "expired")
"""Final states in which the message did not reach the person: the next step goes now."""
NO_CONSENT_CODES = ("no_consent", "opted_out")
"""Error codes of a message cancelled at dispatch for want of consent on its channel."""
WAITING = ("sent", "unknown")
"""States in which the message may still arrive: the next step goes at `fallback_at`."""
FELL_BACK = "fell_back"
PASS_LIMIT = 5000
"""Messages handled per pass (a second): a burst of failures is worked off in turns."""


def fall_back_due(engine: Engine, now: datetime, *, limit: int = PASS_LIMIT) -> int:
    """Writes the next step of every chain whose message is due to fall back (see the
    module docstring); returns how many next messages were queued."""
    with engine.begin() as conn:
        return fall_back_in(conn, now, limit=limit)


def fall_back_in(conn: Connection, now: datetime, *, limit: int = PASS_LIMIT) -> int:
    """`fall_back_due` in the caller's transaction."""
    rows = _due(conn, now, limit)
    if not rows:
        return 0
    settings = _campaigns(conn, {row.campaign_id for row in rows})
    routes: dict[int, Routes] = {}
    new_rows: list[dict[str, Any]] = []
    fell_back: list[int] = []
    later: list[dict[str, Any]] = []
    for row in rows:
        options, status = settings.get(row.campaign_id, ({}, "cancelled"))
        steps = list((row.payload or {}).get("next") or ())
        if not steps or status == "cancelled" or row.contact_id is None:
            continue
        if row.status in WAITING:
            deadline = _deadline(row, options)
            if deadline > now:  # sent late (a backlog, quiet hours): its own full delay
                later.append({"message_id": row.id, "deadline": deadline})
                continue
            fell_back.append(row.id)
        elif not _ended_unreached(row):  # delivered, or cancelled with the campaign
            continue
        if row.workspace_id not in routes:
            routes[row.workspace_id] = load_routes(conn, row.workspace_id)
        new_rows.append(_next_row(row, steps, options, routes[row.workspace_id], now))
    queued = _insert_next(conn, new_rows)
    waiting = {entry["message_id"] for entry in later}
    done = [row.id for row in rows if row.id not in waiting]
    if done:
        conn.execute(update(messages).where(messages.c.id.in_(done)).values(fallback_at=None))
    if later:
        conn.execute(
            update(messages)
            .where(messages.c.id == bindparam("message_id"))
            .values(fallback_at=bindparam("deadline")),
            later,
        )
    if fell_back:
        conn.execute(
            update(messages)
            .where(messages.c.id.in_(fell_back), messages.c.status.in_(WAITING))
            .values(error_code=FELL_BACK,
                    error="not delivered in time: the campaign's next channel took over")
        )  # fmt: skip
    for campaign_id, count in queued.items():
        bump_campaign_stats(conn, campaign_id, now, queued=count)
    return sum(queued.values())


def _due(conn: Connection, now: datetime, limit: int) -> Sequence[Any]:
    """Messages whose chain moves on now, or whose `fallback_at` is no longer needed.

    Two reads of the partial index of messages with a `fallback_at`: those that ended
    (any time), those awaiting a report whose moment has come. On PostgreSQL they are
    locked (skipping rows another worker holds), so a delivery report for one of them
    waits for this short transaction instead of racing it.
    """
    columns = (
        messages.c.id, messages.c.workspace_id, messages.c.campaign_id, messages.c.run,
        messages.c.contact_id, messages.c.phone, messages.c.number_id, messages.c.variant_id,
        messages.c.purpose, messages.c.coupon_code, messages.c.status, messages.c.error_code,
        messages.c.payload, messages.c.fallback_at, messages.c.sent_at,
    )  # fmt: skip
    ended = messages.c.status.in_((*ENDED_UNREACHED, "delivered", "cancelled"))
    waited = messages.c.status.in_(WAITING) & (messages.c.fallback_at <= now)
    found: list[Any] = []
    for condition in (ended, waited):
        query = (
            select(*columns)
            .where(condition, messages.c.fallback_at.is_not(None))
            .limit(limit - len(found))
        )
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=messages)
        found.extend(conn.execute(query).all())
        if len(found) >= limit:
            break
    return found


def _deadline(row: Any, options: dict[str, Any]) -> datetime:
    """When a message still awaiting its delivery report falls back: its `fallback_at`
    (due + delay), or the delay counted from when it was sent if it left later than it was
    due, so a message held in a backlog gets the same time to arrive as any other."""
    delay = options.get("fallback_after_s")
    at: datetime = row.fallback_at
    if delay and row.sent_at is not None:
        at = max(at, row.sent_at + timedelta(seconds=int(delay)))
    return at


def _ended_unreached(row: Any) -> bool:
    """Failed, undelivered, expired, or cancelled at dispatch for want of consent on its
    channel: the person did not get it, and the next channel may still reach them."""
    if row.status == "cancelled":
        return row.error_code in NO_CONSENT_CODES
    return row.status in ENDED_UNREACHED


def _campaigns(conn: Connection, ids: set[int]) -> dict[int, tuple[dict[str, Any], str]]:
    found = conn.execute(
        select(campaigns.c.id, campaigns.c.options, campaigns.c.status).where(
            campaigns.c.id.in_(sorted(ids))
        )
    )
    return {row.id: (row.options or {}, row.status) for row in found}


def _next_row(row: Any, steps: list[dict[str, Any]], options: dict[str, Any], routes: Routes,
              now: datetime) -> dict[str, Any]:  # fmt: skip
    step, later = steps[0], steps[1:]
    payload = dict(step.get("payload") or {})
    fallback_at = None
    if later:
        payload["next"] = later
        delay = options.get("fallback_after_s")
        fallback_at = now + timedelta(seconds=int(delay)) if delay else None
    validity = options.get("validity_seconds")
    channel = str(step["channel"])
    number_id, connector_id = routes.route(row.number_id, None, channel)
    return {
        "workspace_id": row.workspace_id, "direction": "out", "kind": "campaign",
        "purpose": row.purpose, "contact_id": row.contact_id, "phone": row.phone,
        "number_id": number_id, "connector_id": connector_id, "campaign_id": row.campaign_id,
        "run": row.run, "variant_id": row.variant_id, "body": step["body"],
        "encoding": step.get("encoding", "UTF-8"), "parts": int(step.get("parts", 1)),
        "parts_done": 0, "cost": step.get("cost", 0), "status": "queued", "send_after": now,
        "valid_until": now + timedelta(seconds=int(validity)) if validity else None,
        "attempts": 0, "coupon_code": row.coupon_code, "link_token": None,
        "national": step.get("national"), "smart_changes": step.get("smart_changes"),
        "created_at": now, "channel": channel, "address": step.get("address"),
        "payload": payload or None, "chain_step": int(step["step"]), "fallback_at": fallback_at,
    }  # fmt: skip


def _insert_next(conn: Connection, rows: list[dict[str, Any]]) -> Counter[int]:
    """INSERTs the next steps; one already written (a pass run twice) is skipped by the
    unique key. Returns the rows written per campaign."""
    written: Counter[int] = Counter()
    if not rows:
        return written
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(messages)
        .on_conflict_do_nothing(
            index_elements=[messages.c.campaign_id, messages.c.run, messages.c.contact_id,
                            messages.c.chain_step]
        )
        .returning(messages.c.campaign_id)
    )  # fmt: skip
    for start in range(0, len(rows), 500):
        result = conn.execute(statement, rows[start : start + 500])
        written.update(int(campaign_id) for campaign_id in result.scalars())
    return written
