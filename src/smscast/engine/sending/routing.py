"""Where a message leaves from: its sender number and the connector that sends it.

A message may name its number (a campaign's `--from`, the number a ticket came in on);
otherwise the workspace's default number is used. An SMS's connector is the number's,
else the workspace's default SMS connector. On the other channels (email, WhatsApp,
push, voice) the connector is the workspace's `default_connector_<channel>` setting,
else its first enabled connector of a kind of that channel (`core.channels`). Launch
writes rows in bulk without this lookup, so `route_queued` completes them once a second.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from smscast.core.channels import KINDS_OF_CHANNEL, Channel, channel_of_kind
from smscast.store.driver_sql import driver_sql, fetch
from smscast.store.messaging_models import Connector, Number
from smscast.store.models import Workspace, table_of

connectors = table_of(Connector)
numbers = table_of(Number)
workspaces = table_of(Workspace)
ROUTE_BATCH = 20_000
ROUTE_ROUNDS = 10  # at most ROUTE_BATCH × ROUTE_ROUNDS messages routed a second
NO_CONNECTOR = "no connector: add one with `smscast connectors add`"
NO_CHANNEL_CONNECTOR = "no {channel} connector: add one with `smscast connectors add`"


@dataclass(frozen=True, slots=True)
class Routes:
    """A workspace's numbers and connectors, to fill in a message's missing route."""

    default_number: int | None
    default_connector: int | None  # the default SMS connector
    connector_of_number: dict[int, int | None]
    connector_of_channel: dict[str, int] = field(default_factory=dict)  # beside SMS
    channel_of_connector: dict[int, str] = field(default_factory=dict)

    def route(
        self, number_id: int | None, connector_id: int | None, channel: str = Channel.SMS
    ) -> tuple[Any, Any]:
        if number_id is None:
            number_id = self.default_number
        if connector_id is None:
            own = self.connector_of_number.get(number_id or -1)
            if own is not None and self.channel_of_connector.get(own) == channel:
                connector_id = own
            elif channel != Channel.SMS:
                connector_id = self.connector_of_channel.get(channel)
            else:
                connector_id = self.default_connector
        return number_id, connector_id


def load_routes(conn: Connection, workspace_id: int) -> Routes:
    """Default connector: the workspace's `default_connector_id` setting, else its first
    enabled connector. Default sender: `default_number_id`, else a number on that
    connector, else its first number."""
    settings = (
        conn.execute(
            select(workspaces.c.settings).where(workspaces.c.id == workspace_id)
        ).scalar_one_or_none()
        or {}
    )
    by_channel: dict[str, list[int]] = {}
    channel_of_connector: dict[int, str] = {}
    for row in conn.execute(
        select(connectors.c.id, connectors.c.kind, connectors.c.enabled)
        .where(connectors.c.workspace_id == workspace_id)
        .order_by(connectors.c.id)
    ):
        channel_of_connector[row.id] = channel_of_kind(row.kind)
        if row.enabled:
            by_channel.setdefault(channel_of_kind(row.kind), []).append(row.id)
    enabled = by_channel.get(Channel.SMS, [])
    wanted = settings.get("default_connector_id")
    default_connector = wanted if wanted in enabled else (enabled[0] if enabled else None)
    connector_of_channel = {}
    for channel, ids in by_channel.items():
        if channel != Channel.SMS:
            chosen = settings.get(f"default_connector_{channel}")
            connector_of_channel[channel] = chosen if chosen in ids else ids[0]
    owned = conn.execute(
        select(numbers.c.id, numbers.c.connector_id)
        .where(numbers.c.workspace_id == workspace_id)
        .order_by(numbers.c.id)
    ).all()
    connector_of_number = {row.id: row.connector_id for row in owned}
    default_number = settings.get("default_number_id")
    if default_number not in connector_of_number:
        on_default = [n for n, c in connector_of_number.items() if c == default_connector]
        default_number = (on_default or list(connector_of_number) or [None])[0]
    return Routes(default_number, default_connector, connector_of_number, connector_of_channel,
                  channel_of_connector)  # fmt: skip


def route_queued(conn: Connection, now: datetime) -> int:
    """Fills the connector, sender number and due time of queued messages that lack them.

    Campaign launch writes rows in bulk without looking these up; this pass (run each
    second) completes them, a workspace at a time, in set-based updates. A message
    left without a connector stays queued, with an error saying why, until a
    connector is added.
    """
    del now  # routing needs no clock; kept for a uniform housekeeping signature
    unrouted = "status = 'queued' AND (connector_id IS NULL OR send_after IS NULL)"
    found = fetch(conn, f"SELECT DISTINCT workspace_id FROM messages WHERE {unrouted}")
    workspace_ids = [row[0] for row in found]
    routed = 0
    for workspace_id in workspace_ids:
        routes = load_routes(conn, workspace_id)
        number = routes.default_number
        for channel in Channel:
            # The sender number's own connector when it speaks this channel, else the
            # workspace's default for the channel.
            kinds = ", ".join(f"'{kind}'" for kind in KINDS_OF_CHANNEL[channel])
            own = (
                "(SELECT n.connector_id FROM numbers n JOIN connectors c ON c.id = n.connector_id"
                f" WHERE n.id = COALESCE(messages.number_id, ?) AND c.kind IN ({kinds}))"
            )
            chosen = (
                routes.default_connector
                if channel == Channel.SMS
                else routes.connector_of_channel.get(channel)
            )
            statement = _route_statement(
                f"COALESCE(connector_id, {own}, ?)", f"{unrouted} AND channel = '{channel.value}'"
            )
            why = (
                NO_CONNECTOR
                if channel == Channel.SMS
                else NO_CHANNEL_CONNECTOR.format(channel=channel.value)
            )
            params = (number, number, chosen, number, chosen, why, workspace_id, ROUTE_BATCH)
            routed += _route_rounds(conn, statement, params, chosen is not None)
    return routed


def _route_statement(connector: str, unrouted: str) -> str:
    return (
        f"UPDATE messages SET number_id = COALESCE(number_id, ?), connector_id = {connector}, "
        "send_after = COALESCE(send_after, created_at), "
        f"error = CASE WHEN {connector} IS NULL THEN ? ELSE error END "
        f"WHERE id IN (SELECT id FROM messages WHERE workspace_id = ? AND {unrouted} LIMIT ?)"
    )


def _route_rounds(conn: Connection, statement: str, params: tuple[Any, ...], more: bool) -> int:
    """Runs one routing update until it changes fewer rows than a batch (or once, when
    the rows stay unrouted for want of a connector)."""
    routed = 0
    for _ in range(ROUTE_ROUNDS):
        cursor = conn.connection.cursor()
        try:
            cursor.execute(driver_sql(conn, statement), params)
            changed = cursor.rowcount
        finally:
            cursor.close()
        routed += changed
        if changed < ROUTE_BATCH or not more:
            break
    return routed
