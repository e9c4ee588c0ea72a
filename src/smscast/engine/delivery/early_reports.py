"""Delivery reports that reached a receive-only worker before their submit answer was
recorded by the transmitting one.

When one worker sends and another receives for the same SMPP connector (`smscast
worker --role transmit|receive`), the receiver's connector knows none of the carrier
ids: every report goes to the database to be matched by carrier id. A fast carrier
can report before the transmitting worker has committed the submit answer that names
the id; such a report is stored unmatched. This pass, run by the receiving side every
second, takes the recent unmatched reports whose carrier id has since been recorded
for the connector and applies them as if they had just come, so a report racing its
submit answer across two processes finishes its message as it would in one.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection

from smscast.channels.base import DeliveryReport, ReportState
from smscast.engine.delivery.reports import apply_reports
from smscast.engine.tally import read_moment
from smscast.store.bulk import DriverValues
from smscast.store.driver_sql import execute_many, fetch, in_list

#: How long an unmatched report is tried again: far beyond a transmitting worker's
#: commit, well short of the reports that are unmatched for good (restarts, strangers).
EARLY_WINDOW = timedelta(minutes=5)
BATCH = 500


def apply_early_reports(
    conn: Connection, connector_id: int, now: datetime, late_window: timedelta
) -> int:
    """Applies the connector's recent unmatched reports whose carrier id is now known;
    returns how many were taken up."""
    driver = DriverValues(conn)
    rows = fetch(
        conn,
        "SELECT id, carrier_id, state, error_code, raw, received_at FROM delivery_reports "
        "WHERE message_id IS NULL AND connector_id = ? AND received_at >= ? "
        f"ORDER BY id LIMIT {BATCH}",
        (connector_id, driver.moment(now - EARLY_WINDOW)),
    )
    if not rows:
        return 0
    carrier_ids = sorted({row[1] for row in rows})
    known = {
        found[0]
        for found in fetch(
            conn,
            "SELECT DISTINCT carrier_id FROM carrier_refs "
            f"WHERE connector_id = ? AND carrier_id IN {in_list(len(carrier_ids))}",
            (connector_id, *carrier_ids),
        )
    }
    taken = [row for row in rows if row[1] in known]
    if not taken:
        return 0
    execute_many(conn, "DELETE FROM delivery_reports WHERE id = ?", [(row[0],) for row in taken])
    reports = [
        DeliveryReport(
            carrier_id,
            ReportState(state),
            None,
            error_code,
            read_moment(received_at),  # the carrier's word came then, not now
            raw or "",
        )
        for _, carrier_id, state, error_code, raw, received_at in taken
    ]
    apply_reports(conn, connector_id, reports, now, late_window)
    return len(taken)
