"""The connector log: every exchange with a carrier, kept per connector and message.

Connectors emit `LogEntry` events (credentials already redacted); this writes them
in batches, so the log costs one statement per batch however busy the carrier is.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from smscast.channels.base import LogEntry
from smscast.store.bulk import DriverValues, insert_rows
from smscast.store.messaging_models import ConnectorLogRow
from smscast.store.models import table_of

connector_log = table_of(ConnectorLogRow)
COLUMNS = (
    "connector_id", "kind", "request", "response", "duration_ms", "message_ids", "error", "at",
)  # fmt: skip
#: A request or response longer than this is cut (a garbage PDU can be 64 KiB of hex).
MAX_TEXT = 4000


def record_log_entries(conn: Connection, connector_id: int, entries: Sequence[LogEntry]) -> None:
    """Appends `entries` to the connector log of `connector_id`."""
    driver = DriverValues(conn)
    rows = [
        (
            connector_id,
            entry.kind[:40],
            _cut(entry.request),
            _cut(entry.response),
            float(entry.duration_ms),
            driver.json(list(entry.refs)),
            entry.error,
            driver.moment(entry.at),
        )
        for entry in entries
    ]
    insert_rows(conn, connector_log, COLUMNS, rows)


def _cut(value: str) -> str:
    return value if len(value) <= MAX_TEXT else value[:MAX_TEXT] + f"… ({len(value)} chars)"
