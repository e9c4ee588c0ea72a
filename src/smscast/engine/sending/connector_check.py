"""Checking on a connector: testing its connection, and its throughput hour by hour.

`test_connector()` is the portal's "test connection" button: it tries the carrier with
the settings given (a new connector's, or a stored one's with the changes typed on
top, secrets left empty kept), the way the connector itself would connect, and sends
nothing (`channels.probe`). A stored connector's test exchanges go into its connector
log like every other exchange, credentials redacted.

Where a connector connects is its owner's choice, as for sending: the webhook address
policy (`core.addresses`) guards requests made to URLs any member types for callbacks,
while a connector's host — often Kannel or an SMSC on the same private network, or the
built-in simulator on loopback — is set only by those who may change connectors
(`connectors.write`), and the probe goes exactly where the connector would.

`connector_traffic()` reads the hourly traffic counters of one connector (never the
messages table): what it sent, in how many parts, delivered, failed and received.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from smscast.channels.probe import PROBE_TIMEOUT_S, ProbeResult, probe_http
from smscast.channels.providers.http_base import HttpSettings
from smscast.channels.smpp.probe import probe_smpp
from smscast.channels.smpp.settings import SmppSettings
from smscast.core.errors import UserError
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.sending.connector_log import record_log_entries
from smscast.engine.sending.connectors import (
    KINDS,
    ConnectorRow,
    build_connector,
    merged_settings,
    workspace_connector,
)
from smscast.engine.stats import hour_of
from smscast.store.models import table_of
from smscast.store.traffic_models import TrafficStats

traffic_stats = table_of(TrafficStats)
#: The counters a connector's throughput chart shows.
TRAFFIC = ("sent", "parts", "delivered", "failed", "inbound")


def test_connector(
    engine: Engine,
    workspace: WorkspaceRef,
    *,
    connector_id: int | None = None,
    kind: str = "",
    settings: dict[str, Any] | None = None,
    timeout_s: float = PROBE_TIMEOUT_S,
) -> ProbeResult:
    """Tries the carrier connection and says what happened; nothing is sent.

    With `connector_id`, the stored connector is tried with `settings` merged in as
    `update_connector` merges them (a key set to None is removed); without it, a new
    connector of `kind` with `settings`. Settings that make no connector are refused
    with the same UserError as adding it would be.
    """
    if connector_id is not None:
        with engine.connect() as conn:
            stored = workspace_connector(conn, workspace, connector_id)
        row = dataclasses.replace(stored, settings=merged_settings(stored.settings, settings))
    else:
        if kind not in KINDS:
            raise UserError.of(
                "unknown_connector_kind",
                f"kind {kind!r} is not one of {', '.join(KINDS)}",
                field="kind",
            )
        row = ConnectorRow(0, workspace.id, kind, kind, dict(settings or {}), 0.0, 1, True)
    connector_settings = build_connector(row).settings  # type: ignore[attr-defined]
    if isinstance(connector_settings, SmppSettings):
        result = _run(probe_smpp(connector_settings, timeout_s=timeout_s))
    else:
        assert isinstance(connector_settings, HttpSettings)
        result = _run(probe_http(connector_settings, timeout_s=timeout_s))
    if connector_id is not None:
        with engine.begin() as conn:
            record_log_entries(conn, connector_id, result.log)
    return result


# Its name is the use case's (the portal's button); pytest must not take it for a test
# when a test module imports it by name.
test_connector.__test__ = False  # type: ignore[attr-defined]


def _run(probe: Coroutine[Any, Any, ProbeResult]) -> ProbeResult:
    """Runs a probe to its end from synchronous code (a portal route's worker thread);
    called from inside an event loop, it runs on a loop of its own in another thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(probe)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, probe).result()


def connector_traffic(
    engine: Engine, workspace: WorkspaceRef, connector_id: int, *, since: datetime, until: datetime
) -> dict[str, Any]:
    """One connector's counters per hour from `since` to `until` (every hour present,
    empty ones as zeros, so a chart has no holes), and their totals.

    Read from the hourly counters through their primary key: a page view costs the same
    whether the connector sent ten texts or ten million.
    """
    if since.tzinfo is None or until.tzinfo is None or until <= since:
        raise UserError.of("invalid_range", "since and until need a time zone, in order",
                           field="since")  # fmt: skip
    t = traffic_stats.c
    first = hour_of(since.astimezone(UTC))
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.hour, *(func.sum(t[name]).label(name) for name in TRAFFIC[:3]),
                   func.sum(t.failed + t.undelivered).label("failed"),
                   func.sum(t.inbound).label("inbound"))
            .where(t.workspace_id == workspace.id, t.hour >= first,
                   t.hour < until.astimezone(UTC), t.connector_id == connector_id)
            .group_by(t.hour)
        ).all()  # fmt: skip
    found = {
        _utc(row.hour): {name: int(row._mapping[name] or 0) for name in TRAFFIC} for row in rows
    }
    hours: list[datetime] = []
    while first + timedelta(hours=len(hours)) < until:
        hours.append(first + timedelta(hours=len(hours)))
    counts = [found.get(at, dict.fromkeys(TRAFFIC, 0)) for at in hours]
    points = [{"at": at, **count} for at, count in zip(hours, counts, strict=True)]
    totals = {name: sum(count[name] for count in counts) for name in TRAFFIC}
    return {"since": first, "until": until, "points": points, "totals": totals}


def _utc(moment: datetime) -> datetime:
    """SQLite hands stored moments back without their zone; they are UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
