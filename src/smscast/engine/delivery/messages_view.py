"""Finding messages: a filtered list, and one message with everything that happened to it.

`smscast messages list|show` and `GET /api/v1/messages[/{id}]` answer from here, so
the command line and the API say the same. The detail is gathered from what is
already recorded (the message row, its delivery reports, carrier ids per part, the
connector log, its callback deliveries, and for an inbound text its route and the
answers queued for it); nothing is written.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, select, text

from smscast.core.errors import UserError
from smscast.core.phones import PhoneError, parse_phone
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.webhooks.endpoints import deliveries, endpoints
from smscast.store.inbound_models import InboundRoute
from smscast.store.messaging_models import (
    Campaign,
    CarrierRef,
    Connector,
    ConnectorLogRow,
    DeliveryReportRow,
    Message,
)
from smscast.store.models import table_of

messages = table_of(Message)
campaigns = table_of(Campaign)
carrier_refs = table_of(CarrierRef)
connectors = table_of(Connector)
connector_log = table_of(ConnectorLogRow)
reports = table_of(DeliveryReportRow)
routes = table_of(InboundRoute)

SHOWN = (
    "id", "direction", "kind", "purpose", "contact_id", "phone", "number_id", "campaign_id",
    "ticket_id", "body", "encoding", "parts", "cost", "status", "send_after", "valid_until",
    "attempts", "connector_id", "error_code", "error", "created_at", "sent_at", "done_at",
    "callback_url",
)  # fmt: skip
"""The columns every listed message carries."""
DETAIL = (*SHOWN, "parts_done", "due_at", "national", "smart_changes")
STATUSES = frozenset({
    "queued", "sending", "sent", "delivered", "undelivered", "failed", "expired", "unknown",
    "cancelled", "received", "set_aside",
})  # fmt: skip
ENDED = frozenset({"failed", "undelivered", "expired", "unknown", "cancelled"})
HELD_CAMPAIGN = frozenset({"draft", "paused", "cancelled"})
#: Carrier exchanges shown per message, newest last; a message has a handful at most.
LOG_LIMIT = 50
#: How long after its end a carrier exchange may still concern a message (late reports).
LOG_SLACK = timedelta(hours=72)


def list_messages(
    engine: Engine,
    workspace: WorkspaceRef,
    *,
    after: int = 0,
    limit: int = 50,
    phone: str | None = None,
    status: str | None = None,
    campaign_id: int | None = None,
    contact_id: int | None = None,
    direction: str | None = None,
) -> list[dict[str, Any]]:
    """The workspace's messages matching every filter given, by id from after `after`.

    `phone` is read as the workspace's country reads it ("601 234 567" finds
    +48601234567); an unknown `status` is refused rather than answered with nothing.
    """
    query = select(*(messages.c[c] for c in SHOWN)).where(
        messages.c.workspace_id == workspace.id, messages.c.id > after
    )
    if phone is not None:
        query = query.where(messages.c.phone == _phone(workspace, phone))
    if status is not None and status not in STATUSES:
        known = ", ".join(sorted(STATUSES))
        raise UserError.of("unknown_status", f'"{status}" is not one of {known}', field="status")
    for column, value in (
        ("campaign_id", campaign_id),
        ("contact_id", contact_id),
        ("direction", direction),
        ("status", status),
    ):
        if value is not None:
            query = query.where(messages.c[column] == value)
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(messages.c.id).limit(limit)).all()
    return [_plain(dict(row._mapping)) for row in rows]


def show_message(
    engine: Engine, workspace: WorkspaceRef, message_id: int, now: datetime
) -> dict[str, Any]:
    """One message and its story: status history, parts, carrier exchanges, and in
    plain words why it still waits (`waiting`) or why it did not arrive (`failure`)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(*(messages.c[c] for c in DETAIL)).where(
                messages.c.id == message_id, messages.c.workspace_id == workspace.id
            )
        ).first()
        if row is None:
            raise UserError.of("unknown_message", f"no message #{message_id}", field="message_id")
        shown = _plain(dict(row._mapping))
        shown["smart_changes"] = json.loads(row.smart_changes) if row.smart_changes else {}
        got = _reports(conn, message_id)
        callbacks = _callbacks(conn, message_id)
        shown["history"] = _history(shown, got, callbacks)
        shown["carrier_parts"] = _parts(conn, message_id)
        shown["carrier_log"] = _carrier_log(conn, shown, now)
        shown["waiting"] = _waiting(conn, shown, now)
        shown["failure"] = _failure(shown)
        shown["route"], shown["answers"] = _inbound(conn, shown)
    return shown


def _phone(workspace: WorkspaceRef, raw: str) -> str:
    try:
        return parse_phone(raw, workspace.country).e164
    except PhoneError as error:
        raise UserError.of(error.problem.code, error.problem.message, field="phone") from None


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    item["cost"] = float(item["cost"] or 0)
    return item


def _reports(conn: Connection, message_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(reports.c.state, reports.c.error_code, reports.c.carrier_id, reports.c.received_at)
        .where(reports.c.message_id == message_id)
        .order_by(reports.c.received_at, reports.c.id)
    ).all()
    return [dict(r._mapping) for r in rows]


def _callbacks(conn: Connection, message_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(
            deliveries.c.event, deliveries.c.status, deliveries.c.attempts,
            deliveries.c.last_status_code, deliveries.c.last_error, deliveries.c.created_at,
            deliveries.c.delivered_at, deliveries.c.last_attempt_at,
        )
        .join(endpoints, endpoints.c.id == deliveries.c.endpoint_id)
        .where(endpoints.c.message_id == message_id)
        .order_by(deliveries.c.id)
    ).all()  # fmt: skip
    return [dict(r._mapping) for r in rows]


def _history(
    shown: dict[str, Any], got: list[dict[str, Any]], callbacks: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Every recorded step, oldest first: queued (or received), moved by quiet hours,
    sent, each delivery report, the final status, each callback delivery."""
    steps: list[dict[str, Any]] = []

    def step(at: datetime | None, status: str, detail: str = "") -> None:
        if at is not None:
            steps.append({"at": at, "status": status, "detail": detail})

    inbound = shown["direction"] == "in"
    step(shown["created_at"], "received" if inbound else "queued")
    if shown["due_at"] is not None:
        step(shown["due_at"], "held", f"quiet hours: moved to {_when(shown['send_after'])}")
    if shown["sent_at"] is not None:
        attempts = shown["attempts"]
        step(shown["sent_at"], "sent", f"accepted by the carrier (attempt {attempts})")
    for report in got:
        why = f" ({report['error_code']})" if report["error_code"] else ""
        step(report["received_at"], "report", f"{report['state']}{why} for carrier id "
             f"{report['carrier_id']}")  # fmt: skip
    if shown["done_at"] is not None and not inbound:
        ended = shown["error"] or shown["error_code"] or ""
        step(shown["done_at"], shown["status"], ended)
    for callback in callbacks:
        answer = callback["last_status_code"] or callback["last_error"] or ""
        detail = f"{callback['event']}: {callback['status']} after {callback['attempts']} " \
                 f"attempt(s) {answer}".rstrip()  # fmt: skip
        step(callback["delivered_at"] or callback["last_attempt_at"] or callback["created_at"],
             "callback", detail)  # fmt: skip
    return sorted(steps, key=lambda s: s["at"])


def _parts(conn: Connection, message_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(carrier_refs.c.part, carrier_refs.c.carrier_id, carrier_refs.c.state)
        .where(carrier_refs.c.message_id == message_id)
        .order_by(carrier_refs.c.part)
    ).all()
    return [dict(r._mapping) for r in rows]


def _carrier_log(conn: Connection, shown: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    """The connector log entries naming this message, found by the connector and time
    (indexed) and then by the message ids each entry carries."""
    if shown["connector_id"] is None:
        return []
    until = (shown["done_at"] or now) + LOG_SLACK
    if conn.dialect.name == "postgresql":
        names = text("connector_log.message_ids @> CAST(:ids AS jsonb)").bindparams(
            ids=json.dumps([shown["id"]])
        )
    else:
        names = text(
            "EXISTS (SELECT 1 FROM json_each(connector_log.message_ids) WHERE value = :id)"
        ).bindparams(id=shown["id"])
    rows = conn.execute(
        select(
            connector_log.c.at, connector_log.c.kind, connector_log.c.request,
            connector_log.c.response, connector_log.c.error, connector_log.c.duration_ms,
        )
        .where(
            and_(
                connector_log.c.connector_id == shown["connector_id"],
                connector_log.c.at >= shown["created_at"],
                connector_log.c.at <= until,
            ),
            names,
        )
        .order_by(connector_log.c.at, connector_log.c.id)
        .limit(LOG_LIMIT)
    ).all()  # fmt: skip
    return [dict(r._mapping) for r in rows]


def _waiting(conn: Connection, shown: dict[str, Any], now: datetime) -> str | None:
    """Why a queued message has not gone yet, in the words a user would look for."""
    if shown["status"] != "queued":
        return None
    send_after = shown["send_after"]
    if shown["campaign_id"] is not None:
        state = conn.execute(
            select(campaigns.c.status).where(campaigns.c.id == shown["campaign_id"])
        ).scalar()
        if state in HELD_CAMPAIGN:
            return f"its campaign is {state}"
    if send_after is not None and send_after > now:
        if shown["due_at"] is not None:
            return (
                f"quiet hours: it was due at {_when(shown['due_at'])} and goes at "
                f"{_when(send_after)}"
            )
        if shown["error_code"] == "quiet_hours":  # held at dispatch before due_at was kept
            return f"quiet hours: it goes at {_when(send_after)}"
        if shown["attempts"] and shown["error"]:
            return f"retry at {_when(send_after)} after a temporary failure ({shown['error']})"
        return f"scheduled for {_when(send_after)}"
    if shown["connector_id"] is None:
        return "no connector: the workspace has no number with a carrier connection"
    enabled = conn.execute(
        select(connectors.c.enabled).where(connectors.c.id == shown["connector_id"])
    ).scalar()
    if enabled is False:
        return "its connector is disabled"
    return "due now: waiting for the dispatcher (see `smscast connectors state`)"


def _failure(shown: dict[str, Any]) -> str | None:
    if shown["status"] not in ENDED:
        return None
    reason = shown["error"] or "no reason recorded"
    return f"{shown['status']}: {shown['error_code'] or 'no code'}: {reason}"


def _inbound(
    conn: Connection, shown: dict[str, Any]
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """For an inbound text: how it was routed (and why nothing happened, when nothing
    did) and the answers queued for it, each with its own status and failure."""
    if shown["direction"] != "in":
        return None, []
    route = conn.execute(
        select(
            routes.c.route, routes.c.keyword, routes.c.rule_id, routes.c.campaign_id,
            routes.c.replies, routes.c.suppressed, routes.c.detail,
        ).where(routes.c.message_id == shown["id"])
    ).first()  # fmt: skip
    if shown["contact_id"] is None:
        return (dict(route._mapping) if route else None), []
    # Answers are queued with the inbound's own time (inbound_apply._queue).
    rows = conn.execute(
        select(
            messages.c.id, messages.c.kind, messages.c.status, messages.c.error_code,
            messages.c.error, messages.c.body,
        )
        .where(
            messages.c.contact_id == shown["contact_id"],
            messages.c.created_at == shown["created_at"],
            messages.c.direction == "out",
        )
        .order_by(messages.c.id)
    ).all()  # fmt: skip
    return (dict(route._mapping) if route else None), [dict(r._mapping) for r in rows]


def _when(at: datetime | None) -> str:
    return at.isoformat() if at is not None else "-"
