"""What the database says about the system, read for a metrics scrape.

Every query here is served by an index or reads a small table, so a scrape every few
seconds costs little however many messages there are: queued messages per connector
and the oldest due one through the claim index (`ix_messages_claim`, partial on
`queued`), texts in flight through `ix_messages_in_flight`, sent/delivered/inbound
totals from the hourly traffic counters (`traffic_stats`, never `messages`), webhook
deliveries through `ix_webhook_deliveries_due`, and the small tables of connectors,
numbers, running imports and launches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, text

from smscast.core.channels import channel_of_kind
from smscast.engine.sending.connectors import list_connectors
from smscast.engine.tally import read_moment

#: Outbox states counted per connector; the in-flight index serves the last two.
OPEN_STATES = ("queued", "sending", "unknown")
#: `traffic_stats` counters that are a message's outcome, for smscast_messages_total.
OUTCOMES = ("sent", "delivered", "undelivered", "failed", "expired")
IN_FLIGHT = "(status = 'sending' OR status = 'sent' OR status = 'unknown')"
"""The in-flight index's own condition, repeated so SQLite sees the index applies."""


@dataclass(frozen=True, slots=True)
class ConnectorFigures:
    id: int
    name: str
    kind: str
    channel: str
    enabled: bool
    held: bool  # a worker's lease on it runs at the moment read
    connected: bool  # as its holder last reported
    in_flight: int
    sent_per_s: float
    window: int
    rate_per_s: float
    open: dict[str, int]  # queued, sending, unknown
    oldest_due_s: float  # age of its oldest queued message that is due; 0: none due


@dataclass(frozen=True, slots=True)
class Traffic:
    """One connector's and number's totals since the counters began."""

    connector_id: int  # 0: none
    number_id: int  # 0: none
    outcomes: dict[str, int]
    inbound: int


@dataclass(frozen=True, slots=True)
class ImportFigures:
    id: int
    workspace_id: int
    rows_read: int
    created: int
    updated: int
    unchanged: int
    rejected: int


@dataclass(frozen=True, slots=True)
class LaunchFigures:
    campaign_id: int
    run: int
    stage: str
    last_contact_id: int
    idle_s: float  # since it last moved on


@dataclass(frozen=True, slots=True)
class Figures:
    connectors: list[ConnectorFigures]
    unrouted: int  # queued without a connector yet
    awaiting_reports: int  # sent, no final report yet
    traffic: list[Traffic]
    numbers: dict[int, str]
    webhooks: dict[str, int]  # pending, failed
    oldest_webhook_s: float  # age of the oldest pending delivery that is due
    imports: list[ImportFigures]
    launches: list[LaunchFigures] = field(default_factory=list)


def read_figures(engine: Engine, now: datetime) -> Figures:
    """Everything the database-derived metrics show, read in one short transaction."""
    with engine.connect() as conn:
        opened = _open_counts(conn)
        connectors = [_connector(conn, row, opened, now) for row in list_connectors(conn)]
        unrouted = opened.get(None, {}).get("queued", 0)
        awaiting = conn.execute(
            text(f"SELECT COUNT(*) FROM messages WHERE {IN_FLIGHT} AND status = 'sent'")
        ).scalar_one()
        webhooks, oldest_webhook = _webhooks(conn, now)
        return Figures(
            connectors=connectors,
            unrouted=unrouted,
            awaiting_reports=int(awaiting),
            traffic=_traffic(conn),
            numbers={
                row.id: row.number for row in conn.execute(text("SELECT id, number FROM numbers"))
            },
            webhooks=webhooks,
            oldest_webhook_s=oldest_webhook,
            imports=_imports(conn),
            launches=_launches(conn, now),
        )


def _open_counts(conn: Connection) -> dict[int | None, dict[str, int]]:
    """Outbox messages per connector and open state, each state through its index."""
    counts: dict[int | None, dict[str, int]] = {}
    statements = (
        (
            "queued",
            "SELECT connector_id, COUNT(*) FROM messages WHERE status = 'queued' "
            "GROUP BY connector_id",
        ),
        (
            "sending",
            f"SELECT connector_id, COUNT(*) FROM messages WHERE {IN_FLIGHT} "
            "AND status = 'sending' GROUP BY connector_id",
        ),
        (
            "unknown",
            f"SELECT connector_id, COUNT(*) FROM messages WHERE {IN_FLIGHT} "
            "AND status = 'unknown' GROUP BY connector_id",
        ),
    )
    for status, statement in statements:
        for connector_id, count in conn.execute(text(statement)):
            counts.setdefault(connector_id, {})[status] = int(count)
    return counts


def _connector(
    conn: Connection, row: dict[str, Any], opened: dict[int | None, dict[str, int]], now: datetime
) -> ConnectorFigures:
    oldest = conn.execute(
        text(
            "SELECT MIN(send_after) FROM messages WHERE status = 'queued' "
            "AND connector_id = :connector AND send_after IS NOT NULL"
        ),
        {"connector": row["id"]},
    ).scalar()
    lease = read_moment(row["lease_until"])
    held = bool(row["held_by"]) and lease is not None and lease > now
    counts = opened.get(row["id"], {})
    return ConnectorFigures(
        id=row["id"],
        name=row["name"],
        kind=row["kind"],
        channel=channel_of_kind(row["kind"]).value,
        enabled=row["enabled"],
        held=held,
        connected=bool(row["connected"]) and held,
        in_flight=int(row["in_flight"]),
        sent_per_s=float(row["sent_per_s"]),
        window=int(row["window"]),
        rate_per_s=float(row["rate_per_s"]),
        open={status: counts.get(status, 0) for status in OPEN_STATES},
        oldest_due_s=_age(oldest, now),
    )


def _traffic(conn: Connection) -> list[Traffic]:
    """Totals per connector and number from the hourly counters (a row per hour and
    route: thousands, where `messages` holds millions)."""
    sums = ", ".join(f"SUM({name})" for name in (*OUTCOMES, "inbound"))
    rows = conn.execute(
        text(
            f"SELECT connector_id, number_id, {sums} FROM traffic_stats "
            "GROUP BY connector_id, number_id"
        )
    )
    return [
        Traffic(
            connector_id=int(row[0]),
            number_id=int(row[1]),
            outcomes={
                name: int(value or 0) for name, value in zip(OUTCOMES, row[2:7], strict=True)
            },
            inbound=int(row[7] or 0),
        )
        for row in rows
    ]


def _webhooks(conn: Connection, now: datetime) -> tuple[dict[str, int], float]:
    counts = {"pending": 0, "failed": 0}
    for status, count in conn.execute(
        text(
            "SELECT status, COUNT(*) FROM webhook_deliveries "
            "WHERE status IN ('pending', 'failed') GROUP BY status"
        )
    ):
        counts[status] = int(count)
    oldest = conn.execute(
        text(
            "SELECT MIN(next_attempt_at) FROM webhook_deliveries "
            "WHERE status = 'pending' AND next_attempt_at IS NOT NULL"
        )
    ).scalar()
    return counts, _age(oldest, now)


def _imports(conn: Connection) -> list[ImportFigures]:
    rows = conn.execute(
        text(
            "SELECT id, workspace_id, rows_read, created, updated, unchanged, rejected "
            "FROM import_jobs WHERE status = 'running' ORDER BY id"
        )
    )
    return [ImportFigures(*(int(value or 0) for value in row)) for row in rows]


def _launches(conn: Connection, now: datetime) -> list[LaunchFigures]:
    rows = conn.execute(
        text(
            "SELECT campaign_id, run, stage, last_contact_id, updated_at "
            "FROM campaign_launches WHERE done = :no ORDER BY campaign_id, run, stage"
        ),
        {"no": False},
    )
    return [
        LaunchFigures(
            campaign_id=int(row.campaign_id),
            run=int(row.run),
            stage=row.stage,
            last_contact_id=int(row.last_contact_id),
            idle_s=_age(row.updated_at, now),
        )
        for row in rows
    ]


def _age(value: Any, now: datetime) -> float:
    """Seconds from a moment read by plain SQL to `now`; 0 for none or one still ahead."""
    moment = read_moment(value)
    return max(0.0, (now - moment).total_seconds()) if moment is not None else 0.0
