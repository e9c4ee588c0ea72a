"""Response analysis: how people answered, per campaign, per keyword and per number.

Counts come from `inbound_routes` (each inbound text, its route, rule and the
campaign it answers) and the campaign's own sent messages, so a report reflects
what was actually received, including texts that were set aside.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, distinct, func, select

from smscast.core.errors import UserError
from smscast.core.router import REPLY_ROUTES
from smscast.core.rule_actions import ActionKind
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.inbound.numbers import find_workspace_number
from smscast.store.inbound_models import InboundRoute, KeywordRule, Ticket
from smscast.store.messaging_models import Campaign, Message, Number
from smscast.store.models import table_of

routes = table_of(InboundRoute)
rules = table_of(KeywordRule)
messages = table_of(Message)
campaigns = table_of(Campaign)
tickets = table_of(Ticket)
number_rows = table_of(Number)
RESPONSE_ROUTES = tuple(r.value for r in REPLY_ROUTES)
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
    name = conn.execute(select(campaigns.c.name).where(campaigns.c.id == campaign_id)).scalar()
    return {
        "campaign_id": campaign_id,
        "name": name,
        **response_figures(len(sent_at), sent_at, rows),
    }


def response_figures(
    sent: int,
    sent_at: Mapping[int | None, datetime],
    rows: Iterable[tuple[int | None, str, datetime]],
) -> dict[str, Any]:
    """A campaign's response from what it sent and what came back: `sent` people texted,
    `sent_at` the first send to (at least) each of them who answered, `rows` the texts
    attributed to it (contact, route, received), oldest first. Every text counts as a
    reply, a STOP too; an opt-out is a contact with an opt-out route."""
    first: dict[int | None, datetime] = {}
    opted_out: set[int | None] = set()
    replies = 0
    for contact_id, route, received_at in rows:
        replies += 1
        first.setdefault(contact_id, received_at)
        if route in OPT_OUT_ROUTES:
            opted_out.add(contact_id)
    delays = [
        (received - sent_at[cid]).total_seconds()
        for cid, received in first.items()
        if cid in sent_at and received >= sent_at[cid]
    ]
    return {
        "sent": sent,
        "replies": replies,
        "unique_responders": len(first),
        "response_rate": _rate(len(first), sent),
        "opt_outs": len(opted_out),
        "opt_out_rate": _rate(len(opted_out), sent),
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


def ticket_answers(conn: Connection, ticket_ids: list[int]) -> dict[str, Any]:
    """How many of these tickets there are, the median seconds from a ticket's opening
    to the first answer an agent sent in it (unanswered ones are left out), and to its
    solving (over the tickets solved now)."""
    delays = list(first_answer_delays(conn, ticket_ids).values())
    solved = [
        (done - opened).total_seconds()
        for start in range(0, len(ticket_ids), 900)
        for opened, done in conn.execute(
            select(tickets.c.created_at, tickets.c.solved_at).where(
                tickets.c.id.in_(ticket_ids[start : start + 900]),
                tickets.c.state == "solved",
                tickets.c.solved_at.is_not(None),
            )
        )
    ]
    return {
        "tickets_opened": len(ticket_ids),
        "tickets_answered": len(delays),
        "median_first_answer_s": statistics.median(delays) if delays else None,
        "tickets_solved": len(solved),
        "median_solve_s": statistics.median(solved) if solved else None,
    }


def first_answer_delays(conn: Connection, ticket_ids: Iterable[int]) -> dict[int, float]:
    """Seconds from each ticket's opening to the first answer an agent sent in it, for
    the answered ones. An answer goes to the ticket's contact, so the messages are read
    through the contact index (the ticket id has none), not by a scan of every text."""
    ids = sorted(set(ticket_ids))
    delays: dict[int, float] = {}
    for start in range(0, len(ids), 900):
        chunk = ids[start : start + 900]
        first = (
            select(messages.c.ticket_id, func.min(messages.c.created_at).label("answered_at"))
            .where(
                messages.c.contact_id.in_(
                    select(tickets.c.contact_id).where(tickets.c.id.in_(chunk))
                ),
                messages.c.ticket_id.in_(chunk),
                messages.c.direction == "out",
                messages.c.kind == "agent_reply",
            )
            .group_by(messages.c.ticket_id)
            .subquery()
        )
        rows = conn.execute(
            select(tickets.c.id, tickets.c.created_at, first.c.answered_at).join(
                first, first.c.ticket_id == tickets.c.id
            )
        )
        delays.update({tid: (answered - opened).total_seconds() for tid, opened, answered in rows})
    return delays


def _sent_from(conn: Connection, number_id: int) -> dict[str, Any]:
    """Contacts texted by the campaigns sent from the number, and how many of them
    answered one of those campaigns (a STOP or HELP is no answer: see REPLY_ROUTES)."""
    from_number = select(campaigns.c.id).where(campaigns.c.number_id == number_id)
    sent = messages.c.campaign_id.in_(from_number)
    texted = conn.execute(
        select(func.count(distinct(messages.c.contact_id))).where(
            sent, messages.c.direction == "out", messages.c.sent_at.is_not(None)
        )
    ).scalar_one()
    answered = select(routes.c.contact_id).where(
        routes.c.campaign_id.in_(from_number),
        routes.c.route.in_(RESPONSE_ROUTES),
    )
    responders = conn.execute(
        select(func.count(distinct(messages.c.contact_id))).where(
            sent, messages.c.direction == "out", messages.c.sent_at.is_not(None),
            messages.c.contact_id.in_(answered),
        )
    ).scalar_one()  # fmt: skip
    return {
        "campaign_recipients": texted,
        "campaign_responders": responders,
        "response_rate": _rate(responders, texted),
    }


def number_report(engine: Engine, workspace: WorkspaceRef, raw_number: str | int) -> dict[str, Any]:
    """Inbound volume by route, responses and opt-outs, keyword hits, tickets and how fast
    they were answered, and the response to each campaign sent from (or answered on) the
    number. `raw_number` is the number as written, or its id."""
    with engine.connect() as conn:
        number = find_workspace_number(conn, workspace, raw_number)
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
        opted_out = conn.execute(
            select(func.count(distinct(routes.c.contact_id))).where(
                routes.c.number_id == number.id, routes.c.route.in_(OPT_OUT_ROUTES)
            )
        ).scalar_one()
        ticket_ids = list(
            conn.execute(select(tickets.c.id).where(tickets.c.number_id == number.id)).scalars()
        )
        return {
            "number_id": number.id,
            "number": number.number,
            "kind": number.kind,
            "inbound": sum(by_route.values()),
            "responses": sum(n for r, n in by_route.items() if r in RESPONSE_ROUTES),
            "unique_senders": senders,
            "opt_outs": opted_out,
            "opt_out_rate": _rate(opted_out, senders),
            **_sent_from(conn, number.id),
            **ticket_answers(conn, ticket_ids),
            "by_route": dict(sorted(by_route.items())),
            "keywords": keyword_response(conn, number.id),
            "campaigns": [campaign_response(conn, cid) for cid in campaign_ids],
        }


def keyword_rule_report(engine: Engine, workspace: WorkspaceRef, rule_id: int) -> dict[str, Any]:
    """What one keyword rule received: texts, unique senders, the opt-outs it recorded,
    the tickets its texts opened and how fast they were answered, and (if the rule is
    linked to a campaign) that campaign's response."""
    with engine.connect() as conn:
        rule = conn.execute(
            select(rules, number_rows.c.number)
            .join(number_rows, number_rows.c.id == rules.c.number_id)
            .where(rules.c.id == rule_id, rules.c.workspace_id == workspace.id)
        ).first()
        if rule is None:
            raise UserError.of("unknown_rule", f"no keyword rule #{rule_id}", field="rule_id")
        responses, senders = conn.execute(
            select(func.count(), func.count(distinct(routes.c.contact_id))).where(
                routes.c.rule_id == rule_id
            )
        ).one()
        opts_out = any(a.get("type") == ActionKind.OPT_OUT for a in rule.actions or [])
        ticket_ids = sorted(
            set(
                conn.execute(
                    select(messages.c.ticket_id)
                    .join(routes, routes.c.message_id == messages.c.id)
                    .where(routes.c.rule_id == rule_id, messages.c.ticket_id.is_not(None))
                ).scalars()
            )
        )
        return {
            "rule_id": rule.id,
            "number_id": rule.number_id,
            "number": rule.number,
            "keyword": rule.keyword if rule.keyword is not None else "(default)",
            "responses": responses,
            "unique_senders": senders,
            "opt_outs": senders if opts_out else 0,
            **ticket_answers(conn, ticket_ids),
            "campaign_id": rule.campaign_id,
            "campaign": None if rule.campaign_id is None
            else campaign_response(conn, rule.campaign_id),
        }  # fmt: skip
