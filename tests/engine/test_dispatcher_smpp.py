"""The dispatcher end to end over loopback: outbox → SMPP → simulator → reports → outbox."""

from __future__ import annotations

import asyncio
from datetime import datetime

from outbound_helpers import (
    RunningClock,
    add_sim_connector,
    count_by_status,
    queue_texts,
    wait_for,
)
from sqlalchemy import Engine, insert, update

from smscast.channels.simulator import SimulatorConfig, start_simulator
from smscast.config import Settings
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.runtime import Runtime
from smscast.store.messaging_models import Campaign
from smscast.store.models import Workspace, table_of

campaigns = table_of(Campaign)
workspaces = table_of(Workspace)
NO_QUIET = {"start": "00:00", "end": "00:00"}


def sim_config(**overrides: object) -> SimulatorConfig:
    values: dict[str, object] = {
        "port": 0,
        "http_port": None,
        "dlr_delay": 0.05,
        "delivered": 1.0,
        "undeliverable": 0.0,
        "expired": 0.0,
        "rejected": 0.0,
        "seed": 7,
    }
    values.update(overrides)
    return SimulatorConfig(**values)  # type: ignore[arg-type]


async def test_queued_messages_are_sent_once_and_delivered(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    sim = await start_simulator(sim_config())
    add_sim_connector(engine, workspace, sim.port, now, window=20)
    phones = [f"+4860010{i:04d}" for i in range(300)]
    queue_texts(engine, workspace, phones, now)
    runtime = Runtime(engine, settings, worker="w1", clock=RunningClock(now))
    running = asyncio.create_task(runtime.run())
    try:

        def all_delivered() -> bool:
            """every message delivered"""
            return count_by_status(engine) == {"delivered": 300}

        await wait_for(all_delivered)
    finally:
        runtime.stop()
        await running
        await sim.close()
    assert sim.stats.submits == 300
    received = sorted(s.destination_addr for s in sim.recent_submits)
    assert received == sorted(p.lstrip("+") for p in phones)


async def test_pausing_a_campaign_stops_its_messages_and_resuming_sends_the_rest(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    sim = await start_simulator(sim_config())
    add_sim_connector(engine, workspace, sim.port, now, window=50, rate=20)
    with engine.begin() as conn:
        campaign_id = conn.execute(
            insert(campaigns)
            .values(workspace_id=workspace.id, name="Sale", status="running", created_at=now)
            .returning(campaigns.c.id)
        ).scalar_one()
    phones = [f"+4860010{i:04d}" for i in range(100)]
    queue_texts(engine, workspace, phones, now, campaign_id=campaign_id, purpose="informational")
    with engine.begin() as conn:  # any hour: no quiet hours for this campaign's texts
        conn.execute(update(workspaces).values(settings={"quiet_hours": NO_QUIET}))
    runtime = Runtime(engine, settings, worker="w1", clock=RunningClock(now))
    running = asyncio.create_task(runtime.run())

    def set_status(status: str) -> None:
        with engine.begin() as conn:
            conn.execute(update(campaigns).values(status=status))

    try:
        await wait_for(lambda: sim.stats.submits >= 10)
        set_status("paused")

        def drained() -> bool:
            """nothing of the paused campaign in flight"""
            return not count_by_status(engine).get("sending")

        await wait_for(drained)
        stopped_at = sim.stats.submits
        await asyncio.sleep(1.5)  # the dispatcher looks at the outbox several times meanwhile
        assert sim.stats.submits == stopped_at < 100
        assert count_by_status(engine)["queued"] == 100 - stopped_at
        set_status("running")
        await wait_for(lambda: count_by_status(engine) == {"delivered": 100})
    finally:
        runtime.stop()
        await running
        await sim.close()
    assert sim.stats.submits == 100
