"""The outbox: every outgoing text is a row here, and the row is the dispatcher's task.

A message moves queued → sending → sent | failed | unknown | back to queued (a
temporary failure, later by backoff) and from sent on to delivered | undelivered
| expired (see `reports`). `sending` is committed before a message is handed to
the connector, so a crash can never make us send it twice: whatever a dead worker
left in `sending` becomes `unknown` (reported, not resent). The dispatcher claims
no more than the connector's window at a time, which bounds those unknowns.

On PostgreSQL claims use FOR UPDATE SKIP LOCKED and are fenced by the connector's
lease, so any number of workers share the outbox; SQLite has one writer anyway.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, text

from smscast.channels.base import SubmitOutcome, SubmitResult
from smscast.core.channels import PART_COUNTED
from smscast.core.encoding import analyse, check_sendable
from smscast.core.errors import UserError
from smscast.core.national import NationalTables, national_label
from smscast.engine.delivery.message_events import StatusChange, queue_message_events
from smscast.engine.sending.national_tables import national_tables_of
from smscast.engine.sending.routing import Routes, load_routes
from smscast.engine.tally import Tally, read_moment
from smscast.engine.traffic import TrafficKey
from smscast.store.bulk import DriverValues
from smscast.store.driver_sql import execute_many, fetch, insert_values, update_by_ids
from smscast.store.messaging_models import Connector, Message, Number
from smscast.store.models import Workspace, table_of

messages = table_of(Message)
connectors = table_of(Connector)
numbers = table_of(Number)
workspaces = table_of(Workspace)

#: States a message never leaves (the late-report window aside, see `reports`).
FINAL_STATES = frozenset({"delivered", "undelivered", "expired", "failed", "cancelled"})
#: Campaign states whose messages wait in the outbox instead of going out.
HELD_CAMPAIGN_STATES = ("draft", "paused", "cancelled")


@dataclass(slots=True)
class Claimed:
    """What the dispatcher keeps of a claimed message until its submit result."""

    id: int
    workspace_id: int
    phone: str
    body: str
    number_id: int | None
    campaign_id: int | None
    contact_id: int | None
    kind: str
    purpose: str
    parts: int
    cost: float
    valid_until: datetime | None
    deadline: datetime  # validity end: retries stop here
    attempts: int
    callback: bool = False  # has a callback URL: its status changes are posted there
    national: str | None = None  # national shift tables it was counted with ("tr/tr")
    connector_id: int = 0  # the connector that claimed it: the one it leaves through
    channel: str = "sms"
    address: str | None = None  # the recipient when it is not `phone` (core.channels)
    payload: dict[str, Any] | None = None  # the channel's content beside the body

    @property
    def recipient(self) -> str:
        """Where it goes on its channel: the address, else the phone."""
        return self.address or self.phone

    def changed_to(self, status: str) -> StatusChange:
        return StatusChange(self.id, self.workspace_id, status, self.callback)

    def route(self) -> TrafficKey:
        """Where its outcome is counted in `traffic_stats`."""
        return (self.workspace_id, self.connector_id, self.number_id or 0, self.purpose,
                self.campaign_id or 0)  # fmt: skip


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long to wait before resending after a temporary failure."""

    first_s: float = 5.0
    max_s: float = 300.0
    validity: timedelta = timedelta(hours=48)  # for messages without valid_until

    def delay(self, attempts: int, retry_after: float | None) -> timedelta:
        backoff = min(self.max_s, self.first_s * 2 ** max(0, attempts - 1))
        return timedelta(seconds=max(backoff, retry_after or 0.0))


# --- enqueue ---------------------------------------------------------------------------


def enqueue_messages(conn: Connection, rows: list[dict[str, Any]]) -> list[int]:
    """Inserts outgoing messages as `queued`; returns their ids in the order given.

    Keys are Message columns. `workspace_id`, `phone`, `body` and `kind` are required;
    the sender number and connector default to the workspace's (see `routing`),
    `send_after` to `created_at`, encoding and parts to what the body needs with the
    national shift tables the connector allows (the pair chosen kept in `national`).
    An empty body is refused: there is nothing to send.
    """
    if not rows:
        return []
    known = set(messages.c.keys())
    prepared: list[dict[str, Any]] = []
    routes: dict[int, Routes] = {}
    tables: dict[int | None, NationalTables] = {}
    for index, row in enumerate(rows):
        unknown = sorted(set(row) - known)
        if unknown:
            raise UserError.of(
                "unknown_field", f"message {index}: no message field {', '.join(unknown)}"
            )
        for key in ("workspace_id", "phone", "body", "kind"):
            if row.get(key) is None or (key != "body" and not row[key]):
                raise UserError.of("missing_field", f"message {index}: {key} is missing", field=key)
        try:
            check_sendable(row["body"], field="body")
        except UserError as error:
            raise UserError.of(error.problem.code, f"message {index}: {error}",
                               field="body") from None  # fmt: skip
        values = _with_defaults(index, row)
        workspace_id = values["workspace_id"]
        if workspace_id not in routes:
            routes[workspace_id] = load_routes(conn, workspace_id)
        values["number_id"], values["connector_id"] = routes[workspace_id].route(
            values.get("number_id"), values.get("connector_id"), values.get("channel", "sms")
        )
        connector_id = values["connector_id"]
        if connector_id not in tables:
            tables[connector_id] = national_tables_of(conn, connector_id)
        _count_parts(index, values, tables[connector_id])
        prepared.append(values)
    # Multi-row INSERTs, grouped by column set. Asking the driver to sort RETURNING by
    # parameter order makes SQLAlchemy insert row by row on SQLite (13,000 statements
    # for a batch of answers); ids are handed out ascending in row order within one
    # transaction (as store.bulk relies on too), so sorting them restores the order.
    groups: dict[tuple[str, ...], list[int]] = {}
    for index, values in enumerate(prepared):
        groups.setdefault(tuple(sorted(values)), []).append(index)
    ids: list[int] = [0] * len(prepared)
    statement = insert(messages).returning(messages.c.id)
    for indexes in groups.values():
        result = conn.execute(statement, [prepared[i] for i in indexes])
        for index, message_id in zip(indexes, sorted(r[0] for r in result), strict=True):
            ids[index] = message_id
    return ids


def _with_defaults(index: int, row: dict[str, Any]) -> dict[str, Any]:
    values = dict(row)
    values.setdefault("direction", "out")
    values.setdefault("purpose", "informational")
    values["status"] = "queued"
    values.setdefault("created_at", datetime.now(UTC))
    if values.get("send_after") is None:
        values["send_after"] = values["created_at"]
    for key, default in (("parts_done", 0), ("attempts", 0), ("cost", 0), ("run", 0)):
        values.setdefault(key, default)
    return values


def _count_parts(index: int, values: dict[str, Any], tables: NationalTables) -> None:
    """Encoding, parts and national tables of a message, unless its caller gave them.

    Only SMS is counted in parts; a message on another channel is one unit, UTF-8.
    """
    if "encoding" in values and "parts" in values:
        return
    if values.get("channel", "sms") not in PART_COUNTED:
        values.setdefault("encoding", "UTF-8")
        values.setdefault("parts", 1)
        return
    try:
        info = analyse(values["body"], tables=tables)
    except UserError as error:
        raise UserError.of("bad_text", f"message {index}: {error}", field="body") from None
    values.setdefault("encoding", info.encoding.value)
    values.setdefault("parts", info.parts)
    values.setdefault("national", national_label(info.national))


# --- claiming --------------------------------------------------------------------------

_CLAIM = """
UPDATE messages SET status = 'sending', claimed_by = ?
WHERE id IN (
    SELECT id FROM messages
    WHERE connector_id = ? AND status = 'queued' AND send_after <= ?
      AND (campaign_id IS NULL OR campaign_id NOT IN (
          SELECT id FROM campaigns WHERE status IN ('draft', 'paused', 'cancelled')))
    ORDER BY send_after
    LIMIT ? {lock}
)
AND EXISTS (
    SELECT 1 FROM connectors WHERE id = ? AND lease_owner = ? AND lease_until > ?)
RETURNING id, workspace_id, phone, body, number_id, campaign_id, contact_id, kind, purpose,
          parts, cost, valid_until, created_at, attempts, callback_url, national, channel,
          address, payload
"""


def claim_due(
    conn: Connection,
    *,
    connector_id: int,
    worker: str,
    now: datetime,
    limit: int,
    validity: timedelta,
) -> list[Claimed]:
    """Marks up to `limit` due messages of `connector_id` as `sending` by `worker`.

    Only a worker holding the connector's lease claims anything (the lease is checked
    in the same statement). Messages of paused, cancelled or draft campaigns are not
    claimed.
    """
    lock = "FOR UPDATE SKIP LOCKED" if conn.dialect.name == "postgresql" else ""
    at = DriverValues(conn).moment(now)
    rows = fetch(
        conn,
        _CLAIM.format(lock=lock),
        (worker, connector_id, at, limit, connector_id, worker, at),
    )
    moments: dict[Any, datetime | None] = {}  # a launch gives many rows the same times

    def moment(value: Any) -> datetime | None:
        if value not in moments:
            moments[value] = read_moment(value)
        return moments[value]

    claimed = []
    for (id_, workspace_id, phone, body, number_id, campaign_id, contact_id, kind, purpose,
         parts, cost, valid_until, created_at, attempts, callback_url,
         national, channel, address, payload) in rows:  # fmt: skip
        valid = moment(valid_until)
        deadline = valid or (moment(created_at) or now) + validity
        row = Claimed(id_, workspace_id, phone, body, number_id, campaign_id, contact_id, kind,
                      purpose, parts, float(cost or 0), valid, deadline, attempts,
                      callback_url is not None, national, connector_id, channel or "sms",
                      address, _json_of(payload))  # fmt: skip
        claimed.append(row)
    claimed.sort(key=lambda c: c.id)
    return claimed


def _json_of(value: Any) -> dict[str, Any] | None:
    """A JSON column read through a plain cursor: text on SQLite, a dict on PostgreSQL."""
    if value is None or isinstance(value, dict):
        return value
    parsed = json.loads(value)
    return parsed if isinstance(parsed, dict) else None


def settle_unsendable(
    conn: Connection,
    outcomes: Sequence[tuple[Claimed, str, str, str | None, datetime | None]],
    now: datetime,
    tally: Tally,
) -> None:
    """Claimed messages that must not go now: (message, status, error_code, error, send_after).

    status `queued` puts one back for later (quiet hours), keeping when it was due in
    `due_at` (the first time quiet hours moved it); `cancelled` (consent withdrawn) and
    `expired` (validity over before it could go) end it.
    """
    if not outcomes:
        return
    driver = DriverValues(conn)
    at = driver.moment(now)
    rows = []
    changes: list[StatusChange] = []
    for message, status, code, error, send_after in outcomes:
        final = status != "queued"
        after = at if send_after is None else driver.moment(send_after)
        rows.append((status, code, error, status, after, at if final else None, message.id))
        if final:
            tally.add(message.campaign_id, now, message.route(), queued=-1,
                      **{_counter_of(status, code): 1})  # fmt: skip
        if status == "expired":
            changes.append(message.changed_to(status))
    update_by_ids(
        conn,
        "UPDATE messages SET status = ?, error_code = ?, error = ?, "
        "due_at = CASE WHEN ? = 'queued' THEN COALESCE(due_at, send_after) ELSE due_at END, "
        "send_after = ?, done_at = ?, claimed_by = NULL WHERE id {ids} AND status = 'sending'",
        rows,
    )
    queue_message_events(conn, changes, now)


def _counter_of(status: str, code: str) -> str:
    if status == "cancelled":
        return f"excluded_{code}" if code in ("opted_out", "no_consent") else "failed"
    return status


# --- submit results --------------------------------------------------------------------


def record_results(
    conn: Connection,
    *,
    connector_id: int,
    worker: str,
    claimed: dict[int, Claimed],
    results: Sequence[SubmitResult],
    now: datetime,
    retry: RetryPolicy,
    tally: Tally,
) -> None:
    """Writes what the connector said about each message it was handed.

    Every change is guarded by `status = 'sending' AND claimed_by = worker`: a worker
    that lost its connector's lease to another (which marked its messages unknown)
    cannot overwrite that verdict.
    """
    driver = DriverValues(conn)
    at = driver.moment(now)
    sent: list[tuple[Any, ...]] = []
    refs: list[tuple[Any, ...]] = []
    retries: list[tuple[Any, ...]] = []
    ended: list[tuple[Any, ...]] = []
    changes: list[StatusChange] = []
    # Sent texts are counted per campaign and route, not one by one: most of a batch
    # shares both, and a counter change per text was a tenth of this function's time.
    accepted: dict[tuple[int | None, TrafficKey], list[float]] = {}
    for result in results:
        message = claimed[result.ref]
        attempts = message.attempts + 1
        outcome = result.outcome
        if outcome is SubmitOutcome.ACCEPTED:
            parts = len(result.carrier_ids) or message.parts
            sent.append((at, at, at, parts, attempts, message.id))
            refs.extend(
                (connector_id, carrier_id, part, message.id)
                for part, carrier_id in enumerate(result.carrier_ids)
            )
            key = (message.campaign_id, message.route())
            counts = accepted.get(key)
            if counts is None:
                counts = accepted[key] = [0, 0, 0.0]
            counts[0] += 1
            counts[1] += parts
            counts[2] += message.cost
            changes.append(message.changed_to("sent"))
            continue
        if outcome is SubmitOutcome.TEMPORARY:
            due = now + retry.delay(attempts, result.retry_after)
            if due <= message.deadline:
                error = _attempt_error(attempts, result)
                retries.append((driver.moment(due), attempts, result.error_code, error, message.id))
                continue
            status, code = "expired", "validity_ended"
            reason = result.error or result.error_code
            error = f"validity ended before a retry could go: {reason}"
        elif outcome is SubmitOutcome.PERMANENT:
            status, code, error = "failed", result.error_code or "refused", result.error or ""
        else:
            status, code, error = "unknown", result.error_code or "no_answer", result.error or ""
        done_at = at if status != "unknown" else None
        ended.append((status, code, error, attempts, done_at, message.id))
        tally.add(message.campaign_id, now, message.route(), queued=-1, **{status: 1})
        changes.append(message.changed_to(status))
    for (campaign_id, route), (sent_count, parts_sent, cost) in accepted.items():
        tally.add(campaign_id, now, route, sent=sent_count, queued=-sent_count, parts=parts_sent,
                  cost=cost)  # fmt: skip
    guard = "WHERE id {ids} AND status = 'sending' AND claimed_by = ?"
    # A report may have come before the answer and already finished the message:
    # then only its sending time is filled in, and its end moved up to it, so a
    # message never ends before it was sent. Its error (the report's) is kept.
    updated = update_by_ids(
        conn,
        "UPDATE messages SET status = CASE WHEN status = 'sending' THEN 'sent' ELSE status END, "
        "sent_at = COALESCE(sent_at, ?), "
        "done_at = CASE WHEN done_at < COALESCE(sent_at, ?) THEN COALESCE(sent_at, ?) "
        "ELSE done_at END, parts = ?, attempts = ?, "
        "error_code = CASE WHEN status = 'sending' THEN NULL ELSE error_code END, "
        "error = NULL WHERE id {ids} AND claimed_by = ? "
        "AND status IN ('sending', 'delivered', 'undelivered', 'expired')",
        sent,
        tail=(worker,),
    )
    # One carrier id may name an earlier message too (carriers reuse ids): each
    # message keeps its own row, and a report goes to the newest awaiting it.
    # Only for a message still there: one erased while the carrier had it is gone,
    # and its answer must not fail the whole batch's results. When the update above
    # found every message, all are there and the rows go in as plain VALUES: an
    # INSERT … SELECT costs SQLite several times more per row inside a transaction
    # that has already changed a batch of messages.
    every_one_there = updated == len(sent) == len({row[-1] for row in sent})
    head = "INSERT INTO carrier_refs (connector_id, carrier_id, part, message_id)"
    if every_one_there:
        insert_values(conn, head, refs, "ON CONFLICT DO NOTHING")
    else:
        execute_many(conn, f"{head} SELECT ?, ?, ?, id FROM messages WHERE id = ? "
                     "ON CONFLICT DO NOTHING", refs)  # fmt: skip
    update_by_ids(
        conn,
        "UPDATE messages SET status = 'queued', send_after = ?, attempts = ?, "
        f"claimed_by = NULL, error_code = ?, error = ? {guard}",
        retries,
        tail=(worker,),
    )
    update_by_ids(
        conn,
        "UPDATE messages SET status = ?, error_code = ?, error = ?, attempts = ?, "
        f"done_at = ? {guard}",
        ended,
        tail=(worker,),
    )
    queue_message_events(conn, changes, now)


def _attempt_error(attempts: int, result: SubmitResult) -> str:
    return f"attempt {attempts}: {result.error or result.error_code or 'temporary failure'}"


# --- recovery and housekeeping ---------------------------------------------------------


def mark_interrupted(conn: Connection, connector_id: int, now: datetime) -> list[int]:
    """Messages a dead worker left in `sending` become `unknown`: they may have gone.

    Run by the worker that has just taken the connector's lease, before it claims
    anything; returns the ids so they can be reported.
    """
    rows = conn.execute(
        text(
            "UPDATE messages SET status = 'unknown', error_code = 'interrupted', "
            "error = 'the worker sending it stopped before the carrier answered; not resent' "
            "WHERE connector_id = :c AND status = 'sending' "
            "RETURNING id, campaign_id, workspace_id, callback_url"
        ),
        {"c": connector_id},
    ).all()
    tally = Tally()
    for row in rows:  # `unknown` is no traffic counter: nothing for the route
        tally.add(row.campaign_id, now, queued=-1, unknown=1)
    tally.write(conn)
    queue_message_events(
        conn,
        [StatusChange(r.id, r.workspace_id, "unknown", r.callback_url is not None) for r in rows],
        now,
    )
    return sorted(row.id for row in rows)


def cancel_cancelled_campaigns(conn: Connection, now: datetime) -> int:
    """Queued messages of cancelled campaigns become `cancelled`, so nothing waits forever."""
    rows = conn.execute(
        text(
            "UPDATE messages SET status = 'cancelled', error_code = 'campaign_cancelled', "
            "done_at = :now WHERE status = 'queued' AND campaign_id IN "
            "(SELECT id FROM campaigns WHERE status = 'cancelled') RETURNING campaign_id"
        ),
        {"now": DriverValues(conn).moment(now)},
    ).all()
    tally = Tally()
    for row in rows:
        tally.add(row.campaign_id, now, queued=-1)
    tally.write(conn)
    return len(rows)


def outbox_counts(conn: Connection) -> dict[int | None, dict[str, int]]:
    """Messages per connector and status, for `smscast connectors state`."""
    per_status = " UNION ALL ".join(  # one equality each: the partial indexes serve them
        f"SELECT connector_id, '{status}' AS status, COUNT(*) AS n FROM messages "
        f"WHERE status = '{status}' "
        "AND direction = 'out' GROUP BY connector_id"
        for status in ("queued", "sending", "unknown")
    )
    rows = conn.execute(text(per_status)).all()
    counts: dict[int | None, dict[str, int]] = {}
    for row in rows:
        counts.setdefault(row.connector_id, {})[row.status] = row.n
    return counts
