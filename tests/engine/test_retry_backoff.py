"""Resending after a temporary failure: the wait doubles from SMSCAST_RETRY_BACKOFF_S up to
SMSCAST_RETRY_BACKOFF_MAX_S, nothing goes before its wait is over, and a message whose next
try would fall after its validity expires instead of waiting on.

The running runtime talks to the simulator, which throttles every submit; the test moves
the runtime's clock by hand, so the waits are checked to the microsecond and no test waits
for real minutes.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest
from outbound_helpers import ManualClock, add_sim_connector, messages, queue_texts, wait_for
from sqlalchemy import Engine, select

from smscast.channels.simulator import RunningSimulator, SimulatorConfig, start_simulator
from smscast.config import Settings
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.runtime import Runtime
from smscast.engine.tally import read_moment

#: A carrier that answers every submit with ESME_RTHROTTLED.
THROTTLING = SimulatorConfig(port=0, http_port=None, dlr_delay=0.05, delivered=1.0,
                             undeliverable=0.0, expired=0.0, rejected=0.0,
                             throttle_fraction=1.0, seed=3)  # fmt: skip
#: The SMPP client gives a throttled part up at once, asking for a short pause (0.1 s):
#: the backoff, not the client's own pushing back, decides when the message goes again.
GIVE_UP_AT_ONCE: dict[str, Any] = {"throttle_retries": 0, "throttle_pause_s": 0.01}


def settings_from_env(settings: Settings, monkeypatch: pytest.MonkeyPatch,
                      **env: str) -> Settings:  # fmt: skip
    """Settings read as a worker reads them, with `env` (SMSCAST_… variables) set."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings(database_url=settings.database_url, data_dir=settings.data_dir,
                    secret_key=settings.secret_key)  # fmt: skip


def message_row(engine: Engine, message_id: int) -> Any:
    with engine.connect() as conn:
        return conn.execute(
            select(messages.c.status, messages.c.attempts, messages.c.send_after,
                   messages.c.error_code, messages.c.error)
            .where(messages.c.id == message_id)
        ).one()  # fmt: skip


async def start(engine: Engine, settings: Settings, clock: ManualClock
                ) -> tuple[Runtime, asyncio.Task[None]]:  # fmt: skip
    runtime = Runtime(engine, settings, worker="w1", clock=clock)
    return runtime, asyncio.create_task(runtime.run())


async def stop(runtime: Runtime, running: asyncio.Task[None], sim: RunningSimulator) -> None:
    runtime.stop()
    await running
    await sim.close()


async def test_the_wait_between_resends_doubles_up_to_its_maximum(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    backoff = settings_from_env(settings, monkeypatch, SMSCAST_RETRY_BACKOFF_S="4",
                                SMSCAST_RETRY_BACKOFF_MAX_S="20")  # fmt: skip
    sim = await start_simulator(THROTTLING)
    add_sim_connector(engine, workspace, sim.port, now, **GIVE_UP_AT_ONCE)
    [message_id] = queue_texts(engine, workspace, ["+48600100001"], now)
    clock = ManualClock(now)
    runtime, running = await start(engine, backoff, clock)
    waits: list[float] = []
    try:
        for attempt in range(1, 6):

            def tried(attempt: int = attempt) -> bool:
                """the message throttled and queued again"""
                row = message_row(engine, message_id)
                return row.attempts == attempt and row.status == "queued"

            await wait_for(tried)
            row = message_row(engine, message_id)
            due = read_moment(row.send_after)
            assert due is not None
            waits.append((due - clock.now).total_seconds())
            assert row.error_code == "ESME_RTHROTTLED"
            assert row.error.startswith(f"attempt {attempt}: ")
            assert sim.stats.throttled == attempt
            clock.set(due - timedelta(milliseconds=1))  # a moment too early: nothing goes
            await asyncio.sleep(1.2)  # more than a runtime tick and several claim rounds
            assert sim.stats.throttled == attempt
            assert message_row(engine, message_id).attempts == attempt
            clock.set(due)
    finally:
        await stop(runtime, running, sim)
    assert waits == [4.0, 8.0, 16.0, 20.0, 20.0]


async def test_a_resend_that_would_come_after_the_validity_expires_the_message(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    backoff = settings_from_env(settings, monkeypatch, SMSCAST_RETRY_BACKOFF_S="60",
                                SMSCAST_RETRY_BACKOFF_MAX_S="600")  # fmt: skip
    sim = await start_simulator(THROTTLING)
    add_sim_connector(engine, workspace, sim.port, now, **GIVE_UP_AT_ONCE)
    [message_id] = queue_texts(engine, workspace, ["+48600100001"], now,
                               valid_until=now + timedelta(seconds=90))  # fmt: skip
    clock = ManualClock(now)
    runtime, running = await start(engine, backoff, clock)
    try:

        def retried_once() -> bool:
            """first try throttled: queued again for 60 s later, inside the validity"""
            return message_row(engine, message_id).attempts == 1

        await wait_for(retried_once)
        clock.set(now + timedelta(seconds=60))

        def expired() -> bool:
            """second try throttled: the next (120 s later) would come after the validity"""
            return message_row(engine, message_id).status == "expired"

        await wait_for(expired)
    finally:
        await stop(runtime, running, sim)
    row = message_row(engine, message_id)
    assert row.attempts == 2 and sim.stats.throttled == 2
    assert row.error_code == "validity_ended"
    assert row.error.startswith("validity ended before a retry could go")
