"""The runtime's clockwork runs on the clock it is given: a scheduled campaign starts when
that clock reaches its time, not the wall clock, and is sent, delivered and completed by
the hooks the runtime calls every second."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from campaign_data import add_contact
from outbound_helpers import ManualClock, add_sim_connector, count_by_status, wait_for
from sqlalchemy import Engine, select

from smscast.channels.simulator import SimulatorConfig, start_simulator
from smscast.config import Settings
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.campaigns.launch import launch_campaign
from smscast.engine.campaigns.lifecycle import CampaignDraft, create_campaign
from smscast.engine.runtime import Runtime
from smscast.store.messaging_models import Campaign
from smscast.store.models import table_of

campaigns = table_of(Campaign)


def campaign_status(engine: Engine, campaign_id: int) -> str:
    with engine.connect() as conn:
        status: str = conn.execute(
            select(campaigns.c.status).where(campaigns.c.id == campaign_id)
        ).scalar_one()
    return status


async def test_a_scheduled_campaign_starts_when_the_runtimes_clock_reaches_it(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    sim = await start_simulator(SimulatorConfig(port=0, http_port=None, dlr_delay=0.05,
                                                delivered=1.0, undeliverable=0.0, expired=0.0,
                                                rejected=0.0, seed=2))  # fmt: skip
    connector = add_sim_connector(engine, workspace, sim.port, now)
    for i in range(3):
        add_contact(engine, workspace, f"+4860040000{i}", now)
    at = now + timedelta(hours=1)  # 12:00 in Warsaw: outside quiet hours
    draft = CampaignDraft(name="Noon", body="Sale at noon", at=at,
                          from_number=f"40{connector.id:02d}")  # fmt: skip
    campaign_id = create_campaign(engine, workspace, draft, actor="t", now=now)
    launched = launch_campaign(engine, settings, workspace, campaign_id, actor="t", now=now)
    assert launched["status"] == "scheduled"
    clock = ManualClock(at - timedelta(seconds=1))
    runtime = Runtime(engine, settings, worker="w1", clock=clock)
    running = asyncio.create_task(runtime.run())
    try:
        await asyncio.sleep(2.5)  # two ticks of the scheduler a second before its time
        assert campaign_status(engine, campaign_id) == "scheduled"
        assert count_by_status(engine) == {}
        clock.set(at)

        def completed() -> bool:
            """the campaign launched, delivered and completed"""
            return campaign_status(engine, campaign_id) == "completed"

        await wait_for(completed)
    finally:
        runtime.stop()
        await running
        await sim.close()
    assert count_by_status(engine) == {"delivered": 3}
    assert sim.stats.submits == 3
