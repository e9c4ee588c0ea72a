"""A carrier that restarts hands out its message ids again: each report still finds its own text.

The built-in simulator counts its ids from 1 after a restart, as real SMSCs do after a
failover. The whole path runs over loopback: outbox → SMPP → simulator → reports.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from outbound_helpers import add_sim_connector, count_by_status, queue_texts, wait_for
from sqlalchemy import Engine, func, insert, select, update

from smscast.channels.simulator import SimulatorConfig, start_simulator
from smscast.config import Settings
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.runtime import Runtime
from smscast.engine.stats import campaign_report
from smscast.store.messaging_models import Campaign, CarrierRef, DeliveryReportRow, Message
from smscast.store.models import Workspace, table_of

campaigns = table_of(Campaign)
messages = table_of(Message)
carrier_refs = table_of(CarrierRef)
reports = table_of(DeliveryReportRow)
workspaces = table_of(Workspace)
NO_QUIET = {"start": "00:00", "end": "00:00"}


def running_clock(start: datetime) -> Callable[[], datetime]:
    """The test's moment moving on at the pace of real time, whatever the date is."""
    began = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - began)


def sim_config(port: int = 0, dlr_delay: float = 0.3) -> SimulatorConfig:
    return SimulatorConfig(port=port, http_port=None, dlr_delay=dlr_delay, delivered=1.0,
                           undeliverable=0.0, expired=0.0, rejected=0.0,
                           seed=7)  # fmt: skip


async def test_every_message_gets_its_own_report_when_the_carrier_restarts_mid_campaign(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    sim = await start_simulator(sim_config())
    port = sim.port
    connector = add_sim_connector(engine, workspace, port, now, window=10, rate=20)
    with engine.begin() as conn:
        campaign_id = conn.execute(
            insert(campaigns)
            .values(
                workspace_id=workspace.id,
                name="Sale",
                status="running",
                created_at=now,
                launched_at=now,
            )
            .returning(campaigns.c.id)
        ).scalar_one()
        conn.execute(update(workspaces).values(settings={"quiet_hours": NO_QUIET}))
    phones = [f"+4860010{i:04d}" for i in range(40)]
    # Two parts each: every part has its own carrier id, reused after the restart.
    queue_texts(engine, workspace, phones, now, campaign_id=campaign_id, purpose="informational",
                body="Winter sale: " + "everything must go " * 10)  # fmt: skip

    def set_status(status: str) -> None:
        with engine.begin() as conn:
            conn.execute(update(campaigns).values(status=status))

    def campaign_status() -> str:
        with engine.connect() as conn:
            return str(conn.execute(select(campaigns.c.status)).scalar_one())

    runtime = Runtime(engine, settings, worker="w1", clock=running_clock(now))
    running = asyncio.create_task(runtime.run())
    seen: list[tuple[str, int]] = []  # (campaign status, texts not final) as it went
    watching = asyncio.create_task(_watch(engine, seen))
    try:
        await wait_for(lambda: sim.stats.submits >= 15)
        set_status("paused")

        def first_part_reported() -> bool:
            """every text sent before the pause delivered"""
            counts = count_by_status(engine)
            return set(counts) == {"queued", "delivered"}

        await wait_for(first_part_reported)
        before = count_by_status(engine)["delivered"]
        await sim.close()  # the carrier restarts: its ids start again from 1
        # Reports now take longer than the worker's tick: sending ends well before them.
        sim = await start_simulator(sim_config(port, dlr_delay=1.5))
        set_status("running")

        def all_delivered() -> bool:
            """every text of the campaign delivered"""
            return count_by_status(engine) == {"delivered": 40}

        await wait_for(all_delivered)
        await wait_for(lambda: campaign_status() == "completed", 10)
    finally:
        watching.cancel()
        runtime.stop()
        await running
        await sim.close()
    early = [(status, open_) for status, open_ in seen if status == "completed" and open_]
    assert early == [], "completed while texts still awaited their reports"
    assert sim.stats.submits == 2 * (40 - before)
    with engine.connect() as conn:
        # The restarted carrier reused ids of texts sent before it: they name two texts now.
        reused = conn.execute(
            select(func.count()).select_from(
                select(carrier_refs.c.carrier_id)
                .where(carrier_refs.c.connector_id == connector.id)
                .group_by(carrier_refs.c.carrier_id)
                .having(func.count() > 1)
                .subquery()
            )
        ).scalar_one()
        reported = conn.execute(
            select(reports.c.message_id, func.count()).group_by(reports.c.message_id)
        ).all()
        parts = set(conn.execute(select(messages.c.parts, messages.c.parts_done)).all())
    assert reused == 2 * min(before, 40 - before)
    assert parts == {(2, 2)}
    assert sorted(reported) == sorted((i, 2) for i in _message_ids(engine))
    report = campaign_report(engine, workspace.id, campaign_id)
    assert (report["status"], report["sent"], report["delivered"]) == ("completed", 40, 40)


async def _watch(engine: Engine, seen: list[tuple[str, int]]) -> None:
    """Samples the campaign's status beside how many of its texts are not final yet."""
    while True:
        with engine.connect() as conn:
            status = conn.execute(select(campaigns.c.status)).scalar_one()
            open_ = conn.execute(
                select(func.count()).where(messages.c.status.in_(("queued", "sending", "sent")))
            ).scalar_one()
        seen.append((status, open_))
        await asyncio.sleep(0.02)


def _message_ids(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(select(messages.c.id)).scalars())
