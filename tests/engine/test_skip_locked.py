"""Two claimers on one connector's outbox at once, on PostgreSQL: FOR UPDATE SKIP LOCKED
hands each of them other messages, so every message is sent exactly once.

That happens for real when two workers run with the same SMSCAST_WORKER_ID (both then
hold the connector's lease), and it is what lets any number of claims overlap without
waiting for each other.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from datetime import datetime, timedelta

import pytest
from outbound_helpers import RunningClock, add_sim_connector, count_by_status, queue_texts, wait_for
from sqlalchemy import Connection, Engine, text

from smscast.channels.simulator import SimulatorConfig, start_simulator
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.db_thread import DbThread
from smscast.engine.sending.connectors import build_connector
from smscast.engine.sending.dispatcher import Dispatcher, DispatchLimits, retry_policy
from smscast.engine.sending.leases import take_lease
from smscast.engine.sending.outbox import Claimed, claim_due

ON_POSTGRES = pytest.mark.parametrize(
    "db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
WORKER = "twin"  # both claimers run under one worker id, so both pass the lease fence


def hold_lease(engine: Engine, connector_id: int, now: datetime) -> None:
    with engine.begin() as conn:
        assert take_lease(conn, connector_id, WORKER, now, seconds=3600)


def claim(conn: Connection, connector_id: int, now: datetime, limit: int) -> list[Claimed]:
    return claim_due(conn, connector_id=connector_id, worker=WORKER, now=now, limit=limit,
                     validity=timedelta(hours=48))  # fmt: skip


@ON_POSTGRES
def test_a_claim_skips_what_another_open_claim_holds(
    engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    connector = add_sim_connector(engine, workspace, 2775, now)
    queue_texts(engine, workspace, [f"+4860030{i:04d}" for i in range(30)], now)
    hold_lease(engine, connector.id, now)
    second: list[int] = []
    with engine.begin() as first_conn:  # the first claim stays uncommitted meanwhile
        first = [m.id for m in claim(first_conn, connector.id, now, 10)]

        def claim_beside() -> None:
            with engine.begin() as conn:
                conn.execute(text("SET LOCAL lock_timeout = '5s'"))  # never hang the suite
                second.extend(m.id for m in claim(conn, connector.id, now, 10))

        beside = threading.Thread(target=claim_beside)
        beside.start()
        beside.join(10)
        assert not beside.is_alive()
        assert len(second) == 10, "the second claim waited for the first instead of skipping"
    assert len(first) == 10 and not set(first) & set(second)
    assert count_by_status(engine) == {"sending": 20, "queued": 10}


@ON_POSTGRES
async def test_two_dispatchers_on_one_connector_send_each_message_once(
    engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    sim = await start_simulator(SimulatorConfig(port=0, http_port=None, dlr_delay=0.05,
                                                delivered=1.0, undeliverable=0.0, expired=0.0,
                                                rejected=0.0, seed=11))  # fmt: skip
    row = add_sim_connector(engine, workspace, sim.port, now, window=40)
    phones = [f"+4860030{i:04d}" for i in range(2000)]
    queue_texts(engine, workspace, phones, now)
    hold_lease(engine, row.id, now)
    clock = RunningClock(now)
    limits = DispatchLimits(in_flight=40, least_claim=10, idle_s=0.05)
    retry = retry_policy(5.0, 300.0, 48.0)
    dispatchers: list[Dispatcher] = []
    for name in ("first", "second"):
        connector = build_connector(row)
        await connector.start()
        db = DbThread(engine, name=name)  # one database connection each: truly concurrent
        dispatchers.append(Dispatcher(db, connector, row.id, WORKER, limits, retry, clock))
    running = [asyncio.create_task(d.run()) for d in dispatchers]
    try:

        def all_sent() -> bool:
            """every message handed over and answered"""
            return count_by_status(engine) == {"sent": len(phones)}

        await wait_for(all_sent)
    finally:
        for dispatcher in dispatchers:
            dispatcher.stop()
        await asyncio.gather(*running)
        for dispatcher in dispatchers:
            await dispatcher.connector.stop()
            dispatcher.db.close()
        await sim.close()
    received = Counter(m.recipient[2] for m in sim.simulator.messages.values())
    assert sim.stats.submits == len(phones)
    assert received == Counter(p.lstrip("+") for p in phones)  # each exactly once
    assert all(d.handed > 0 for d in dispatchers)  # both really took part
    assert sum(d.handed for d in dispatchers) == len(phones)
