"""Outgoing webhooks: subscriptions, and events queued for them.

`emit_event` is called inside the transaction of the change it reports, so an
event is queued exactly when the change commits (the outbox pattern): it only
inserts delivery rows; `webhook_delivery.deliver_due_webhooks` sends them later.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal, get_args

from sqlalchemy import Connection, Engine, delete, insert, select, update

from smscast.config import Settings
from smscast.core.addresses import AddressPolicy
from smscast.core.errors import UserError
from smscast.engine.accounts.audit import record_audit
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.webhooks.targets import address_policy, check_webhook_url
from smscast.store.api_models import WebhookDelivery, WebhookEndpoint
from smscast.store.models import table_of

endpoints = table_of(WebhookEndpoint)
deliveries = table_of(WebhookDelivery)

EventName = Literal[
    "message.sent",
    "message.delivered",
    "message.undelivered",
    "message.failed",
    "message.expired",
    "message.unknown",
    "inbound.received",
    "contact.opted_out",
    "contact.opted_in",
    "ticket.created",
    "campaign.completed",
    "import.finished",
    "webhook.test",
    "*",
]
EVENTS = tuple(name for name in get_args(EventName) if name != "*")
ENDPOINT_COLUMNS = ("id", "url", "events", "description", "enabled", "created_at")
DELIVERY_COLUMNS = (
    "id",
    "endpoint_id",
    "event",
    "payload",
    "status",
    "attempts",
    "next_attempt_at",
    "last_attempt_at",
    "last_status_code",
    "last_error",
    "created_at",
    "delivered_at",
)


def _check_events(events: Sequence[str]) -> list[str]:
    if not events:
        raise UserError.of("no_events", "subscribe to at least one event", field="events")
    for index, event in enumerate(events):
        if event not in EVENTS and event != "*":
            raise UserError.of(
                "unknown_event",
                f'"{event}" is not an event ({", ".join(EVENTS)}, or *)',
                field=f"events[{index}]",
            )
    return list(dict.fromkeys(events))


def _endpoint(conn: Connection, workspace: WorkspaceRef, endpoint_id: int) -> dict[str, Any]:
    row = conn.execute(
        select(*(endpoints.c[c] for c in ENDPOINT_COLUMNS)).where(
            endpoints.c.id == endpoint_id,
            endpoints.c.workspace_id == workspace.id,
            # one-off targets (a message's callback, a rule's webhook) are no subscriptions
            endpoints.c.message_id.is_(None),
            endpoints.c.rule_id.is_(None),
        )
    ).first()
    if row is None:
        raise UserError.of("unknown_webhook", f"no webhook #{endpoint_id}", field="webhook_id")
    return dict(row._mapping)


def create_webhook(
    engine: Engine,
    settings: Settings,
    workspace: WorkspaceRef,
    url: str,
    events: Sequence[str],
    *,
    description: str,
    actor: str,
    now: datetime,
    policy: AddressPolicy | None = None,
) -> tuple[dict[str, Any], str]:
    """The new subscription and its signing secret (shown to the caller once).

    `policy` defaults to the settings' address policy (tests narrow it to loopback).
    """
    check_webhook_url(url, policy=policy or address_policy(settings))
    chosen = _check_events(events)
    secret = "whsec_" + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        endpoint_id = conn.execute(
            insert(endpoints)
            .values(
                workspace_id=workspace.id,
                url=url,
                events=chosen,
                secret=secret,
                description=description,
                enabled=True,
                created_at=now,
            )
            .returning(endpoints.c.id)
        ).scalar_one()
        record_audit(conn, workspace.id, actor, "webhook.created", url, {"events": chosen}, now)
        return _endpoint(conn, workspace, endpoint_id), secret


def show_webhook(engine: Engine, workspace: WorkspaceRef, endpoint_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        return _endpoint(conn, workspace, endpoint_id)


def list_webhooks(
    engine: Engine, workspace: WorkspaceRef, *, after: int, limit: int
) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(*(endpoints.c[c] for c in ENDPOINT_COLUMNS))
            .where(
                endpoints.c.workspace_id == workspace.id,
                endpoints.c.id > after,
                endpoints.c.message_id.is_(None),
                endpoints.c.rule_id.is_(None),
            )
            .order_by(endpoints.c.id)
            .limit(limit)
        )
        return [dict(row._mapping) for row in rows]


def update_webhook(
    engine: Engine,
    settings: Settings,
    workspace: WorkspaceRef,
    endpoint_id: int,
    changes: dict[str, Any],
    *,
    actor: str,
    now: datetime,
    policy: AddressPolicy | None = None,
) -> dict[str, Any]:
    values = {k: v for k, v in changes.items() if v is not None}
    if "url" in values:
        check_webhook_url(values["url"], policy=policy or address_policy(settings))
    if "events" in values:
        values["events"] = _check_events(values["events"])
    with engine.begin() as conn:
        _endpoint(conn, workspace, endpoint_id)
        if values:
            conn.execute(update(endpoints).where(endpoints.c.id == endpoint_id).values(**values))
            record_audit(
                conn,
                workspace.id,
                actor,
                "webhook.changed",
                f"webhook #{endpoint_id}",
                {k: v for k, v in values.items()},
                now,
            )
        return _endpoint(conn, workspace, endpoint_id)


def delete_webhook(
    engine: Engine, workspace: WorkspaceRef, endpoint_id: int, *, actor: str, now: datetime
) -> None:
    with engine.begin() as conn:
        endpoint = _endpoint(conn, workspace, endpoint_id)
        conn.execute(delete(endpoints).where(endpoints.c.id == endpoint_id))
        record_audit(conn, workspace.id, actor, "webhook.deleted", endpoint["url"], {}, now)


def list_deliveries(
    engine: Engine,
    workspace: WorkspaceRef,
    endpoint_id: int,
    *,
    after: int,
    limit: int,
    status: str | None = None,
) -> list[dict[str, Any]]:
    """The delivery log of one endpoint, newest first (`after` pages toward older ones)."""
    with engine.connect() as conn:
        _endpoint(conn, workspace, endpoint_id)
        query = select(*(deliveries.c[c] for c in DELIVERY_COLUMNS)).where(
            deliveries.c.endpoint_id == endpoint_id
        )
        if after:
            query = query.where(deliveries.c.id < after)
        if status:
            query = query.where(deliveries.c.status == status)
        rows = conn.execute(query.order_by(deliveries.c.id.desc()).limit(limit))
        return [dict(row._mapping) for row in rows]


def event_payload(
    workspace_id: int, event: str, data: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """The body every receiver gets, whichever path queued the event."""
    return {
        "id": "evt_" + uuid.uuid4().hex,
        "type": event,
        "created_at": now.isoformat(),
        "workspace_id": workspace_id,
        "data": data,
    }


def emit_event(
    conn: Connection,
    workspace_id: int,
    event: str,
    data: dict[str, Any],
    now: datetime,
    *,
    endpoint_id: int | None = None,
) -> int:
    """Queues `event` for every enabled endpoint of the workspace that subscribed to it.

    Call it inside the transaction that makes the change; returns deliveries queued.
    """
    query = select(endpoints.c.id, endpoints.c.events).where(
        endpoints.c.workspace_id == workspace_id,
        endpoints.c.enabled.is_(True),
        endpoints.c.message_id.is_(None),
        endpoints.c.rule_id.is_(None),
    )
    if endpoint_id is not None:
        query = query.where(endpoints.c.id == endpoint_id)
    targets = [
        row.id
        for row in conn.execute(query)
        if endpoint_id is not None or event in row.events or "*" in row.events
    ]
    if not targets:
        return 0
    payload = event_payload(workspace_id, event, data, now)
    conn.execute(
        insert(deliveries),
        [
            {
                "workspace_id": workspace_id,
                "endpoint_id": target,
                "event": event,
                "payload": payload,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for target in targets
        ],
    )
    return len(targets)


def send_test_event(
    engine: Engine, workspace: WorkspaceRef, endpoint_id: int, *, actor: str, now: datetime
) -> None:
    """Queues a `webhook.test` event for one endpoint, so a receiver can be tried out."""
    with engine.begin() as conn:
        _endpoint(conn, workspace, endpoint_id)
        emit_event(
            conn,
            workspace.id,
            "webhook.test",
            {"requested_by": actor},
            now,
            endpoint_id=endpoint_id,
        )
