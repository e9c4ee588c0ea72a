"""A keyword rule's webhook action: a one-off target of the one webhook sender.

A rule's webhook URL gets its own row in `webhook_endpoints` (with `rule_id` set, so
it is no subscription: never listed, never sent other events), like a message's
callback URL. A text that matches the rule queues a delivery to it inside the
routing batch's transaction (no HTTP there: a slow endpoint never holds up routing);
`webhook_delivery` then sends it like every other webhook: address policy checked
on the address connected to, signed with the workspace's callback secret
(`Smscast-Signature`), retried with backoff, logged in `webhook_deliveries` and
listed by `GET /api/v1/keyword-rules/{id}/deliveries`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from smscast.core.errors import UserError
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.webhooks.endpoints import DELIVERY_COLUMNS, deliveries, endpoints, event_payload
from smscast.engine.webhooks.events import delivery_row, queue_deliveries
from smscast.engine.webhooks.message_callbacks import callback_secret
from smscast.store.inbound_models import KeywordRule
from smscast.store.models import table_of

rules = table_of(KeywordRule)
#: The event a rule's webhook hears: the inbound text that matched the rule.
RULE_EVENT = "inbound.received"


@dataclass(frozen=True, slots=True)
class RuleWebhook:
    """One inbound text for one rule's webhook URL, waiting for the batch to queue it."""

    rule_id: int
    url: str
    data: dict[str, Any]


def add_rule_targets(
    conn: Connection, workspace_id: int, rule_id: int, urls: Iterable[str], now: datetime
) -> dict[str, int]:
    """url → the id of the rule's one-off target for it, made where missing."""
    wanted = list(dict.fromkeys(urls))
    if not wanted:
        return {}
    found = {
        str(url): int(endpoint_id)
        for endpoint_id, url in conn.execute(
            select(endpoints.c.id, endpoints.c.url).where(
                endpoints.c.rule_id == rule_id, endpoints.c.enabled.is_(True)
            )
        )
    }
    for url in wanted:
        if url not in found:
            found[url] = int(
                conn.execute(
                    insert(endpoints)
                    .values(
                        workspace_id=workspace_id,
                        url=url,
                        events=[RULE_EVENT],
                        secret=callback_secret(conn, workspace_id, now),
                        description=f"webhook action of keyword rule #{rule_id}",
                        enabled=True,
                        created_at=now,
                        rule_id=rule_id,
                    )
                    .returning(endpoints.c.id)
                ).scalar_one()
            )
    return found


def queue_rule_webhooks(
    conn: Connection, workspace_id: int, posts: Sequence[RuleWebhook], now: datetime
) -> int:
    """Queues one delivery per post, inside the caller's transaction; returns how many.

    Rules saved before rule targets existed get theirs here, on their first match.
    """
    if not posts:
        return 0
    by_rule: dict[int, list[str]] = {}
    for post in posts:
        by_rule.setdefault(post.rule_id, []).append(post.url)
    targets = {
        rule_id: add_rule_targets(conn, workspace_id, rule_id, urls, now)
        for rule_id, urls in by_rule.items()
    }
    rows = [
        delivery_row(
            workspace_id,
            targets[post.rule_id][post.url],
            RULE_EVENT,
            event_payload(workspace_id, RULE_EVENT, post.data, now),
            now,
        )
        for post in posts
    ]
    return queue_deliveries(conn, rows)


def list_rule_deliveries(
    engine: Engine, workspace: WorkspaceRef, rule_id: int, *, after: int, limit: int
) -> list[dict[str, Any]]:
    """The delivery log of a rule's webhook actions, newest first (empty without one)."""
    with engine.connect() as conn:
        exists = conn.execute(
            select(rules.c.id).where(rules.c.id == rule_id, rules.c.workspace_id == workspace.id)
        ).first()
        if exists is None:
            raise UserError.of("unknown_rule", f"no keyword rule #{rule_id}", field="rule_id")
        query = (
            select(*(deliveries.c[c] for c in DELIVERY_COLUMNS), endpoints.c.url)
            .join(endpoints, endpoints.c.id == deliveries.c.endpoint_id)
            .where(endpoints.c.rule_id == rule_id, deliveries.c.workspace_id == workspace.id)
        )
        if after:
            query = query.where(deliveries.c.id < after)
        rows = conn.execute(query.order_by(deliveries.c.id.desc()).limit(limit))
        return [dict(row._mapping) for row in rows]
