"""The dispatcher end to end over loopback: outbox → SMPP → simulator → reports → outbox."""

from __future__ import annotations

import asyncio
from datetime import datetime

from outbound_helpers import add_sim_connector, count_by_status, queue_texts, wait_for
from sqlalchemy import Engine

from smscast.channels.simulator import SimulatorConfig, start_simulator
from smscast.config import Settings
from smscast.engine.runtime import Runtime
from smscast.engine.workspaces import WorkspaceRef


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
    runtime = Runtime(engine, settings, worker="w1")
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
