"""The dispatcher: claims due messages of one connector and feeds them to it.

Each step is one transaction that records the submit results that came back and
claims as many due messages as the connector has room for; the claimed messages
are then handed to the connector (which pipelines them within its window). At
most `in_flight` messages are ever claimed and unanswered, so a crash leaves at
most that many with an unknown outcome; and at most half a second of the
connector's rate is handed over at once, so pausing a campaign takes effect
within a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, bindparam, select

from smscast.channels.base import Connector, OutgoingMessage, SubmitOutcome, SubmitResult
from smscast.engine.db_thread import DbThread
from smscast.engine.metrics import instruments
from smscast.engine.metrics.instruments import DISPATCH_TRANSACTION, SubmitTimes
from smscast.engine.sending.dispatch_checks import check_before_sending
from smscast.engine.sending.outbox import (
    Claimed,
    RetryPolicy,
    claim_due,
    record_results,
    settle_unsendable,
)
from smscast.engine.sending.outgoing import OutgoingExtras
from smscast.engine.tally import Tally
from smscast.store.messaging_models import Number
from smscast.store.models import table_of

log = logging.getLogger("smscast.dispatcher")
numbers = table_of(Number)
Clock = Callable[[], datetime]
RETRY_S = 1.0  # after a failed transaction


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class DispatchLimits:
    """How much of the outbox one connector may hold at once."""

    in_flight: int  # claimed and not yet answered, at most
    least_claim: int  # claim only when this much room is free (or nothing is in flight)
    idle_s: float = 0.1  # how often an empty outbox is looked at again (a launch waits on it)

    @classmethod
    def for_connector(cls, window: int, rate_per_s: float, claim_batch: int) -> DispatchLimits:
        cap = max(1, min(window, claim_batch))
        if rate_per_s > 0:
            cap = min(cap, max(1, int(rate_per_s / 2)))
        return cls(in_flight=cap, least_claim=max(1, cap // 4))


@dataclass(slots=True)
class _Done:
    claimed: dict[int, Claimed]
    results: list[SubmitResult]


class Dispatcher:
    """Feeds one connector from the outbox until `stop` is called (see module docstring)."""

    def __init__(
        self,
        db: DbThread,
        connector: Connector,
        connector_id: int,
        worker: str,
        limits: DispatchLimits,
        retry: RetryPolicy,
        clock: Clock = utc_now,
        extras: OutgoingExtras | None = None,
        submitted: SubmitTimes | None = None,
    ) -> None:
        self.db = db
        self.connector = connector
        self.connector_id = connector_id
        self.worker = worker
        self.limits = limits
        self.retry = retry
        self.clock = clock
        self.extras = extras or OutgoingExtras(b"")
        self.in_flight = 0
        self.handed = 0  # messages handed to the connector since start
        self._done: list[_Done] = []
        self._wake = asyncio.Event()
        self._stopping = False
        self._sends: set[asyncio.Task[None]] = set()
        self._senders: dict[int, str] = {}
        # Counted a slice at a time; `submitted` (shared with the event pump) times the
        # delivery reports of what was accepted.
        self.metrics = instruments.Connector(connector_id, connector.name)
        self.metrics.window_size.set(limits.in_flight)
        self.submitted = submitted

    def stop(self) -> None:
        """Claims nothing more; `run` returns once every handed message has its result."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        limits = self.limits
        while True:
            room = limits.in_flight - self.in_flight
            may_claim = (
                not self._stopping
                and room >= (limits.least_claim if self.in_flight else 1)
                and self.connector.state().connected
            )
            done, self._done = self._done, []
            if not done and not may_claim:
                if self._stopping and not self._sends:
                    return
                await self._sleep(None if self.in_flight else limits.idle_s)
                continue
            try:
                batch = await self.db.run(self._step, done, room if may_claim else 0)
            except Exception:  # the database is away or locked: keep the answers, try again
                log.exception("connector %s: recording %d answer(s) failed; retrying",
                              self.connector.name, sum(len(d.results) for d in done))  # fmt: skip
                self._done = done + self._done
                await asyncio.sleep(RETRY_S)
                continue
            if batch:
                self._hand(batch)
            elif not done:
                await self._sleep(limits.idle_s)

    async def _sleep(self, timeout: float | None) -> None:
        self._wake.clear()
        if self._done or (self._stopping and not self._sends):
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    def _hand(self, batch: list[Claimed]) -> None:
        """Hands `batch` over in slices, so answers come back (and free room) slice by
        slice while the rest is still on the wire."""
        size = self.limits.least_claim
        for start in range(0, len(batch), size):
            chunk = batch[start : start + size]
            claimed = {message.id: message for message in chunk}
            outgoing = [
                self.extras.outgoing(message, self._senders.get(message.number_id or -1, ""))
                for message in chunk
            ]
            self.in_flight += len(chunk)
            self.handed += len(chunk)
            task = asyncio.create_task(self._send(claimed, outgoing))
            self._sends.add(task)
            task.add_done_callback(self._sends.discard)
        self.metrics.window_in_use.set(self.in_flight)

    async def _send(self, claimed: dict[int, Claimed], outgoing: list[OutgoingMessage]) -> None:
        try:
            results = await self.connector.send(outgoing)
        except Exception as error:  # a connector bug must not leave messages in limbo
            log.exception("connector %s failed a send", self.connector.name)
            results = [
                SubmitResult(m.ref, SubmitOutcome.UNKNOWN, (), "connector_error", str(error))
                for m in outgoing
            ]
        self._done.append(_Done(claimed, results))
        self.in_flight -= len(outgoing)
        self._wake.set()
        self.metrics.window_in_use.set(self.in_flight)
        self.metrics.count_submits(results)
        if self.submitted is not None:
            accepted = SubmitOutcome.ACCEPTED
            answered_at = self.clock().timestamp()
            self.submitted.note((r.ref for r in results if r.outcome is accepted), answered_at)

    # --- in the database thread ---------------------------------------------------------

    def _step(self, done: list[_Done], room: int) -> list[Claimed]:
        began = time.perf_counter()
        try:
            return self._record_and_claim(done, room)
        finally:
            DISPATCH_TRANSACTION.observe(time.perf_counter() - began)

    def _record_and_claim(self, done: list[_Done], room: int) -> list[Claimed]:
        now = self.clock()
        tally = Tally()
        to_send: list[Claimed] = []
        with self.db.engine.begin() as conn:
            for item in done:
                record_results(
                    conn,
                    connector_id=self.connector_id,
                    worker=self.worker,
                    claimed=item.claimed,
                    results=item.results,
                    now=now,
                    retry=self.retry,
                    tally=tally,
                )
            if room > 0:
                claimed = claim_due(
                    conn,
                    connector_id=self.connector_id,
                    worker=self.worker,
                    now=now,
                    limit=room,
                    validity=self.retry.validity,
                )
                if claimed:
                    to_send, held = check_before_sending(conn, claimed, now)
                    settle_unsendable(conn, held, now, tally)
                    self._learn_senders(conn, to_send)
                    self.extras.learn(conn, to_send)
            tally.write(conn)
        return to_send

    def _learn_senders(self, conn: Connection, batch: list[Claimed]) -> None:
        missing = {m.number_id for m in batch if m.number_id and m.number_id not in self._senders}
        if not missing:
            return
        rows = conn.execute(
            select(numbers.c.id, numbers.c.number).where(
                numbers.c.id.in_(bindparam("ids", expanding=True))
            ),
            {"ids": sorted(missing)},
        )
        self._senders.update((row.id, row.number) for row in rows)


def retry_policy(first_s: float, max_s: float, validity_hours: float) -> RetryPolicy:
    return RetryPolicy(first_s, max_s, timedelta(hours=validity_hours))
