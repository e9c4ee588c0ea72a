"""Connector leases: one worker at a time talks to each side of a carrier connection.

A worker holds a connector's sending side while `lease_owner` is its id and
`lease_until` is in the future, renewing well before that. When the holder dies, the
lease runs out and another worker takes the connector over. The dispatcher's claim
checks the lease in the same statement, so a worker that lost its lease claims nothing
more.

An SMPP connector configured as a transceiver also has a receiving side with a lease of
its own (`receive_owner`, `receive_until`), so that on a busy carrier the delivery
reports and the sends need not share one process (one core). What a worker takes
depends on its role (`smscast worker --role`):

- `all` (the default, and `smscast serve`) takes both leases at once and runs the
  connector as configured. When a split connector's side is free (its holder died) it
  takes that side alone, and the whole connector once both are free again.
- `transmit` takes the sending lease: it binds such a connector as transmitter and runs
  the dispatcher and the event pump.
- `receive` takes the receiving lease: it binds as receiver and runs the event pump only.

Connectors that are not split - other kinds, whose reports come from their send calls
or the web server's callbacks, and SMPP connectors configured to bind as transmitter -
are taken whole through the sending lease by `transmit` and `all` workers. An SMPP
connector configured as receiver is taken whole by an `all` worker, or its receiving
lease alone by a `receive` worker (which then sends nothing through it).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, case, or_, select, text

from smscast.store.bulk import DriverValues
from smscast.store.messaging_models import Connector
from smscast.store.models import table_of

connectors = table_of(Connector)


class WorkerRole(enum.StrEnum):
    """What a worker does; also what one runner does for one connector (its duty)."""

    ALL = "all"  # send and receive, on the connection as configured
    TRANSMIT = "transmit"  # the sending side: dispatcher and event pump
    RECEIVE = "receive"  # the receiving side: event pump only


WORKER_ROLES = tuple(role.value for role in WorkerRole)
_SEND = ("lease_owner", "lease_until")
_RECEIVE = ("receive_owner", "receive_until")
_COLUMNS = {
    WorkerRole.ALL: (_SEND, _RECEIVE),
    WorkerRole.TRANSMIT: (_SEND,),
    WorkerRole.RECEIVE: (_RECEIVE,),
}


@dataclass(frozen=True, slots=True)
class LeaseRow:
    """One enabled connector as the lease pass sees it."""

    id: int
    kind: str
    bind_mode: str  # SMPP's configured bind_mode ("transceiver" when unset); "" otherwise
    send_free: bool  # nobody else holds the sending side
    receive_free: bool  # nobody else holds the receiving side


def split_by_role(row: LeaseRow) -> bool:
    """Only a transceiver-configured SMPP connector has sides to share between workers."""
    return row.kind == "smpp" and row.bind_mode == "transceiver"


def duties_for(role: WorkerRole, row: LeaseRow) -> WorkerRole | None:
    """What a worker of `role` may take of `row` now, or None (see the module docstring)."""
    receiver_only = row.kind == "smpp" and row.bind_mode == "receiver"
    if role is WorkerRole.RECEIVE:
        if split_by_role(row) or receiver_only:
            return WorkerRole.RECEIVE if row.receive_free else None
        return None
    if role is WorkerRole.TRANSMIT:
        if receiver_only:
            return None
        return WorkerRole.TRANSMIT if row.send_free else None
    if row.send_free and row.receive_free:
        return WorkerRole.ALL
    if split_by_role(row):
        if row.send_free:
            return WorkerRole.TRANSMIT
        if row.receive_free:
            return WorkerRole.RECEIVE
    return None


def lease_rows(conn: Connection, worker: str, now: datetime) -> list[LeaseRow]:
    """Enabled connectors and which of their sides no live worker but this one holds."""
    send_free, receive_free = (
        or_(owner.is_(None), owner == worker, until.is_(None), until < now)
        for owner, until in (
            (connectors.c.lease_owner, connectors.c.lease_until),
            (connectors.c.receive_owner, connectors.c.receive_until),
        )
    )
    rows = conn.execute(
        select(
            connectors.c.id,
            connectors.c.kind,
            connectors.c.settings,
            case((send_free, True), else_=False),
            case((receive_free, True), else_=False),
        )
        .where(connectors.c.enabled.is_(True))
        .order_by(connectors.c.id)
    ).all()
    out = []
    for connector_id, kind, settings, send, receive in rows:
        mode = str(dict(settings or {}).get("bind_mode") or "transceiver") if kind == "smpp" else ""
        out.append(LeaseRow(connector_id, kind, mode, bool(send), bool(receive)))
    return out


def free_connectors(conn: Connection, worker: str, now: datetime) -> list[int]:
    """Enabled connectors whose sending side no live worker holds (or this worker does)."""
    return [row.id for row in lease_rows(conn, worker, now) if row.send_free]


def take_lease(
    conn: Connection,
    connector_id: int,
    worker: str,
    now: datetime,
    seconds: float,
    duty: WorkerRole = WorkerRole.TRANSMIT,
) -> bool:
    """Takes or renews the leases `duty` needs on `connector_id` (the sending one by
    default), all or none; False when another worker holds one of them."""
    driver = DriverValues(conn)
    columns = _COLUMNS[duty]
    sets = ", ".join(f"{owner} = :me, {until} = :until" for owner, until in columns)
    free = " AND ".join(
        f"({owner} IS NULL OR {owner} = :me OR {until} IS NULL OR {until} < :now)"
        for owner, until in columns
    )
    result = conn.execute(
        text(f"UPDATE connectors SET {sets} WHERE id = :id AND enabled = :yes AND {free}"),
        {
            "me": worker,
            "until": driver.moment(now + timedelta(seconds=seconds)),
            "id": connector_id,
            "yes": True,
            "now": driver.moment(now),
        },
    )
    return result.rowcount == 1


def release_lease(
    conn: Connection, connector_id: int, worker: str, duty: WorkerRole = WorkerRole.ALL
) -> None:
    """Gives up the sides `duty` held at once (clean stop), so another worker need not
    wait; a side another worker holds is left alone."""
    for owner, until in _COLUMNS[duty]:
        extra = (
            ", receive_connected = NULL, receive_detail = NULL" if owner == "receive_owner" else ""
        )
        conn.execute(
            text(
                f"UPDATE connectors SET {owner} = NULL, {until} = NULL{extra} "
                f"WHERE id = :id AND {owner} = :me"
            ),
            {"id": connector_id, "me": worker},
        )


def write_receive_state(
    conn: Connection, connector_id: int, worker: str, connected: bool, detail: str
) -> None:
    """What a receive-only holder sees of its connection, for `connectors state` and the
    dashboard (the sending side's holder writes `connector_states`)."""
    conn.execute(
        text(
            "UPDATE connectors SET receive_connected = :connected, receive_detail = :detail "
            "WHERE id = :id AND receive_owner = :me"
        ),
        {"connected": connected, "detail": detail[:2000], "id": connector_id, "me": worker},
    )


def bind_mode_for(kind: str, settings: dict[str, Any], duty: WorkerRole) -> str | None:
    """How a runner of `duty` binds: as its side of a split connector, else as configured
    (None)."""
    row = LeaseRow(0, kind, str(settings.get("bind_mode") or "transceiver"), True, True)
    if duty is WorkerRole.ALL or not split_by_role(row):
        return None
    return "transmitter" if duty is WorkerRole.TRANSMIT else "receiver"
