"""Connector leases: one worker at a time talks to each carrier connection.

A worker holds a connector while `lease_owner` is its id and `lease_until` is in
the future, renewing well before that. When the holder dies, the lease runs out
and another worker takes the connector over. The dispatcher's claim checks the
lease in the same statement, so a worker that lost its lease claims nothing more.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, text

from smscast.store.bulk import DriverValues


def free_connectors(conn: Connection, worker: str, now: datetime) -> list[int]:
    """Enabled connectors no live worker holds (or this worker already holds)."""
    rows = conn.execute(
        text(
            "SELECT id FROM connectors WHERE enabled = :yes AND (lease_owner IS NULL "
            "OR lease_owner = :me OR lease_until IS NULL OR lease_until < :now) ORDER BY id"
        ),
        {"yes": True, "me": worker, "now": DriverValues(conn).moment(now)},
    ).all()
    return [row.id for row in rows]


def take_lease(
    conn: Connection, connector_id: int, worker: str, now: datetime, seconds: float
) -> bool:
    """Takes or renews the lease on `connector_id`; False when another worker holds it."""
    driver = DriverValues(conn)
    result = conn.execute(
        text(
            "UPDATE connectors SET lease_owner = :me, lease_until = :until "
            "WHERE id = :id AND enabled = :yes AND (lease_owner IS NULL OR lease_owner = :me "
            "OR lease_until IS NULL OR lease_until < :now)"
        ),
        {
            "me": worker,
            "until": driver.moment(now + timedelta(seconds=seconds)),
            "id": connector_id,
            "yes": True,
            "now": driver.moment(now),
        },
    )
    return result.rowcount == 1


def release_lease(conn: Connection, connector_id: int, worker: str) -> None:
    """Gives the connector up at once (clean stop), so another worker need not wait."""
    conn.execute(
        text(
            "UPDATE connectors SET lease_owner = NULL, lease_until = NULL "
            "WHERE id = :id AND lease_owner = :me"
        ),
        {"id": connector_id, "me": worker},
    )
