"""Sending queued webhook deliveries: signed, retried with backoff for 24 hours.

This is the one sender of every request smscast makes on a user's behalf:
subscriptions, message callbacks and keyword-rule webhook actions are all rows of
`webhook_deliveries`, sent here through `webhook_targets.post_pinned` (the address
policy, checked on the address actually connected to; redirects never followed).

A delivery is claimed by pushing its next attempt into the future (a lease), so
two workers never send the same one at once; the request goes out outside any
transaction, and its outcome is written back. Any 2xx answer is success; anything
else (a redirect included) is retried on the schedule in `core.webhook_signing.next_attempt`.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, select, update

from smscast.config import Settings
from smscast.core.addresses import AddressPolicy
from smscast.core.errors import UserError
from smscast.core.webhook_signing import SIGNATURE_HEADER, next_attempt, signature_header
from smscast.engine.webhooks.endpoints import deliveries, endpoints
from smscast.engine.webhooks.targets import Resolver, address_policy, post_pinned, resolve

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=2)
MAX_ERROR = 500


@dataclass(frozen=True, slots=True)
class _Claimed:
    id: int
    event: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime
    url: str
    secret: str


def _claim(engine: Engine, now: datetime, limit: int) -> list[_Claimed]:
    query = (
        select(
            deliveries.c.id,
            deliveries.c.event,
            deliveries.c.payload,
            deliveries.c.attempts,
            deliveries.c.created_at,
            endpoints.c.url,
            endpoints.c.secret,
        )
        .join(endpoints, endpoints.c.id == deliveries.c.endpoint_id)
        .where(deliveries.c.status == "pending", deliveries.c.next_attempt_at <= now)
        .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
        .limit(limit)
    )
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(of=deliveries, skip_locked=True)
        rows = [_Claimed(*row) for row in conn.execute(query)]
        if rows:
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id.in_([row.id for row in rows]))
                .values(next_attempt_at=now + LEASE)
            )
    return rows


def deliver_due_webhooks(
    engine: Engine,
    settings: Settings,
    client: httpx.Client,
    now: datetime,
    limit: int = 50,
    *,
    policy: AddressPolicy | None = None,
    resolver: Resolver = resolve,
) -> int:
    """Sends up to `limit` due deliveries once each; returns how many were tried.

    `policy` defaults to the settings' (`SMSCAST_WEBHOOK_ALLOW_PRIVATE`); tests pass a
    narrower one (loopback only) and their own `resolver`.
    """
    chosen = policy if policy is not None else address_policy(settings)
    claimed = _claim(engine, now, limit)
    for item in claimed:
        status_code, error = _send(chosen, resolver, client, item, now)
        _record(engine, item, status_code, error, now)
    return len(claimed)


def _send(
    policy: AddressPolicy, resolver: Resolver, client: httpx.Client, item: _Claimed, now: datetime
) -> tuple[int | None, str | None]:
    body = json.dumps(item.payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "smscast-webhooks",
        "Smscast-Event": item.event,
        "Smscast-Delivery": str(item.id),
        SIGNATURE_HEADER: signature_header(item.secret, int(now.timestamp()), body),
    }
    try:
        response = post_pinned(client, item.url, body, headers, policy, resolver)
    except UserError as error:
        return None, error.problem.message
    except httpx.HTTPError as error:
        return None, f"{type(error).__name__}: {error}"[:MAX_ERROR]
    if 200 <= response.status_code < 300:
        return response.status_code, None
    if response.is_redirect:
        where = response.headers.get("Location", "")[:200]
        return (
            response.status_code,
            f"HTTP {response.status_code}: redirect to {where!r} not followed",
        )
    return response.status_code, f"HTTP {response.status_code}: {response.text[:200]}"


def _record(
    engine: Engine, item: _Claimed, status_code: int | None, error: str | None, now: datetime
) -> None:
    attempts = item.attempts + 1
    values: dict[str, Any] = {
        "attempts": attempts,
        "last_attempt_at": now,
        "last_status_code": status_code,
        "last_error": error,
    }
    if error is None:
        values.update(status="delivered", delivered_at=now, next_attempt_at=None)
    else:
        retry_at = next_attempt(item.created_at, attempts, now)
        if retry_at is None:
            values.update(status="failed", next_attempt_at=None)
            log.warning(
                "webhook delivery %s given up after %s attempts: %s", item.id, attempts, error
            )
        else:
            values.update(next_attempt_at=retry_at)
            log.info("webhook delivery %s attempt %s failed: %s", item.id, attempts, error)
    with engine.begin() as conn:
        conn.execute(update(deliveries).where(deliveries.c.id == item.id).values(**values))


def utc_now() -> datetime:
    return datetime.now(UTC)


def run_webhook_worker(
    engine: Engine,
    settings: Settings,
    stop: threading.Event,
    poll_s: float = 1.0,
    clock: Callable[[], datetime] = utc_now,
) -> None:
    """Delivers webhooks until `stop` is set; runs in a thread next to the API. `clock`
    says when it is (tests pass their own, as they do to the runtime)."""
    with httpx.Client(timeout=settings.webhook_timeout_s, follow_redirects=False) as client:
        while not stop.is_set():
            try:
                sent = deliver_due_webhooks(engine, settings, client, clock())
            except Exception:
                log.exception("webhook worker: delivery round failed")
                sent = 0
            if not sent:
                stop.wait(poll_s)
