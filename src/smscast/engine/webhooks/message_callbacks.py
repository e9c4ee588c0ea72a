"""A message's callback URL (the send API's `callback_url`): a one-off webhook target.

Each message sent with a callback URL gets its own row in `webhook_endpoints`
(with `message_id` set, so it is no subscription: it is never listed and never
receives other events). Its status changes are then queued, signed, retried and
logged by the same machinery as subscriptions. Callbacks are signed with the
workspace's callback secret (made on first use), which a webhook manager reads
with `GET /api/v1/webhooks/callback-secret`.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from smscast.core.errors import UserError
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.webhooks.endpoints import DELIVERY_COLUMNS, EVENTS, deliveries, endpoints
from smscast.engine.webhooks.targets import check_webhook_url
from smscast.store.api_models import CallbackSecret
from smscast.store.messaging_models import Message
from smscast.store.models import table_of

callback_secrets = table_of(CallbackSecret)
messages = table_of(Message)
#: What a callback URL hears about: every status change of its message after queueing.
CALLBACK_EVENTS = [event for event in EVENTS if event.startswith("message.")]


def check_callback_url(url: str, *, allow_private: bool) -> None:
    """The address policy of every outgoing request, naming the send API's field."""
    check_webhook_url(url, allow_private=allow_private, field="callback_url")


def callback_secret(conn: Connection, workspace_id: int, now: datetime) -> str:
    """The workspace's callback signing secret, made the first time it is needed."""
    found = conn.execute(
        select(callback_secrets.c.secret).where(callback_secrets.c.workspace_id == workspace_id)
    ).scalar()
    if found is not None:
        return str(found)
    secret = "whsec_" + secrets.token_urlsafe(32)
    conn.execute(
        insert(callback_secrets).values(workspace_id=workspace_id, secret=secret, created_at=now)
    )
    return secret


def add_callback_target(
    conn: Connection, workspace_id: int, message_id: int, url: str, now: datetime
) -> int:
    """Makes `url` the one-off target of `message_id`'s status changes; returns its id."""
    return int(
        conn.execute(
            insert(endpoints)
            .values(
                workspace_id=workspace_id,
                url=url,
                events=CALLBACK_EVENTS,
                secret=callback_secret(conn, workspace_id, now),
                description=f"callback of message #{message_id}",
                enabled=True,
                created_at=now,
                message_id=message_id,
            )
            .returning(endpoints.c.id)
        ).scalar_one()
    )


def callback_targets(conn: Connection, message_ids: list[int]) -> dict[int, int]:
    """message id → its one-off target's id, for the messages that have one."""
    if not message_ids:
        return {}
    rows = conn.execute(
        select(endpoints.c.message_id, endpoints.c.id).where(
            endpoints.c.message_id.in_(sorted(set(message_ids))), endpoints.c.enabled.is_(True)
        )
    )
    return {int(message_id): int(endpoint_id) for message_id, endpoint_id in rows}


def show_callback_secret(engine: Engine, workspace: WorkspaceRef, now: datetime) -> dict[str, Any]:
    with engine.begin() as conn:
        secret = callback_secret(conn, workspace.id, now)
        created_at = conn.execute(
            select(callback_secrets.c.created_at).where(
                callback_secrets.c.workspace_id == workspace.id
            )
        ).scalar_one()
    return {"secret": secret, "created_at": created_at}


def list_callback_deliveries(
    engine: Engine, workspace: WorkspaceRef, message_id: int, *, after: int, limit: int
) -> list[dict[str, Any]]:
    """The delivery log of a message's callback URL, newest first (empty without one)."""
    with engine.connect() as conn:
        exists = conn.execute(
            select(messages.c.id).where(
                messages.c.id == message_id, messages.c.workspace_id == workspace.id
            )
        ).first()
        if exists is None:
            raise UserError.of("unknown_message", f"no message #{message_id}", field="message_id")
        query = (
            select(*(deliveries.c[c] for c in DELIVERY_COLUMNS))
            .join(endpoints, endpoints.c.id == deliveries.c.endpoint_id)
            .where(endpoints.c.message_id == message_id)
        )
        if after:
            query = query.where(deliveries.c.id < after)
        rows = conn.execute(query.order_by(deliveries.c.id.desc()).limit(limit))
        return [dict(row._mapping) for row in rows]
