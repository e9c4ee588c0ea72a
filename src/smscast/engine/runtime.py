"""The running system: connectors held by lease, their dispatchers, and the clockwork.

`Runtime.run()` is what `smscast worker` and `smscast serve` run. Once a second it
renews the leases it holds and takes one more free connector (so workers that
start together share the connectors), routes newly queued messages, cancels what
cancelled campaigns left queued, lets the campaigns side launch due campaigns and
close finished ones (in a task and a database thread of their own: a long launch
holds up neither the leases nor the connectors), and records each held connector's
state for the dashboard and `smscast connectors state`. Every few seconds it
expires messages that got no delivery report by the end of their validity.

A worker has a role (`smscast worker --role`, see `engine.sending.leases`): `all`
does all of the above; `transmit` holds sending sides and does the housekeeping;
`receive` holds receiving sides of SMPP connectors and does nothing else, so that
a busy carrier's reports are written by a process (a core) of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine

from smscast.channels.base import ConnectorState
from smscast.config import Settings
from smscast.engine.campaigns.fallback import fall_back_due
from smscast.engine.campaigns.launch import launch_due_campaigns
from smscast.engine.campaigns.lifecycle import complete_finished_campaigns
from smscast.engine.db_thread import DbThread
from smscast.engine.delivery.reports import expire_silent
from smscast.engine.runner import ConnectorRunner
from smscast.engine.sending.connectors import ConnectorRow, load_connector, write_states
from smscast.engine.sending.dispatcher import utc_now
from smscast.engine.sending.leases import (
    WorkerRole,
    duties_for,
    lease_rows,
    release_lease,
    take_lease,
    write_receive_state,
)
from smscast.engine.sending.outbox import cancel_cancelled_campaigns
from smscast.engine.sending.routing import route_queued

log = logging.getLogger("smscast.runtime")
_DOING = {
    WorkerRole.ALL: "send and receive",
    WorkerRole.TRANSMIT: "send",
    WorkerRole.RECEIVE: "receive",
}
TICK_S = 1.0
LEASE_MARGIN_S = 2.0  # see `sending_deadline`
SWEEP_EVERY = 10  # ticks between expiry sweeps


def sending_deadline(renewed_at: float, lease_seconds: float) -> float:
    """When a worker stops writing for a connector whose lease it renewed at `renewed_at`
    (time.monotonic()): before the lease runs out, by a margin for the clocks of the
    other machines (another worker takes over when *its* clock passes the lease's end).
    Renewals come every second, so a live worker never reaches it."""
    return renewed_at + lease_seconds - min(LEASE_MARGIN_S, lease_seconds / 3)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Runtime:
    """Holds connectors and runs them until `stop` (see the module docstring)."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        worker: str | None = None,
        clock: Callable[[], datetime] = utc_now,
        role: WorkerRole | str = WorkerRole.ALL,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.worker = worker or settings.worker_id or default_worker_id()
        self.role = WorkerRole(role)
        self.clock = clock
        self.db = DbThread(engine)
        self.campaigns_db = DbThread(engine, "smscast-campaigns")
        self._campaigns: asyncio.Task[None] | None = None
        self.runners: dict[int, ConnectorRunner] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._stop = asyncio.Event()
        self._ticks = 0

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        log.info("worker %s: running (role %s)", self.worker, self.role.value,
                 extra={"worker": self.worker})  # fmt: skip
        try:
            while not self._stop.is_set():
                await self._tick()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), TICK_S)
        finally:
            await self._shutdown()

    async def _tick(self) -> None:
        self._ticks += 1
        try:
            await self._hold_leases()
            if self.role is not WorkerRole.RECEIVE:
                await self.db.run(self._maintain, self._ticks % SWEEP_EVERY == 1)
                if self._campaigns is None or self._campaigns.done():
                    self._campaigns = asyncio.create_task(self._campaign_hooks(), name="campaigns")
            states = [(cid, runner.state(), runner.duty) for cid, runner in self.runners.items()]
            await self.db.run(self._write_states, states)
        except Exception:
            log.exception("worker %s: housekeeping failed; trying again in a second", self.worker)

    # --- leases -----------------------------------------------------------------------

    async def _hold_leases(self) -> None:
        seconds = self.settings.lease_seconds
        renewing = time.monotonic()  # the leases renewed now last at least until then + seconds
        held, taken = await self.db.run(self._renew_and_take, seconds)
        for connector_id in list(self.runners):
            if connector_id not in held:
                log.warning("worker %s: lost the lease on connector %d", self.worker, connector_id,
                            extra=self._ids(connector_id))  # fmt: skip
                await self._stop_runner(connector_id)
            else:
                self.runners[connector_id].hold_sending_after(sending_deadline(renewing, seconds))
        taking = dict(taken)
        rows = await self.db.run(self._load, [*self.runners, *taking])
        for connector_id, runner in list(self.runners.items()):
            if connector_id in taking:  # one side held, now both: one connection for both
                log.info("worker %s: connector %s taken whole; restarting it", self.worker,
                         runner.row.name, extra=self._ids(connector_id))  # fmt: skip
                await self._stop_runner(connector_id)
            elif rows.get(connector_id) != runner.row:  # edited: restart with the new settings
                log.info("worker %s: connector %s changed; restarting it", self.worker,
                         runner.row.name, extra=self._ids(connector_id))  # fmt: skip
                await self._stop_runner(connector_id)
                taking[connector_id] = runner.duty
        for connector_id, duty in taking.items():
            row = rows.get(connector_id)
            if row is None:
                continue
            runner = ConnectorRunner(self.db, self.settings, self.worker, row, self.clock, duty)
            runner.hold_sending_after(sending_deadline(renewing, seconds))
            self.runners[connector_id] = runner
            self._tasks[connector_id] = asyncio.create_task(runner.run(), name=f"run-{row.name}")
            log.info("worker %s: took connector %s (%s) to %s", self.worker, row.name, row.kind,
                     _DOING[duty], extra=self._ids(connector_id))  # fmt: skip

    def _ids(self, connector_id: int) -> dict[str, object]:
        """The fields a JSON log line carries (see `smscast.cli.log_format`)."""
        return {"worker": self.worker, "connector_id": connector_id}

    def _renew_and_take(self, seconds: float) -> tuple[set[int], list[tuple[int, WorkerRole]]]:
        """Renews what is held; takes the whole of a split connector whose other side has
        become free, else one more connector (or side) that the role may take."""
        now = self.clock()
        held: set[int] = set()
        taken: list[tuple[int, WorkerRole]] = []
        with self.engine.begin() as conn:
            for connector_id, runner in self.runners.items():
                if take_lease(conn, connector_id, self.worker, now, seconds, runner.duty):
                    held.add(connector_id)
            rows = lease_rows(conn, self.worker, now)
            whole = [
                row.id
                for row in rows
                if self.role is WorkerRole.ALL
                and row.id in held
                and self.runners[row.id].duty is not WorkerRole.ALL
                and duties_for(self.role, row) is WorkerRole.ALL
            ]
            free = [
                (row.id, duty)
                for row in rows
                if row.id not in self.runners and (duty := duties_for(self.role, row)) is not None
            ]
            random.shuffle(free)
            for connector_id, duty in [(c, WorkerRole.ALL) for c in whole[:1]] or free[:1]:
                if take_lease(conn, connector_id, self.worker, now, seconds, duty):
                    held.add(connector_id)
                    taken.append((connector_id, duty))
        return held, taken

    def _load(self, connector_ids: list[int]) -> dict[int, ConnectorRow]:
        rows: dict[int, ConnectorRow] = {}
        with self.engine.connect() as conn:
            for connector_id in connector_ids:
                row = load_connector(conn, connector_id)
                if row is not None:
                    rows[connector_id] = row
        return rows

    async def _stop_runner(self, connector_id: int) -> None:
        runner = self.runners.pop(connector_id)
        task = self._tasks.pop(connector_id)
        runner.stop()
        await asyncio.gather(task, return_exceptions=True)

    async def _shutdown(self) -> None:
        if self._campaigns is not None:  # a launch stops after the batch it is writing
            await self._campaigns
        self.campaigns_db.close()
        for connector_id in list(self.runners):
            duty = self.runners[connector_id].duty
            await self._stop_runner(connector_id)
            with contextlib.suppress(Exception):
                await self.db.run(self._release, connector_id, duty)
        self.db.close()
        log.info("worker %s: stopped", self.worker, extra={"worker": self.worker})

    def _release(self, connector_id: int, duty: WorkerRole) -> None:
        with self.engine.begin() as conn:
            release_lease(conn, connector_id, self.worker, duty)

    # --- housekeeping -------------------------------------------------------------------

    def _maintain(self, sweep: bool) -> None:
        now = self.clock()
        with self.engine.begin() as conn:
            route_queued(conn, now)
            cancel_cancelled_campaigns(conn, now)
        fall_back_due(self.engine, now)
        if sweep:
            late = timedelta(hours=self.settings.dlr_late_window_hours)
            with self.engine.begin() as conn:
                expire_silent(conn, now, late)

    def _write_states(self, states: list[tuple[int, ConnectorState, WorkerRole]]) -> None:
        """The sending side's state in `connector_states`, a receive-only side's on its
        connector (two workers may hold one connector, each writing its own)."""
        sending = [(cid, state) for cid, state, duty in states if duty is not WorkerRole.RECEIVE]
        with self.engine.begin() as conn:
            write_states(conn, self.worker, sending, self.clock())
            for cid, state, duty in states:
                if duty is WorkerRole.RECEIVE:
                    write_receive_state(conn, cid, self.worker, state.connected, state.detail)

    async def _campaign_hooks(self) -> None:
        """Launches due campaigns and closes finished ones: imported plainly, so a broken
        campaigns module stops the worker at start instead of silently sending nothing."""
        now = self.clock()
        try:
            await self.campaigns_db.run(launch_due_campaigns, self.engine, self.settings, now,
                                        stop=self._stop.is_set)  # fmt: skip
            await self.campaigns_db.run(complete_finished_campaigns, self.engine, now)
        except Exception:
            log.exception("worker %s: launching campaigns failed; trying again in a second",
                          self.worker)  # fmt: skip
