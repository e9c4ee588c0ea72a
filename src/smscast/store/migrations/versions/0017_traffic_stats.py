"""dashboard: hourly traffic counters per route (connector, number, purpose, campaign)
for every text, campaign or not; filled from the messages already stored

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 22:10:00

From now on the code that changes a message's outcome adds to `traffic_stats` as it
does to `campaign_stats`. What happened before is rebuilt here once, from grouped
reads (one per kind of event; each returns one row per route and hour, however many
messages there are) merged in Python and inserted:

- sent, parts and cost in the hour of `sent_at`; delivered, undelivered, failed and
  expired in the hour the message ended (`done_at`);
- inbound texts in the hour they arrived, under the campaign they answered (from
  `inbound_routes`) and its purpose; replies are the texts routed as an answer
  (keyword, default, campaign reply, ticket) and opt-outs those routed as STOP;
- clicks (people, not preview bots) in the hour of the click, a message's first one
  also as a unique click; redemptions in the hour of redemption, on the route of the
  text that carried the code.

The live counters are exact; the rebuilt ones are as exact as the rows kept allow: an
opt-out a keyword rule's action made (not a STOP) and a text that went `unknown` and
was later reported delivered are counted as the live code counts them only from now.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from smscast.store.types import UtcDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

COUNTERS = ("sent", "delivered", "undelivered", "failed", "expired", "parts", "inbound",
            "replies", "opt_outs", "clicks", "unique_clicks", "redemptions")  # fmt: skip
REPLY_ROUTES = "('keyword', 'default', 'campaign_reply', 'ticket')"
ROUTE = ("m.workspace_id, COALESCE(m.connector_id, 0), COALESCE(m.number_id, 0), "
         "m.purpose, COALESCE(m.campaign_id, 0)")  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "traffic_stats",
        sa.Column(
            "workspace_id",
            sa.Integer(),
            sa.ForeignKey("workspaces.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("hour", UtcDateTime(timezone=True), nullable=False),
        # 0 means none: NULL cannot be part of a primary key or an upsert's conflict target.
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("number_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in COUNTERS),
        sa.Column("cost", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint(
            "workspace_id", "hour", "connector_id", "number_id", "purpose", "campaign_id"
        ),
    )
    _backfill(op.get_bind())


def downgrade() -> None:
    op.drop_table("traffic_stats")


def _hour(conn: sa.Connection, column: str) -> str:
    if conn.dialect.name == "postgresql":
        return f"date_trunc('hour', {column} AT TIME ZONE 'UTC')"
    return f"strftime('%Y-%m-%d %H:00:00', {column})"


def _reads(conn: sa.Connection) -> list[tuple[tuple[str, ...], str]]:
    """(the counters each read gives after its route and hour, the read)."""

    def h(column: str) -> str:
        return _hour(conn, column)

    ended = "COALESCE(m.done_at, m.sent_at, m.created_at)"
    answered = ("m.workspace_id, COALESCE(m.connector_id, 0), COALESCE(m.number_id, 0), "
                "COALESCE(c.purpose, m.purpose), COALESCE(r.campaign_id, 0)")  # fmt: skip
    return [
        (
            ("sent", "parts", "cost"),
            f"SELECT {ROUTE}, {h('m.sent_at')}, COUNT(*), SUM(m.parts), SUM(m.cost) "
            "FROM messages m WHERE m.direction = 'out' AND m.sent_at IS NOT NULL "
            f"GROUP BY {ROUTE}, {h('m.sent_at')}",
        ),
        *(
            (
                (status,),
                f"SELECT {ROUTE}, {h(ended)}, COUNT(*) FROM messages m "
                f"WHERE m.direction = 'out' AND m.status = '{status}' GROUP BY {ROUTE}, {h(ended)}",
            )
            for status in ("delivered", "undelivered", "failed", "expired")
        ),
        (
            ("inbound", "replies", "opt_outs"),
            f"SELECT {answered}, {h('m.created_at')}, COUNT(*), "
            f"SUM(CASE WHEN r.route IN {REPLY_ROUTES} THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN r.route = 'opt_out' THEN 1 ELSE 0 END) "
            "FROM messages m LEFT JOIN inbound_routes r ON r.message_id = m.id "
            "LEFT JOIN campaigns c ON c.id = r.campaign_id WHERE m.direction = 'in' "
            f"GROUP BY {answered}, {h('m.created_at')}",
        ),
        (
            ("clicks",),
            f"SELECT {ROUTE}, {h('k.at')}, COUNT(*) FROM clicks k "
            "JOIN messages m ON m.id = k.message_id WHERE NOT k.is_bot "
            f"GROUP BY {ROUTE}, {h('k.at')}",
        ),
        (
            ("unique_clicks",),
            f"SELECT {ROUTE}, {h('k.first')}, COUNT(*) FROM (SELECT message_id, MIN(at) AS first "
            "FROM clicks WHERE NOT is_bot GROUP BY message_id) k "
            f"JOIN messages m ON m.id = k.message_id GROUP BY {ROUTE}, {h('k.first')}",
        ),
        (
            ("redemptions",),
            f"SELECT {ROUTE}, {h('p.redeemed_at')}, COUNT(*) FROM coupons p "
            "JOIN messages m ON m.campaign_id = p.campaign_id AND m.coupon_code = p.code "
            f"WHERE p.redeemed_at IS NOT NULL GROUP BY {ROUTE}, {h('p.redeemed_at')}",
        ),
    ]


def _moment(value: Any) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(moment, datetime)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _backfill(conn: sa.Connection) -> None:
    buckets: defaultdict[tuple[Any, ...], dict[str, float]] = defaultdict(
        lambda: dict.fromkeys((*COUNTERS, "cost"), 0)
    )
    for names, read in _reads(conn):
        for workspace, connector, number, purpose, campaign, hour, *counts in conn.execute(
            sa.text(read)
        ):
            bucket = buckets[(workspace, _moment(hour), connector, number, purpose, campaign)]
            for name, count in zip(names, counts, strict=True):
                bucket[name] += float(count or 0) if name == "cost" else int(count or 0)
    table = sa.table(
        "traffic_stats",
        *(sa.column(name, sa.Integer()) for name in
          ("workspace_id", "connector_id", "number_id", "campaign_id", *COUNTERS)),
        sa.column("hour", UtcDateTime(timezone=True)),
        sa.column("purpose", sa.String()),
        sa.column("cost", sa.Double()),
    )  # fmt: skip
    rows = [
        {"workspace_id": w, "hour": hour, "connector_id": c, "number_id": n, "purpose": p,
         "campaign_id": k, **counts}
        for (w, hour, c, n, p, k), counts in buckets.items()
    ]  # fmt: skip
    for start in range(0, len(rows), 5000):
        op.bulk_insert(table, rows[start : start + 5000])
