"""Delivery reports: each part's report counted once, each message finished once.

A report names a part by the carrier's id. Carriers hand the same id out again
(after a restart the simulator counts from 1), so one id may name several of our
messages over time: a report goes to the newest message of its connector with that
id that still awaits a report inside `late_window` (72 h by default). The id the
connector remembered (`ref`) decides between several that await one; a ref naming a
message that no longer awaits a report (the connector's memory predates the restart)
does not override the database. A message finished (delivered, undelivered, failed,
cancelled, or expired by a report) is never changed again; one that `expire_silent`
gave up on still awaits its report until the window closes, since the report is the
truth. A report that finds no message awaiting it - every candidate final or too old
- or that several could take is written to the connector log, not silently applied.

Each part's first report counts: its `carrier_refs.state` is set once, and a repeated
report changes nothing. A multipart message is delivered when every part is; any part
that fails finishes it as undelivered or expired. Every report, matched or not, is
kept in `delivery_reports`. A batch costs one lookup by message id (the refs the
connector gave) and, for the reports those do not settle - no ref, a ref to a message
no longer awaiting a report, a part of a long message - one indexed lookup of carrier
ids joined to their messages; never a query per report.

Messages that got no final report by the end of their validity are marked expired
by `expire_silent`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, text

from smscast.channels.base import DeliveryReport, LogEntry, ReportState
from smscast.engine.delivery.message_events import StatusChange, queue_message_events
from smscast.engine.sending.connector_log import record_log_entries
from smscast.engine.tally import Tally, read_moment
from smscast.engine.traffic import TrafficKey, traffic_key
from smscast.store.bulk import DriverValues
from smscast.store.driver_sql import (
    execute_many,
    fetch,
    id_list,
    id_set,
    insert_values,
    update_by_ids,
)

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
#: error_code of a message `expire_silent` gave up on: a report may still finish it.
NO_REPORT = "no_report"
CHUNK = 5000  # ids per lookup: one statement for a whole batch of reports


@dataclass(slots=True, eq=False)
class _Message:
    id: int
    status: str
    parts: int
    parts_done: int
    campaign_id: int | None
    since: Any  # sent_at (or created_at), as the driver gives it: compared, not parsed
    sent_at: Any  # as the driver gives it; parsed only when a report finishes the message
    workspace_id: int = 0
    callback: bool = False  # has a callback URL
    route: TrafficKey | None = None  # where its outcome is counted in traffic_stats
    changed: bool = False
    error_code: str | None = None
    done_at: datetime | None = None
    was: str = ""

    def awaits_report(self) -> bool:
        """Open, or expired only because no report came (the report is the truth)."""
        return self.status in OPEN_STATES or (
            self.status == "expired" and self.error_code == NO_REPORT and not self.was
        )


@dataclass(slots=True, eq=False)
class _Ref:
    """One message a carrier id names, and what its part was reported as."""

    message: _Message
    state: str | None
    stored: bool  # a carrier_refs row exists (the submit answer was recorded)


@dataclass(frozen=True, slots=True)
class ReportOutcome:
    """How many reports of a batch moved a message on, and how many were only kept."""

    applied: int
    repeated: int
    unmatched: int
    late: int
    clashed: int = 0  # found only final messages, or several awaiting: in the connector log


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
    # The connector's ref settles a one-part message that awaits its report (the
    # common case: no carrier id lookup). Every other report - no ref, a ref to a
    # message no longer awaiting one, a part of a long message - is looked up by id.
    loaded = _messages(conn, {r.ref for r in reports if r.ref is not None})
    lookup = [r.carrier_id for r in reports if not _settled_by_ref(r, loaded)]
    refs = _candidates(conn, connector_id, lookup, loaded)
    driver = DriverValues(conn)
    at = driver.moment(now)
    oldest = driver.moment(now - late_window)
    stored: list[tuple[Any, ...]] = []
    new_refs: list[tuple[Any, ...]] = []
    part_states: list[tuple[Any, ...]] = []
    clashes: list[LogEntry] = []
    applied = repeated = unmatched = late = clashed = 0
    finished_alike: _Finished = {}
    moments: dict[Any, datetime | None] = {}  # a submit batch shares one sent_at: parse it once
    alone = _named_once(reports, refs)
    for report in reports:
        message = None
        if report.ref is not None and report.carrier_id in alone:
            message = loaded.get(report.ref)
        if (message is not None and message.parts == 1 and message.awaits_report()
                and message.since >= oldest):  # fmt: skip
            # What `_match` says of it, without the candidate list kept for the reports
            # after it: none of them names this carrier id. Most reports go this way, and
            # objects kept per report make Python's collector sweep the heap more often.
            candidates: list[_Ref] = []
            ref, verdict = None, "apply"
        else:
            candidates = refs.setdefault(report.carrier_id, [])
            ref, verdict = _match(report, candidates, loaded, oldest)
            message = ref.message if ref is not None else None
        state = report.state.value
        stored.append((connector_id, message.id if message else None, report.carrier_id, state,
                       report.error_code, report.raw, at))  # fmt: skip
        final_state = MESSAGE_STATE.get(report.state)
        if verdict == "unmatched":
            unmatched += 1
            continue
        if final_state is None:
            continue  # intermediate (accepted, unknown): kept, changes nothing
        if verdict == "repeat":
            repeated += 1
            continue
        if verdict in ("clash", "ambiguous"):
            clashes.append(_clash_entry(report, candidates, ref, verdict, now))
            if verdict == "clash":
                clashed += 1
                continue
        assert message is not None
        if ref is not None:
            ref.state = state
        # A one-part message's own status says it was reported, unless it came too late.
        if message.parts > 1 or verdict == "late":
            assert ref is not None
            if not ref.stored:  # the report beat the submit answer
                new_refs.append((connector_id, report.carrier_id, message.id))
                ref.stored = True
            part_states.append((state, connector_id, report.carrier_id, message.id))
        if verdict == "late":
            late += 1
            clashes.append(_clash_entry(report, candidates, ref, verdict, now))
        elif _advance(message, final_state, report, now, finished_alike, moments):
            applied += 1
    _write(conn, stored, new_refs, part_states, loaded.values(), driver)
    if clashes:
        record_log_entries(conn, connector_id, clashes)
    tally = Tally()
    for (campaign_id, route, deltas), count in finished_alike.items():
        tally.add(campaign_id, now, route, **{name: value * count for name, value in deltas})
    tally.write(conn)
    finished = [m for m in loaded.values() if m.was]
    queue_message_events(
        conn, [StatusChange(m.id, m.workspace_id, m.status, m.callback) for m in finished], now
    )
    return ReportOutcome(applied, repeated, unmatched, late, clashed)


def _match(
    report: DeliveryReport, candidates: list[_Ref], loaded: dict[int, _Message], oldest: Any
) -> tuple[_Ref | None, str]:
    """The message part a report concerns, and what to do with it.

    "apply" (or "ambiguous": applied to the newest of several awaiting), "late",
    "repeat" (this part was reported already: a one-part message that is final was
    finished by its report), "clash" (only messages finished otherwise carry the id)
    or "unmatched".
    """
    if report.ref is not None:
        named = None
        for candidate in candidates:  # a plain loop: most reports have no candidate here
            if candidate.message.id == report.ref:
                named = candidate
                break
        if named is None and report.ref in loaded:
            # Its submit answer is not recorded yet: the connector's ref is all we have.
            named = _Ref(loaded[report.ref], None, stored=False)
            candidates.append(named)
        if (named is not None and named.state is None and named.message.awaits_report()
                and named.message.since >= oldest):  # fmt: skip
            return named, "apply"
    awaiting = [c for c in candidates if c.state is None and c.message.awaits_report()]
    in_window = [c for c in awaiting if c.message.since >= oldest]
    if in_window:
        newest = max(in_window, key=lambda c: (c.message.since, c.message.id))
        return newest, "apply" if len(in_window) == 1 else "ambiguous"
    if not candidates:
        return None, "unmatched"
    if awaiting:
        return max(awaiting, key=lambda c: (c.message.since, c.message.id)), "late"
    reported = [c for c in candidates if c.state is not None or c.message.parts == 1]
    if reported:
        return max(reported, key=lambda c: (c.message.since, c.message.id)), "repeat"
    return None, "clash"


def _named_once(reports: Sequence[DeliveryReport], refs: dict[str, list[_Ref]]) -> set[str]:
    """Carrier ids that only one report of the batch names and that no stored carrier
    id matched: matching such a report concerns no other report."""
    once: set[str] = set()
    more: set[str] = set()
    for report in reports:
        (more if report.carrier_id in once else once).add(report.carrier_id)
    more.update(refs)
    return once - more


def _settled_by_ref(report: DeliveryReport, loaded: dict[int, _Message]) -> bool:
    message = loaded.get(report.ref) if report.ref is not None else None
    return message is not None and message.parts == 1 and message.awaits_report()


def _clash_entry(
    report: DeliveryReport, candidates: list[_Ref], chosen: _Ref | None, verdict: str,
    now: datetime,
) -> LogEntry:  # fmt: skip
    """A connector log line saying why a report was not simply applied."""
    named = ", ".join(f"message {c.message.id} ({c.message.status})" for c in candidates)
    if verdict == "clash":
        why = f"names only messages already final: {named}; not applied"
    elif verdict == "late":
        why = f"came after the late-report window of {named}; kept, not applied"
    else:
        applied_to = chosen.message.id if chosen is not None else None
        why = (f"names several messages awaiting a report: {named}; "
               f"applied to the newest, message {applied_to}")  # fmt: skip
    return LogEntry(
        connector="",
        kind=f"report_{verdict}",
        request=report.raw,
        response="",
        duration_ms=0.0,
        at=now,
        refs=tuple(sorted(c.message.id for c in candidates)),
        error=f"delivery report {report.state.value} for carrier id {report.carrier_id} {why}",
    )


_Finished = dict[tuple[int | None, TrafficKey | None, tuple[tuple[str, int], ...]], int]
"""Messages finished alike (campaign, route, counter changes) → how many: a batch's
counters are added per kind, not per report."""


def _advance(
    message: _Message, final_state: str, report: DeliveryReport, now: datetime,
    tally: _Finished, moments: dict[Any, datetime | None],
) -> bool:  # fmt: skip
    """Counts one part's final report against its message; True if the message finished."""
    if final_state == "delivered":
        message.parts_done += 1
        message.changed = True
        if message.parts_done < message.parts:
            return False
    message.was = message.was or message.status
    message.status = final_state
    message.error_code = report.error_code if final_state != "delivered" else None
    # A carrier's clock (or a report's minute-only "done" date, or a report that beat
    # the submit answer) can put the end before the start: it is never before sending.
    done_at = report.done_at or now
    if message.sent_at not in moments:
        moments[message.sent_at] = read_moment(message.sent_at)
    sent_at = moments[message.sent_at]
    message.done_at = max(done_at, sent_at) if sent_at is not None else done_at
    message.changed = True
    deltas = {final_state: 1}
    if message.was == "unknown":  # the carrier had it after all
        deltas.update(unknown=-1, sent=1)
    elif message.was == "expired":  # given up on for want of a report, which came
        deltas["expired"] = deltas.get("expired", 0) - 1
    key = (message.campaign_id, message.route, tuple(deltas.items()))
    tally[key] = tally.get(key, 0) + 1
    return True


def _candidates(
    conn: Connection, connector_id: int, carrier_ids: list[str], loaded: dict[int, _Message]
) -> dict[str, list[_Ref]]:
    """carrier id → every message of the connector it names, with its part's state."""
    found: dict[str, list[_Ref]] = {}
    unique = sorted(set(carrier_ids))
    for start in range(0, len(unique), CHUNK):
        chunk = unique[start : start + CHUNK]
        rows = fetch(
            conn,
            "SELECT r.carrier_id, r.state, m.id, m.status, m.error_code, m.parts, m.parts_done, "
            "m.campaign_id, COALESCE(m.sent_at, m.created_at), m.sent_at, m.workspace_id, "
            "m.callback_url IS NOT NULL, m.connector_id, m.number_id, m.purpose "
            "FROM carrier_refs r JOIN messages m ON m.id = r.message_id "
            f"WHERE r.connector_id = ? AND r.carrier_id {id_set(conn)}",
            (connector_id, id_list(conn, chunk)),
        )
        for carrier_id, state, *message in rows:
            row = _message_of(message)
            row = loaded.setdefault(row.id, row)
            found.setdefault(carrier_id, []).append(_Ref(row, state, stored=True))
    return found


def _messages(conn: Connection, ids: set[int]) -> dict[int, _Message]:
    loaded: dict[int, _Message] = {}
    unique = sorted(ids)
    for start in range(0, len(unique), CHUNK):
        chunk = unique[start : start + CHUNK]
        rows = fetch(
            conn,
            "SELECT id, status, error_code, parts, parts_done, campaign_id, "
            "COALESCE(sent_at, created_at), sent_at, workspace_id, callback_url IS NOT NULL, "
            "connector_id, number_id, purpose "
            f"FROM messages WHERE id {id_set(conn)}",
            (id_list(conn, chunk),),
        )
        for row in rows:
            message = _message_of(row)
            loaded[message.id] = message
    return loaded


def _message_of(row: Sequence[Any]) -> _Message:
    (id_, status, error_code, parts, parts_done, campaign_id, since, sent_at, workspace_id,
     callback, connector_id, number_id, purpose) = row  # fmt: skip
    route = (workspace_id, connector_id or 0, number_id or 0, purpose, campaign_id or 0)
    return _Message(id_, status, max(1, parts), parts_done, campaign_id, since, sent_at,
                    workspace_id, bool(callback), route, error_code=error_code)  # fmt: skip


def _write(
    conn: Connection,
    stored: list[tuple[Any, ...]],
    new_refs: list[tuple[Any, ...]],
    part_states: list[tuple[Any, ...]],
    loaded: Iterable[_Message],
    driver: DriverValues,
) -> None:
    insert_values(
        conn,
        "INSERT INTO delivery_reports "
        "(connector_id, message_id, carrier_id, state, error_code, raw, received_at)",
        sorted(stored, key=lambda row: row[1] or 0),  # in index order: fewer pages touched
    )
    # The part of a report that beat its submit answer: the answer's insert finds it.
    insert_values(
        conn,
        "INSERT INTO carrier_refs (connector_id, carrier_id, message_id, part)",
        [(*row, 0) for row in new_refs],
        "ON CONFLICT DO NOTHING",
    )
    execute_many(
        conn,
        "UPDATE carrier_refs SET state = ? "
        "WHERE connector_id = ? AND carrier_id = ? AND message_id = ? AND state IS NULL",
        part_states,
    )
    changed = sorted((m for m in loaded if m.changed), key=lambda m: m.id)
    # Most of a batch ends at one moment (the sending time of its submit batch):
    # each distinct one is converted for the driver once.
    ends: dict[datetime | None, Any] = {None: None}
    finished = []
    for m in changed:
        if not m.was:
            continue
        if m.done_at is not None and m.done_at not in ends:
            ends[m.done_at] = driver.moment(m.done_at)
        finished.append((m.status, m.parts_done, m.error_code, ends[m.done_at], m.was,
                         "sent" if m.was == "sending" else m.was, m.id))  # fmt: skip
    # A message read as `sending` may have been marked `sent` by the dispatcher's
    # commit since (the report raced the submit answer): the report still finishes it.
    update_by_ids(
        conn,
        "UPDATE messages SET status = ?, parts_done = ?, error_code = ?, error = NULL, "
        "done_at = ? WHERE status IN (?, ?) AND id {ids}",
        finished,
    )
    update_by_ids(
        conn,
        "UPDATE messages SET parts_done = ? WHERE id {ids}",
        [(m.parts_done, m.id) for m in changed if not m.was],
    )


def expire_silent(conn: Connection, now: datetime, late_window: timedelta) -> int:
    """Sent messages with no final report by the end of their validity become `expired`.

    Without a validity of their own, a message waits the whole late-report window.
    A report that still comes inside that window finishes it all the same (see
    `apply_reports`): the carrier's word is the truth, the expiry only our guess.
    """
    driver = DriverValues(conn)
    rows = conn.execute(
        text(
            "UPDATE messages SET status = 'expired', error_code = :code, "
            # another worker's clock may be ahead of ours: never end before sending
            "done_at = CASE WHEN sent_at > :now THEN sent_at ELSE :now END, "
            "error = 'no delivery report by the end of its validity' "
            "WHERE status = 'sent' AND ((valid_until IS NOT NULL AND valid_until < :now) "
            "OR (valid_until IS NULL AND sent_at < :oldest)) "
            "RETURNING id, campaign_id, workspace_id, callback_url, connector_id, number_id, "
            "purpose"
        ),
        {
            "now": driver.moment(now),
            "oldest": driver.moment(now - late_window),
            "code": NO_REPORT,
        },
    ).all()
    tally = Tally()
    for row in rows:
        tally.add(row.campaign_id, now,
                  traffic_key(row.workspace_id, row.connector_id, row.number_id, row.purpose,
                              row.campaign_id), expired=1)  # fmt: skip
    tally.write(conn)
    queue_message_events(
        conn,
        [StatusChange(r.id, r.workspace_id, "expired", r.callback_url is not None) for r in rows],
        now,
    )
    return len(rows)
