"""What the portal's number pages read: each number with its connector, automatic reply,
keyword rules and campaigns; the latest texts one number received, what became of each
and the automatic answers it got; and the number's response figures.

Read-only. The recent traffic is read newest first through `inbound_routes`' index on
(number_id, received_at) and bounded by a limit; the answers to those texts through the
messages' (contact_id, created_at) index: no query here scans the messages table.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, Engine, or_, select

from smscast.core.errors import UserError
from smscast.core.rule_actions import ReplyKind
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.inbound.keyword_rules import list_keyword_rules
from smscast.engine.inbound.numbers import list_numbers, number_by_id
from smscast.store.inbound_models import InboundRoute, Ticket
from smscast.store.messaging_models import Campaign, Message
from smscast.store.models import table_of

routes = table_of(InboundRoute)
messages = table_of(Message)
campaigns = table_of(Campaign)
tickets = table_of(Ticket)
ANSWER_KINDS = tuple(k.value for k in ReplyKind if k != ReplyKind.AGENT_REPLY)
RECENT_LIMIT = 50
MAX_RECENT = 500


def number_overview(engine: Engine, workspace: WorkspaceRef) -> list[dict[str, Any]]:
    """Every number as `list_numbers` gives it, with its keyword rules (`rules`, the
    default rule left out: it is the `auto_reply`) and the campaigns sent from it or
    linked to one of its rules (`campaigns`, newest first)."""
    found = list_numbers(engine, workspace)
    return _with_rules_and_campaigns(
        engine, workspace, found, list_keyword_rules(engine, workspace)
    )


def number_details(engine: Engine, workspace: WorkspaceRef, number_id: int) -> dict[str, Any]:
    """One number as in `number_overview`; another workspace's is as unknown as none."""
    found = list_numbers(engine, workspace, after_id=number_id - 1, limit=1)
    if not found or found[0]["id"] != number_id:
        raise UserError.of("unknown_number", f"no number #{number_id} in this workspace",
                           field="number_id")  # fmt: skip
    rules = list_keyword_rules(engine, workspace, found[0]["number"])
    return _with_rules_and_campaigns(engine, workspace, found, rules)[0]


def _with_rules_and_campaigns(
    engine: Engine,
    workspace: WorkspaceRef,
    found: list[dict[str, Any]],
    rules: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    rules_of: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for rule in rules:
        if rule["keyword"] is not None:
            rules_of[rule["number_id"]].append(rule)
    ids = [n["id"] for n in found]
    linked: dict[int, set[int]] = defaultdict(set)
    for rule in rules:
        if rule["campaign_id"] is not None:
            linked[rule["campaign_id"]].add(rule["number_id"])
    campaigns_of: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if ids:
        with engine.connect() as conn:
            rows = conn.execute(
                select(campaigns.c.id, campaigns.c.name, campaigns.c.status, campaigns.c.number_id)
                .where(
                    campaigns.c.workspace_id == workspace.id,
                    or_(campaigns.c.number_id.in_(ids), campaigns.c.id.in_(list(linked))),
                )
                .order_by(campaigns.c.id.desc())
            )
            for row in rows:
                for number_id in sorted(({row.number_id} | linked[row.id]) & set(ids)):
                    keywords = [r["keyword"] for r in rules if r["campaign_id"] == row.id
                                and r["number_id"] == number_id and r["keyword"]]  # fmt: skip
                    campaigns_of[number_id].append({
                        "id": row.id, "name": row.name, "status": row.status,
                        "sent_from": row.number_id == number_id, "keywords": keywords,
                    })  # fmt: skip
    return [
        {**number, "rules": rules_of[number["id"]], "campaigns": campaigns_of[number["id"]]}
        for number in found
    ]


def recent_inbound(
    engine: Engine, workspace: WorkspaceRef, number_id: int, *, limit: int = RECENT_LIMIT
) -> list[dict[str, Any]]:
    """The last texts received on the number, newest first: when, from which phone (and
    contact), the text, the route the router decided with its rule, keyword and the
    campaign it answers, the ticket it went to, and the automatic answers queued for it
    (`answers`: each one's text and status now)."""
    limit = max(1, min(limit, MAX_RECENT))
    with engine.connect() as conn:
        number = number_by_id(conn, workspace, number_id)
        rows = conn.execute(
            select(
                routes.c.message_id, routes.c.received_at, routes.c.route, routes.c.keyword,
                routes.c.rule_id, routes.c.campaign_id, routes.c.contact_id, routes.c.replies,
                routes.c.suppressed, routes.c.detail, messages.c.phone, messages.c.body,
                messages.c.ticket_id, campaigns.c.name.label("campaign"),
            )
            .join(messages, messages.c.id == routes.c.message_id)
            .outerjoin(campaigns, campaigns.c.id == routes.c.campaign_id)
            .where(routes.c.number_id == number.id)
            .order_by(routes.c.received_at.desc(), routes.c.message_id.desc())
            .limit(limit)
        ).all()  # fmt: skip
        answers = _answers(conn, number.id, [r for r in rows if r.replies and r.contact_id])
    return [
        {
            "message_id": r.message_id, "received_at": r.received_at, "phone": r.phone,
            "contact_id": r.contact_id, "text": r.body, "route": r.route,
            "keyword": r.keyword, "rule_id": r.rule_id, "campaign_id": r.campaign_id,
            "campaign": r.campaign, "ticket_id": r.ticket_id, "replies": r.replies,
            "suppressed": r.suppressed, "detail": r.detail,
            "answers": answers.get(r.message_id, []),
        }
        for r in rows
    ]  # fmt: skip


def _answers(conn: Connection, number_id: int, shown: list[Any]) -> dict[int, list[dict[str, Any]]]:
    """The automatic answers queued for each of these inbound texts, by its message id.

    An answer is queued in its inbound's transaction, for its sender, from its number,
    stamped with the moment the text was received, in the order the texts were routed:
    texts of one sender received at one moment share the answers out in that order,
    each taking as many as its route says it queued (`replies`). All texts of those
    moments take part, shown or not, so a limit cannot shift an answer onto a text."""
    if not shown:
        return {}
    moments = {r.received_at for r in shown}
    senders = {r.contact_id for r in shown}
    texts = conn.execute(
        select(routes.c.message_id, routes.c.contact_id, routes.c.received_at, routes.c.replies)
        .where(
            routes.c.number_id == number_id,
            routes.c.received_at.in_(moments),
            routes.c.contact_id.in_(senders),
            routes.c.replies > 0,
        )
        .order_by(routes.c.message_id)
    ).all()
    found = conn.execute(
        select(messages.c.id, messages.c.contact_id, messages.c.created_at, messages.c.body,
               messages.c.status, messages.c.kind)
        .where(
            messages.c.contact_id.in_(senders),
            messages.c.created_at.in_(moments),
            messages.c.direction == "out",
            messages.c.number_id == number_id,
            messages.c.kind.in_(ANSWER_KINDS),
        )
        .order_by(messages.c.id)
    )  # fmt: skip
    queued: dict[tuple[int, Any], list[dict[str, Any]]] = defaultdict(list)
    for m in found:
        queued[(m.contact_id, m.created_at)].append(
            {"id": m.id, "body": m.body, "status": m.status, "kind": m.kind}
        )
    out: dict[int, list[dict[str, Any]]] = {}
    for text in texts:
        waiting = queued[(text.contact_id, text.received_at)]
        out[text.message_id], waiting[:] = waiting[: text.replies], waiting[text.replies :]
    return out
