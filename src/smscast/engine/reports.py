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

from sqlalchemy import Connection, bindparam, text

from smscast.channels.base import DeliveryReport, ReportState
from smscast.engine.outbox import FINAL_STATES
from smscast.engine.tally import Tally, read_moment
from smscast.store.bulk import DriverValues

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
    sent_at: datetime | None
    started: datetime
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
    known = _carrier_refs(conn, connector_id, [r.carrier_id for r in reports])
    message_ids = {ref for ref, _ in known.values()} | {r.ref for r in reports if r.ref}
    loaded = _messages(conn, message_ids)
    driver = DriverValues(conn)
    stored, new_refs, part_states = [], [], []
    seen: dict[str, str] = {}  # carrier ids given a final state in this batch
    applied = repeated = unmatched = late = 0
    tally = Tally()
    for report in reports:
        ref_state = known.get(report.carrier_id)
        message_id = ref_state[0] if ref_state else report.ref
        if message_id is not None and message_id not in loaded:
            message_id = None  # a ref for a message that is gone
        stored.append(
            {
                "c": connector_id,
                "m": message_id,
                "cid": report.carrier_id,
                "state": report.state.value,
                "code": report.error_code,
                "raw": report.raw,
                "at": driver.moment(now),
            }
        )
        final_state = MESSAGE_STATE.get(report.state)
        if message_id is None:
            unmatched += 1
            continue
        if final_state is None:
            continue  # intermediate (accepted, unknown): kept, changes nothing
        if (ref_state and ref_state[1]) or report.carrier_id in seen:
            repeated += 1
            continue
        seen[report.carrier_id] = report.state.value
        if ref_state is None:
            new_refs.append(
                {"c": connector_id, "cid": report.carrier_id, "m": message_id, "s": report.state}
            )
        else:
            part_states.append({"c": connector_id, "cid": report.carrier_id, "s": report.state})
        message = loaded[message_id]
        if now - (message.sent_at or message.started) > late_window:
            late += 1
            continue
        if _advance(message, final_state, report, now, tally):
            applied += 1
    _write(conn, stored, new_refs, part_states, loaded.values(), driver)
    tally.write(conn)
    return ReportOutcome(applied, repeated, unmatched, late)


def _advance(
    message: _Message, final_state: str, report: DeliveryReport, now: datetime, tally: Tally
) -> bool:
    """Counts one part's final report against its message; True if the message finished."""
    if message.status in FINAL_STATES:
        return False
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
    query = text(
        "SELECT carrier_id, message_id, state FROM carrier_refs "
        "WHERE connector_id = :c AND carrier_id IN :ids"
    ).bindparams(bindparam("ids", expanding=True))
    for start in range(0, len(unique), CHUNK):
        rows = conn.execute(query, {"c": connector_id, "ids": unique[start : start + CHUNK]})
        for row in rows:
            found[row.carrier_id] = (row.message_id, row.state)
    return found


def _messages(conn: Connection, ids: set[int]) -> dict[int, _Message]:
    loaded: dict[int, _Message] = {}
    unique = sorted(ids)
    query = text(
        "SELECT id, status, parts, parts_done, campaign_id, sent_at, created_at "
        "FROM messages WHERE id IN :ids"
    ).bindparams(bindparam("ids", expanding=True))
    for start in range(0, len(unique), CHUNK):
        for row in conn.execute(query, {"ids": unique[start : start + CHUNK]}):
            created = read_moment(row.created_at)
            assert created is not None
            loaded[row.id] = _Message(
                row.id,
                row.status,
                max(1, row.parts),
                row.parts_done,
                row.campaign_id,
                read_moment(row.sent_at),
                created,
            )
    return loaded


def _write(
    conn: Connection,
    stored: list[dict[str, object]],
    new_refs: list[dict[str, object]],
    part_states: list[dict[str, object]],
    loaded: Iterable[_Message],
    driver: DriverValues,
) -> None:
    conn.execute(
        text(
            "INSERT INTO delivery_reports "
            "(connector_id, message_id, carrier_id, state, error_code, raw, received_at) "
            "VALUES (:c, :m, :cid, :state, :code, :raw, :at)"
        ),
        stored,
    )
    if new_refs:
        conn.execute(
            text(
                "INSERT INTO carrier_refs (connector_id, carrier_id, message_id, part, state) "
                "VALUES (:c, :cid, :m, 0, :s) ON CONFLICT DO NOTHING"
            ),
            new_refs,
        )
    if part_states:
        conn.execute(
            text(
                "UPDATE carrier_refs SET state = :s "
                "WHERE connector_id = :c AND carrier_id = :cid AND state IS NULL"
            ),
            part_states,
        )
    changed = [m for m in loaded if m.changed]
    finished = [m for m in changed if m.was]
    counting = [m for m in changed if not m.was]
    if finished:
        conn.execute(
            text(
                "UPDATE messages SET status = :status, parts_done = :done, error_code = :code, "
                "done_at = :done_at WHERE id = :id AND status = :was"
            ),
            [
                {
                    "id": m.id,
                    "status": m.status,
                    "done": m.parts_done,
                    "code": m.error_code,
                    "done_at": driver.moment(m.done_at) if m.done_at else None,
                    "was": m.was,
                }
                for m in finished
            ],
        )
    if counting:
        conn.execute(
            text("UPDATE messages SET parts_done = :done WHERE id = :id"),
            [{"id": m.id, "done": m.parts_done} for m in counting],
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
            "OR (valid_until IS NULL AND sent_at < :oldest)) RETURNING campaign_id"
        ),
        {"now": driver.moment(now), "oldest": driver.moment(now - late_window)},
    ).all()
    tally = Tally()
    for row in rows:
        tally.add(row.campaign_id, now, expired=1)
    tally.write(conn)
    return len(rows)
