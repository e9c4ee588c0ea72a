"""One held connector at work: connected, fed by a dispatcher, its events persisted.

The runner owns the connector's life while this worker holds its lease: it first
marks whatever a previous holder left in `sending` as unknown, connects (retrying
with backoff while the carrier is down, the state saying why), then runs the
dispatcher and the event pump until told to stop, and stops them in the order
that loses nothing: stop claiming, let the connector answer what it was handed,
record those answers, write the last events.

A runner has a duty (`WorkerRole`): `all` does the above on the connection as
configured; `transmit` does it on the sending side of a split SMPP connector (bound
as transmitter); `receive` binds as receiver and only writes events - it sends and
claims nothing and leaves `sending` messages to the sending side. Its connector knows
none of the carrier ids the other side was given, so each report is matched in the
database, and reports that beat their submit answer there are taken up again
(`engine.delivery.early_reports`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from smscast.channels.base import (
    Connector,
    ConnectorState,
)
from smscast.config import Settings
from smscast.core.errors import UserError
from smscast.engine.db_thread import DbThread
from smscast.engine.delivery.early_reports import apply_early_reports
from smscast.engine.events import EventPump
from smscast.engine.metrics.instruments import SubmitTimes
from smscast.engine.sending.connectors import ConnectorRow, build_connector
from smscast.engine.sending.dispatcher import Dispatcher, DispatchLimits, retry_policy
from smscast.engine.sending.leases import WorkerRole, bind_mode_for
from smscast.engine.sending.outbox import mark_interrupted
from smscast.engine.sending.outgoing import OutgoingExtras

log = logging.getLogger("smscast.runtime")
RECONNECT_MIN_S = 1.0
RECONNECT_MAX_S = 30.0
EARLY_REPORTS_S = 1.0  # between passes over reports that beat their submit answer


class ConnectorRunner:
    """Runs one connector until `stop` (see the module docstring)."""

    def __init__(
        self,
        db: DbThread,
        settings: Settings,
        worker: str,
        row: ConnectorRow,
        clock: Callable[[], datetime],
        duty: WorkerRole = WorkerRole.ALL,
    ) -> None:
        self.db = db
        self.settings = settings
        self.worker = worker
        self.row = row
        self.clock = clock
        self.duty = duty
        self.connector: Connector | None = None
        self.dispatcher: Dispatcher | None = None
        self.events: EventPump | None = None
        self.interrupted: list[int] = []
        self.send_until = float("inf")  # on time.monotonic(); see `hold_sending_after`
        self._detail = "starting"
        self._started = False
        self._stop = asyncio.Event()

    def state(self) -> ConnectorState:
        if self.connector is not None and self._started:
            return self.connector.state()
        return ConnectorState(name=self.row.name, connected=False, detail=self._detail)

    def stop(self) -> None:
        self._stop.set()

    def hold_sending_after(self, deadline: float) -> None:
        """Sends nothing after `deadline` (time.monotonic()), when the lease may have run
        out, until a renewal moves it on (see `SmppClient.send_until`).

        Connectors that queue their submits (SMPP) hold back what is queued; the others
        are handed nothing more once the lease is gone, as the dispatcher claims only
        under a live lease.
        """
        self.send_until = deadline
        self._apply_send_until()

    def _apply_send_until(self) -> None:
        gate = getattr(self.connector, "send_until", None)
        if gate is not None:
            gate(self.send_until)

    async def run(self) -> None:
        row = self.row
        try:
            built = build_connector(row, bind_mode=bind_mode_for(row.kind, row.settings, self.duty))
        except UserError as error:
            self._detail = f"not started: {error}"
            log.error("connector %s: %s", row.name, error)
            await self._stop.wait()
            return
        if self.duty is WorkerRole.RECEIVE:
            await self._receive(built)
            return
        connector = built
        self.connector = connector
        self._apply_send_until()
        self.interrupted = await self.db.run(self._recover)
        if self.interrupted:
            log.warning(
                "connector %s: %d message(s) were being sent when the previous worker stopped; "
                "marked unknown, not resent (ids %s%s)",
                row.name,
                len(self.interrupted),
                ", ".join(map(str, self.interrupted[:20])),
                " ..." if len(self.interrupted) > 20 else "",
            )
        if not await self._connect(connector):
            return
        self._started = True
        settings = self.settings
        limits = DispatchLimits.for_connector(row.window, row.rate_per_s, settings.claim_batch_size)
        retry = retry_policy(
            settings.retry_backoff_s, settings.retry_backoff_max_s, settings.message_validity_hours
        )
        extras = OutgoingExtras(settings.resolved_secret_key(), settings.served_url())
        lanes = self._lanes()
        submitted = SubmitTimes()  # the dispatcher's submit answers, the pump's report times
        dispatcher = Dispatcher(
            lanes[0], connector, row.id, self.worker, limits, retry, self.clock, extras,
            submitted,
        )  # fmt: skip
        events = EventPump(lanes[-1], settings, connector, row.id, row.workspace_id, self.clock,
                           submitted)  # fmt: skip
        self.dispatcher, self.events = dispatcher, events
        feeding = asyncio.create_task(dispatcher.run(), name=f"{row.name}-dispatch")
        writing = asyncio.create_task(events.run(), name=f"{row.name}-events")
        await self._stop.wait()
        dispatcher.stop()
        await connector.stop()
        await asyncio.gather(feeding, writing, return_exceptions=True)
        for lane in lanes:
            if lane is not self.db:
                lane.close()
        self._started = False
        self._detail = "stopped"

    def _lanes(self) -> tuple[DbThread, ...]:
        """The database threads of the dispatcher and of the event pump.

        On SQLite both use the worker's one thread: the database takes one writer at a
        time anyway. A database server takes them in parallel, and there each
        transaction spends most of its time waiting for the server (a commit waits for
        its log to reach the disk): with a thread each, the next claim no longer queues
        behind a batch of reports, and the other way round.
        """
        if self.db.engine.dialect.name == "sqlite":
            return (self.db,)
        name = f"smscast-db-{self.row.id}"
        return (
            DbThread(self.db.engine, f"{name}-send"),
            DbThread(self.db.engine, f"{name}-events"),
        )

    async def _receive(self, connector: Connector) -> None:
        """The receiving side alone: events written, nothing claimed or marked."""
        self.connector = connector
        if not await self._connect(connector):
            return
        self._started = True
        row = self.row
        events = EventPump(self.db, self.settings, connector, row.id, row.workspace_id, self.clock)
        self.events = events
        writing = asyncio.create_task(events.run(), name=f"{row.name}-events")
        while not self._stop.is_set():
            try:
                await self.db.run(self._take_up_early_reports)
            except Exception:  # the database busy or gone: the next pass tries again
                log.exception("connector %s: reports that beat their submit answer", row.name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), EARLY_REPORTS_S)
        await connector.stop()
        await asyncio.gather(writing, return_exceptions=True)
        self._started = False
        self._detail = "stopped"

    def _take_up_early_reports(self) -> int:
        late = timedelta(hours=self.settings.dlr_late_window_hours)
        with self.db.engine.begin() as conn:
            return apply_early_reports(conn, self.row.id, self.clock(), late)

    def _recover(self) -> list[int]:
        with self.db.engine.begin() as conn:
            return mark_interrupted(conn, self.row.id, self.clock())

    async def _connect(self, connector: Connector) -> bool:
        """Connects, retrying while the carrier is down; False if stopped meanwhile."""
        delay = RECONNECT_MIN_S
        while not self._stop.is_set():
            try:
                await connector.start()
                return True
            except Exception as error:  # refused, unreachable, a bad certificate: keep trying
                self._detail = f"down: {error}; retrying in {delay:.0f}s (nothing is lost)"
                log.warning("connector %s: %s", self.row.name, self._detail)
            try:
                await asyncio.wait_for(self._stop.wait(), delay)
            except TimeoutError:
                delay = min(RECONNECT_MAX_S, delay * 2)
        return False
