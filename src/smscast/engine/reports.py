"""Delivery reports: each part's report counted once, each message finished once.

A report names a part by the carrier's id. It is matched through `carrier_refs`
(connector, carrier id) - or, when the connector still remembered the id, through
the message id it gives - and counts only the first time: the part's `state` is
set once and a repeated report changes nothing. A multipart message is delivered
when every part is; any part that fails finishes it as undelivered or expired.
Reports are applied up to `late_window` after sending (72 h by default); later
ones, unmatched ones and repeats are kept in `delivery_reports` all the same.

Messages that got no final report by the end of their validity are marked expired
by `expire_silent`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, text

from smscast.channels.base import DeliveryReport, ReportState
from smscast.engine.message_events import StatusChange, queue_message_events
from smscast.engine.outbox import FINAL_STATES
from smscast.engine.tally import Tally
from smscast.store.bulk import DriverValues
from smscast.store.driver_sql import execute_many, fetch, in_list

#: What each final report state makes of the message it concerns.
MESSAGE_STATE = {
    ReportState.DELIVERED: "delivered",
    ReportState.UNDELIVERED: "undelivered",
    ReportState.REJECTED: "undelivered",
    ReportState.DELETED: "undelivered",
    ReportState.EXPIRED: "expired",
}
#: States a report may move a message out of.
OPEN_STATES = frozenset({"sending", "sent", "unknown"})
CHUNK = 500


@dataclass(slots=True)
class _Message:
    id: int
    status: str
    parts: int
    parts_done: int
    campaign_id: int | None
    since: Any  # sent_at (or created_at), as the driver gives it: compared, not parsed
    workspace_id: int = 0
    callback: bool = False  # has a callback URL
    changed: bool = False
    error_code: str | None = None
    done_at: datetime | None = None
    was: str = ""


@dataclass(frozen=True, slots=True)
class ReportOutcome:
    """How many reports of a batch moved a message on, and how many were only kept."""

    applied: int
    repeated: int
    unmatched: int
    late: int


def apply_reports(
    conn: Connection,
    connector_id: int,
    reports: Sequence[DeliveryReport],
    now: datetime,
    late_window: timedelta,
) -> ReportOutcome:
    """Records every report and moves the messages they finish, in one transaction."""
    if not reports:
        return ReportOutcome(0, 0, 0, 0)
    loaded = _messages(conn, {r.ref for r in reports if r.ref})
    # Single-part messages the connector matched need no lookup: their own status
    # says whether they were already reported. Parts of long ones are counted by id.
    lookup = [
        r.carrier_id
        for r in reports
        if r.ref is None or r.ref not in loaded or loaded[r.ref].parts > 1
    ]
    known = _carrier_refs(conn, connector_id, lookup)
    loaded.update(_messages(conn, {ref for ref, _ in known.values()} - loaded.keys()))
    driver = DriverValues(conn)
    at = driver.moment(now)
    oldest = driver.moment(now - late_window)
    stored: list[tuple[Any, ...]] = []
    new_refs: list[tuple[Any, ...]] = []
    part_states: list[tuple[Any, ...]] = []
    seen: set[str] = set()  # carrier ids given a final state in this batch
    applied = repeated = unmatched = late = 0
    tally = Tally()
    for report in reports:
        ref_state = known.get(report.carrier_id)
        message_id = ref_state[0] if ref_state else report.ref
        message = loaded.get(message_id) if message_id is not None else None
        state = report.state.value
        stored.append((connector_id, message.id if message else None, report.carrier_id, state,
                       report.error_code, report.raw, at))  # fmt: skip
        if message is None:
            unmatched += 1
            continue
        final_state = MESSAGE_STATE.get(report.state)
        if final_state is None:
            continue  # intermediate (accepted, unknown): kept, changes nothing
        if (ref_state and ref_state[1]) or report.carrier_id in seen:
            repeated += 1
            continue
        seen.add(report.carrier_id)
        if message.parts > 1 or ref_state is not None:
            if ref_state is None:
                new_refs.append((connector_id, report.carrier_id, message.id, state))
            else:
                part_states.append((state, connector_id, report.carrier_id))
        if message.since < oldest:
            late += 1
        elif message.status in FINAL_STATES:
            repeated += 1
        elif _advance(message, final_state, report, now, tally):
            applied += 1
    _write(conn, stored, new_refs, part_states, loaded.values(), driver)
    tally.write(conn)
    finished = [m for m in loaded.values() if m.was]
    queue_message_events(
        conn, [StatusChange(m.id, m.workspace_id, m.status, m.callback) for m in finished], now
    )
    return ReportOutcome(applied, repeated, unmatched, late)


def _advance(
    message: _Message, final_state: str, report: DeliveryReport, now: datetime, tally: Tally
) -> bool:
    """Counts one part's final report against its message; True if the message finished."""
    if final_state == "delivered":
        message.parts_done += 1
        message.changed = True
        if message.parts_done < message.parts:
            return False
    message.was = message.was or message.status
    message.status = final_state
    message.error_code = report.error_code if final_state != "delivered" else None
    message.done_at = report.done_at or now
    message.changed = True
    deltas = {final_state: 1}
    if message.was == "unknown":  # the carrier had it after all
        deltas.update(unknown=-1, sent=1)
    tally.add(message.campaign_id, now, **deltas)
    return True


def _carrier_refs(
    conn: Connection, connector_id: int, carrier_ids: list[str]
) -> dict[str, tuple[int, str | None]]:
    """carrier id → (message id, part state already reported or None)."""
    found: dict[str, tuple[int, str | None]] = {}
    unique = sorted(set(carrier_ids))
    for start in range(0, len(unique), CHUNK):
        chunk = unique[start : start + CHUNK]
        rows = fetch(
            conn,
            "SELECT carrier_id, message_id, state FROM carrier_refs "
            f"WHERE connector_id = ? AND carrier_id IN {in_list(len(chunk))}",
            (connector_id, *chunk),
        )
        for carrier_id, message_id, state in rows:
            found[carrier_id] = (message_id, state)
    return found


def _messages(conn: Connection, ids: set[int]) -> dict[int, _Message]:
    loaded: dict[int, _Message] = {}
    unique = sorted(ids)
    for start in range(0, len(unique), CHUNK):
        chunk = unique[start : start + CHUNK]
        rows = fetch(
            conn,
            "SELECT id, status, parts, parts_done, campaign_id, COALESCE(sent_at, created_at), "
            "workspace_id, callback_url IS NOT NULL "
            f"FROM messages WHERE id IN {in_list(len(chunk))}",
            tuple(chunk),
        )
        for id_, status, parts, parts_done, campaign_id, since, workspace_id, callback in rows:
            loaded[id_] = _Message(id_, status, max(1, parts), parts_done, campaign_id, since,
                                   workspace_id, bool(callback))  # fmt: skip
    return loaded


def _write(
    conn: Connection,
    stored: list[tuple[Any, ...]],
    new_refs: list[tuple[Any, ...]],
    part_states: list[tuple[Any, ...]],
    loaded: Iterable[_Message],
    driver: DriverValues,
) -> None:
    execute_many(
        conn,
        "INSERT INTO delivery_reports "
        "(connector_id, message_id, carrier_id, state, error_code, raw, received_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        sorted(stored, key=lambda row: row[1] or 0),  # in index order: fewer pages touched
    )
    execute_many(
        conn,
        "INSERT INTO carrier_refs (connector_id, carrier_id, message_id, part, state) "
        "VALUES (?, ?, ?, 0, ?) ON CONFLICT DO NOTHING",
        new_refs,
    )
    execute_many(
        conn,
        "UPDATE carrier_refs SET state = ? "
        "WHERE connector_id = ? AND carrier_id = ? AND state IS NULL",
        part_states,
    )
    changed = sorted((m for m in loaded if m.changed), key=lambda m: m.id)
    execute_many(
        conn,
        "UPDATE messages SET status = ?, parts_done = ?, error_code = ?, done_at = ? "
        "WHERE id = ? AND status = ?",
        [
            (
                m.status,
                m.parts_done,
                m.error_code,
                driver.moment(m.done_at) if m.done_at else None,
                m.id,
                m.was,
            )
            for m in changed
            if m.was
        ],
    )
    execute_many(
        conn,
        "UPDATE messages SET parts_done = ? WHERE id = ?",
        [(m.parts_done, m.id) for m in changed if not m.was],
    )


def expire_silent(conn: Connection, now: datetime, late_window: timedelta) -> int:
    """Sent messages with no final report by the end of their validity become `expired`.

    Without a validity of their own, a message waits the whole late-report window.
    """
    driver = DriverValues(conn)
    rows = conn.execute(
        text(
            "UPDATE messages SET status = 'expired', error_code = 'no_report', done_at = :now, "
            "error = 'no delivery report by the end of its validity' "
            "WHERE status = 'sent' AND ((valid_until IS NOT NULL AND valid_until < :now) "
            "OR (valid_until IS NULL AND sent_at < :oldest)) "
            "RETURNING id, campaign_id, workspace_id, callback_url"
        ),
        {"now": driver.moment(now), "oldest": driver.moment(now - late_window)},
    ).all()
    tally = Tally()
    for row in rows:
        tally.add(row.campaign_id, now, expired=1)
    tally.write(conn)
    queue_message_events(
        conn,
        [StatusChange(r.id, r.workspace_id, "expired", r.callback_url is not None) for r in rows],
        now,
    )
    return len(rows)
