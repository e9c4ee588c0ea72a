"""A queued message whose validity ended before it could go is expired, never sent late.

Its validity is its own `valid_until`, else SMSCAST_MESSAGE_VALIDITY_HOURS from when it
was queued. Here a campaign is paused past those moments; when it is resumed, what is
out of date is expired (and counted so) and only the rest reaches the carrier.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from outbound_helpers import (
    ManualClock,
    add_sim_connector,
    count_by_status,
    messages,
    queue_texts,
    wait_for,
)
from sqlalchemy import Engine, insert, select, update

from smscast.channels.simulator import SimulatorConfig, start_simulator
from smscast.config import Settings
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.runtime import Runtime
from smscast.engine.stats import bump_campaign_stats, campaign_report
from smscast.store.messaging_models import Campaign
from smscast.store.models import Workspace, table_of

campaigns = table_of(Campaign)
workspaces = table_of(Workspace)
NO_QUIET = {"start": "00:00", "end": "00:00"}


async def test_texts_whose_validity_ended_in_the_queue_expire_and_the_rest_go(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("SMSCAST_MESSAGE_VALIDITY_HOURS", "2")
    two_hours = Settings(database_url=settings.database_url, data_dir=settings.data_dir,
                         secret_key=settings.secret_key)  # fmt: skip
    sim = await start_simulator(SimulatorConfig(port=0, http_port=None, dlr_delay=0.05,
                                                delivered=1.0, undeliverable=0.0, expired=0.0,
                                                rejected=0.0, seed=5))  # fmt: skip
    add_sim_connector(engine, workspace, sim.port, now)
    with engine.begin() as conn:
        campaign_id = conn.execute(
            insert(campaigns)
            .values(workspace_id=workspace.id, name="Sale", status="paused", created_at=now,
                    launched_at=now)
            .returning(campaigns.c.id)
        ).scalar_one()  # fmt: skip
        conn.execute(update(workspaces).values(settings={"quiet_hours": NO_QUIET}))
    common = {"campaign_id": campaign_id, "purpose": "informational", "kind": "campaign"}
    [own_hour] = queue_texts(engine, workspace, ["+48600100001"], now,
                             valid_until=now + timedelta(hours=1), **common)  # fmt: skip
    [default] = queue_texts(engine, workspace, ["+48600100002"], now, **common)
    [own_day] = queue_texts(engine, workspace, ["+48600100003"], now,
                            valid_until=now + timedelta(days=1), **common)  # fmt: skip
    [fresh] = queue_texts(engine, workspace, ["+48600100004"],
                          now + timedelta(hours=1, minutes=30), **common)  # fmt: skip
    clock = ManualClock(now + timedelta(hours=3))  # resumed three hours after queuing
    with engine.begin() as conn:
        bump_campaign_stats(conn, campaign_id, now, queued=4)  # as launch counts them
        conn.execute(update(campaigns).values(status="running"))
    runtime = Runtime(engine, two_hours, worker="w1", clock=clock)
    running = asyncio.create_task(runtime.run())
    try:

        def settled() -> bool:
            """two expired in the queue, two delivered"""
            return count_by_status(engine) == {"expired": 2, "delivered": 2}

        await wait_for(settled)
    finally:
        runtime.stop()
        await running
        await sim.close()
    with engine.connect() as conn:
        rows = conn.execute(
            select(messages.c.id, messages.c.status, messages.c.error_code, messages.c.attempts)
        ).all()
    by_id = {row.id: row for row in rows}
    assert {i: by_id[i].status for i in (own_hour, default, own_day, fresh)} == {
        own_hour: "expired",  # its own validity: one hour
        default: "expired",  # no validity of its own: SMSCAST_MESSAGE_VALIDITY_HOURS=2
        own_day: "delivered",
        fresh: "delivered",  # queued 1.5 h before: inside the two hours
    }
    assert by_id[own_hour].error_code == by_id[default].error_code == "validity_ended"
    assert by_id[own_hour].attempts == by_id[default].attempts == 0  # never handed over
    assert sim.stats.submits == 2
    assert sorted(s.destination_addr for s in sim.recent_submits) == ["48600100003",
                                                                      "48600100004"]  # fmt: skip
    report = campaign_report(engine, workspace.id, campaign_id)
    assert report["expired"] == 2 and report["queued"] == 0
