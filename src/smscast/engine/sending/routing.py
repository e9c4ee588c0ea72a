"""Where a message leaves from: its sender number and the connector that sends it.

A message may name its number (a campaign's `--from`, the number a ticket came in on);
otherwise the workspace's default number is used. The connector is the number's, else
the workspace's default connector. Launch writes rows in bulk without this lookup,
so `route_queued` completes them once a second.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from smscast.store.driver_sql import driver_sql, fetch
from smscast.store.messaging_models import Connector, Number
from smscast.store.models import Workspace, table_of

connectors = table_of(Connector)
numbers = table_of(Number)
workspaces = table_of(Workspace)
ROUTE_BATCH = 20_000
ROUTE_ROUNDS = 10  # at most ROUTE_BATCH × ROUTE_ROUNDS messages routed a second
NO_CONNECTOR = "no connector: add one with `smscast connectors add`"


@dataclass(frozen=True, slots=True)
class Routes:
    """A workspace's numbers and connectors, to fill in a message's missing route."""

    default_number: int | None
    default_connector: int | None
    connector_of_number: dict[int, int | None]

    def route(self, number_id: int | None, connector_id: int | None) -> tuple[Any, Any]:
        if number_id is None:
            number_id = self.default_number
        if connector_id is None:
            connector_id = self.connector_of_number.get(number_id or -1) or self.default_connector
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
    enabled = [
        row.id
        for row in conn.execute(
            select(connectors.c.id)
            .where(connectors.c.workspace_id == workspace_id, connectors.c.enabled.is_(True))
            .order_by(connectors.c.id)
        )
    ]
    wanted = settings.get("default_connector_id")
    default_connector = wanted if wanted in enabled else (enabled[0] if enabled else None)
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
    return Routes(default_number, default_connector, connector_of_number)


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
        connector_of_number = (
            "(SELECT n.connector_id FROM numbers n WHERE n.id = COALESCE(messages.number_id, ?))"
        )
        connector = f"COALESCE(connector_id, {connector_of_number}, ?)"
        statement = (
            f"UPDATE messages SET number_id = COALESCE(number_id, ?), connector_id = {connector}, "
            "send_after = COALESCE(send_after, created_at), "
            f"error = CASE WHEN {connector} IS NULL THEN ? ELSE error END "
            f"WHERE id IN (SELECT id FROM messages WHERE workspace_id = ? AND {unrouted} LIMIT ?)"
        )
        params = (number, number, routes.default_connector, number, routes.default_connector,
                  NO_CONNECTOR, workspace_id, ROUTE_BATCH)  # fmt: skip
        for _ in range(ROUTE_ROUNDS):
            cursor = conn.connection.cursor()
            try:
                cursor.execute(driver_sql(conn, statement), params)
                changed = cursor.rowcount
            finally:
                cursor.close()
            routed += changed
            if changed < ROUTE_BATCH or routes.default_connector is None:
                break
    return routed
