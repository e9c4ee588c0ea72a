"""What a connector tells us, persisted: delivery reports, inbound texts, its log.

Events are gathered for up to 50 ms or 1000 events and written in one transaction,
so a carrier reporting thousands of deliveries a second costs tens of transactions,
not thousands. Inbound texts go to the inbound router (`engine.inbound`) a batch at a
time. Only after a batch is committed are its events acknowledged to the connector
(`ack`), which then tells the carrier: what a crash interrupts is sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select

from smscast.channels.base import (
    AddressGone,
    ChannelEvent,
    Connector,
    DeliveryReport,
    InboundMessage,
    LogEntry,
    ReportState,
    SubmitResult,
)
from smscast.config import Settings
from smscast.engine.db_thread import DbThread
from smscast.engine.delivery.address_gone import record_addresses_gone
from smscast.engine.delivery.reports import apply_reports
from smscast.engine.metrics import instruments
from smscast.engine.metrics.instruments import (
    INBOUND_TRANSACTION,
    REPORTS_TRANSACTION,
    SubmitTimes,
    observe_many,
)
from smscast.engine.sending.connector_log import record_log_entries
from smscast.store.messaging_models import Message, Number
from smscast.store.models import Contact, table_of

log = logging.getLogger("smscast.events")
messages = table_of(Message)
numbers = table_of(Number)
contacts = table_of(Contact)
GATHER_S = 0.05
GATHER_MAX = 1000
BACKLOG_MAX = 50_000  # events read but not yet written; beyond it reading waits
RETRY_S = 1.0  # between attempts to write a batch the database refused
WRITE_ATTEMPTS_AT_STOP = 3
#: Report states that finish a message: the first of them times its delivery report.
FINAL_REPORTS = frozenset({ReportState.DELIVERED, ReportState.UNDELIVERED, ReportState.EXPIRED,
                           ReportState.REJECTED, ReportState.DELETED})  # fmt: skip


class EventPump:
    """Reads one connector's events until they end, writing them in batches."""

    def __init__(
        self,
        db: DbThread,
        settings: Settings,
        connector: Connector,
        connector_id: int,
        workspace_id: int,
        clock: Callable[[], datetime],
        submitted: SubmitTimes | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.connector = connector
        self.connector_id = connector_id
        self.workspace_id = workspace_id
        self.clock = clock
        self.late_window = timedelta(hours=settings.dlr_late_window_hours)
        self.reports_written = 0
        # Counted a batch at a time; `submitted` (the dispatcher's, when this process
        # sends through the connector too) gives each final report its latency.
        self.metrics = instruments.Connector(connector_id, connector.name)
        self.submitted = submitted
        self._pending: list[ChannelEvent] = []
        self._arrived = asyncio.Event()
        self._full = asyncio.Event()
        self._drained = asyncio.Event()
        self._ended = False

    async def run(self) -> None:
        reader = asyncio.create_task(self._read())
        try:
            await self._flush_until_ended()
        finally:
            reader.cancel()

    async def _read(self) -> None:
        try:
            async for event in self.connector.events():
                if isinstance(event, SubmitResult):
                    continue  # results come back from send(); nothing more to do here
                self._pending.append(event)
                self._arrived.set()
                if len(self._pending) >= GATHER_MAX:
                    self._full.set()
                if len(self._pending) >= BACKLOG_MAX:
                    self._drained.clear()
                    await self._drained.wait()
        finally:
            self._ended = True
            self._arrived.set()
            self._full.set()

    async def _flush_until_ended(self) -> None:
        while True:
            await self._arrived.wait()
            if not self._ended:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), GATHER_S)
            batch, self._pending = self._pending, []
            self._arrived.clear()
            self._full.clear()
            self._drained.set()
            if batch:
                await self._write(batch)
            if self._ended and not self._pending:
                return

    async def _write(self, batch: list[ChannelEvent]) -> None:
        reports = [e for e in batch if isinstance(e, DeliveryReport)]
        entries = [e for e in batch if isinstance(e, LogEntry)]
        inbound = [e for e in batch if isinstance(e, InboundMessage)]
        gone = [e for e in batch if isinstance(e, AddressGone)]
        attempt = 0
        while reports or entries or gone:
            attempt += 1
            try:
                await self.db.run(self._write_reports, reports, entries, gone)
                acknowledge(reports)
                acknowledge(gone)
                self._count(reports)
                break
            except Exception:
                # Held, not dropped: while this waits, reading stops at BACKLOG_MAX and the
                # carrier is told to retry its reports later.
                log.exception("connector %s: writing %d report(s) failed (attempt %d)",
                              self.connector.name, len(reports), attempt)  # fmt: skip
                if self._ended and attempt >= WRITE_ATTEMPTS_AT_STOP:
                    log.error("connector %s: %d report(s) not recorded", self.connector.name,
                              len(reports))  # fmt: skip
                    break
                await asyncio.sleep(RETRY_S)
        if inbound:
            await self._write_inbound(inbound)

    async def _write_inbound(self, inbound: list[InboundMessage]) -> None:
        """Routes a batch; when it fails, each text alone, so one bad text holds up no
        other. A text never stored is never acknowledged: the carrier sends it again."""
        try:
            await self._inbound(inbound)
            acknowledge(inbound)
            return
        except Exception:
            log.exception("connector %s: %d inbound text(s) not handled", self.connector.name,
                          len(inbound))  # fmt: skip
        if len(inbound) == 1:
            return
        for message in inbound:
            try:
                await self._inbound([message])
                acknowledge([message])
            except Exception:
                log.exception("connector %s: inbound text from %s not handled; the carrier "
                              "sends it again", self.connector.name, message.sender)  # fmt: skip

    def _count(self, reports: list[DeliveryReport]) -> None:
        """A written batch of reports in the metrics: by state, and the latency of each
        message's first final report."""
        if not reports:
            return
        self.metrics.count_reports(report.state.value for report in reports)
        if self.submitted is not None and len(self.submitted):
            finals = (report.ref for report in reports if report.state in FINAL_REPORTS)
            latencies = self.submitted.take(finals, self.clock().timestamp())
            observe_many(self.metrics.dlr_latency, latencies)

    def _write_reports(
        self, reports: list[DeliveryReport], entries: list[LogEntry], gone: list[AddressGone]
    ) -> None:
        began = time.perf_counter()
        try:
            self._write_reports_now(reports, entries, gone)
        finally:
            REPORTS_TRANSACTION.observe(time.perf_counter() - began)

    def _write_reports_now(
        self, reports: list[DeliveryReport], entries: list[LogEntry], gone: list[AddressGone]
    ) -> None:
        with self.db.engine.begin() as conn:
            if reports:
                apply_reports(conn, self.connector_id, reports, self.clock(), self.late_window)
                self.reports_written += len(reports)
            if gone:
                # After the reports: a bounce's report marks its message first.
                record_addresses_gone(conn, self.workspace_id, self.connector_id, gone,
                                      self.clock())  # fmt: skip
            if entries:
                record_log_entries(conn, self.connector_id, entries)

    async def _inbound(self, batch: list[InboundMessage]) -> None:
        """To the inbound router (`engine.inbound`), a batch at a time where it takes one."""
        try:
            module = importlib.import_module("smscast.engine.inbound.receive")
        except ImportError:
            await self.db.run(self._store_inbound, batch)
            return
        engine, settings, connector_id = self.db.engine, self.settings, self.connector_id
        handle_batch = getattr(module, "handle_inbound_batch", None)
        if handle_batch is not None:
            results = await self.db.run(_timed, handle_batch, engine, settings, connector_id,
                                        batch)  # fmt: skip
            instruments.count_decisions(_routes(results))
            return
        handle: Callable[..., Any] = module.handle_inbound
        for message in batch:
            if inspect.iscoroutinefunction(handle):
                result = await handle(engine, settings, connector_id, message)
            else:
                result = await self.db.run(_timed, handle, engine, settings, connector_id,
                                           message)  # fmt: skip
            instruments.count_decisions(_routes([result]))

    def _store_inbound(self, batch: list[InboundMessage]) -> None:
        """Keeps inbound texts as message rows where no inbound router is installed."""
        with self.db.engine.begin() as conn:
            for message in batch:
                store_inbound_row(conn, self.workspace_id, self.connector_id, message)


def _timed(handle: Callable[..., Any], *args: Any) -> Any:
    """Runs an inbound batch's transaction, timed for the metrics."""
    began = time.perf_counter()
    try:
        return handle(*args)
    finally:
        INBOUND_TRANSACTION.observe(time.perf_counter() - began)


def _routes(results: Any) -> list[str]:
    """The router's decisions among what the inbound router answered (results with a
    `route`; anything else - an older router's None - counts for nothing)."""
    if not isinstance(results, list):
        return []
    return [route for result in results if isinstance(route := getattr(result, "route", None), str)]


def acknowledge(events: Sequence[DeliveryReport | InboundMessage | AddressGone]) -> None:
    """Lets the connector answer the carrier for events that are now committed."""
    for event in events:
        if event.ack is not None:
            event.ack()


def store_inbound_row(
    conn: Connection, workspace_id: int, connector_id: int, message: InboundMessage
) -> int:
    number_id = conn.execute(
        select(numbers.c.id).where(
            numbers.c.workspace_id == workspace_id,
            numbers.c.number.in_([message.recipient, message.recipient.lstrip("+")]),
        )
    ).scalar()
    contact_id = conn.execute(
        select(contacts.c.id).where(
            contacts.c.workspace_id == workspace_id,
            contacts.c.phone.in_([message.sender, "+" + message.sender.lstrip("+")]),
        )
    ).scalar()
    return int(
        conn.execute(
            insert(messages)
            .values(
                workspace_id=workspace_id,
                direction="in",
                kind="inbound",
                purpose="informational",
                contact_id=contact_id,
                phone=message.sender,
                number_id=number_id,
                body=message.text,
                parts=message.parts,
                status="received",
                connector_id=connector_id,
                created_at=message.received_at,
                done_at=message.received_at,
            )
            .returning(messages.c.id)
        ).scalar_one()
    )
