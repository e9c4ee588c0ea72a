"""Response analysis: how people answered, per campaign, per keyword and per number.

Counts come from `inbound_routes` (each inbound text, its route, rule and the
campaign it answers) and the campaign's own sent messages, so a report reflects
what was actually received, including texts that were set aside.
"""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, distinct, func, select

from smscast.engine.numbers import number_by_text
from smscast.engine.workspaces import WorkspaceRef
from smscast.store.inbound_models import InboundRoute, KeywordRule
from smscast.store.messaging_models import Campaign, Message
from smscast.store.models import table_of

routes = table_of(InboundRoute)
rules = table_of(KeywordRule)
messages = table_of(Message)
campaigns = table_of(Campaign)
OPT_OUT_ROUTES = ("opt_out",)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def campaign_response(conn: Connection, campaign_id: int) -> dict[str, Any]:
    """Replies, unique responders, response and opt-out rates, median time to first reply."""
    sent_at = dict(
        conn.execute(
            select(messages.c.contact_id, func.min(messages.c.sent_at))
            .where(
                messages.c.campaign_id == campaign_id,
                messages.c.direction == "out",
                messages.c.sent_at.is_not(None),
            )
            .group_by(messages.c.contact_id)
        ).all()
    )
    rows = conn.execute(
        select(routes.c.contact_id, routes.c.route, routes.c.received_at)
        .where(routes.c.campaign_id == campaign_id)
        .order_by(routes.c.received_at)
    ).all()
    first: dict[int, datetime] = {}
    opted_out: set[int] = set()
    for contact_id, route, received_at in rows:
        first.setdefault(contact_id, received_at)
        if route in OPT_OUT_ROUTES:
            opted_out.add(contact_id)
    delays = [
        (received - sent_at[cid]).total_seconds()
        for cid, received in first.items()
        if cid in sent_at and received >= sent_at[cid]
    ]
    name = conn.execute(select(campaigns.c.name).where(campaigns.c.id == campaign_id)).scalar()
    return {
        "campaign_id": campaign_id,
        "name": name,
        "sent": len(sent_at),
        "replies": len(rows),
        "unique_responders": len(first),
        "response_rate": _rate(len(first), len(sent_at)),
        "opt_outs": len(opted_out),
        "opt_out_rate": _rate(len(opted_out), len(sent_at)),
        "median_first_reply_s": statistics.median(delays) if delays else None,
    }


def keyword_response(conn: Connection, number_id: int) -> list[dict[str, Any]]:
    """Hits and unique senders of each keyword rule of a number (the default rule too)."""
    rows = conn.execute(
        select(
            rules.c.id,
            rules.c.keyword,
            rules.c.campaign_id,
            func.count(routes.c.message_id),
            func.count(distinct(routes.c.contact_id)),
        )
        .outerjoin(routes, routes.c.rule_id == rules.c.id)
        .where(rules.c.number_id == number_id)
        .group_by(rules.c.id, rules.c.keyword, rules.c.campaign_id)
        .order_by(rules.c.id)
    )
    return [
        {
            "rule_id": rule_id,
            "keyword": keyword if keyword is not None else "(default)",
            "campaign_id": campaign_id,
            "hits": hits,
            "unique_senders": unique,
        }
        for rule_id, keyword, campaign_id, hits, unique in rows
    ]


def number_report(engine: Engine, workspace: WorkspaceRef, raw_number: str) -> dict[str, Any]:
    """Inbound volume by route, keyword hits, and the response to each campaign sent from
    (or answered on) the number."""
    with engine.connect() as conn:
        number = number_by_text(conn, workspace, raw_number)
        by_route: dict[str, int] = dict(
            conn.execute(
                select(routes.c.route, func.count())
                .where(routes.c.number_id == number.id)
                .group_by(routes.c.route)
            ).all()
        )
        senders = conn.execute(
            select(func.count(distinct(routes.c.contact_id))).where(routes.c.number_id == number.id)
        ).scalar_one()
        campaign_ids = sorted(
            set(
                conn.execute(
                    select(campaigns.c.id).where(campaigns.c.number_id == number.id)
                ).scalars()
            )
            | set(
                conn.execute(
                    select(routes.c.campaign_id)
                    .distinct()
                    .where(routes.c.number_id == number.id, routes.c.campaign_id.is_not(None))
                ).scalars()
            )
        )
        return {
            "number": number.number,
            "kind": number.kind,
            "inbound": sum(by_route.values()),
            "unique_senders": senders,
            "by_route": dict(sorted(by_route.items())),
            "keywords": keyword_response(conn, number.id),
            "campaigns": [campaign_response(conn, cid) for cid in campaign_ids],
        }
