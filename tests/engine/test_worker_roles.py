"""Workers by role: one process sends through an SMPP connector, another receives its
delivery reports and inbound texts; an `all` worker holds both sides; a receiving side
whose worker stopped or died is taken over. Real simulator on loopback, real database."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from outbound_helpers import add_sim_connector, count_by_status, queue_texts, wait_for
from sqlalchemy import Engine, select, update

from smscast.channels.simulator import RunningSimulator, SimulatorConfig, start_simulator
from smscast.config import Settings
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.runtime import Runtime
from smscast.engine.sending import dispatcher
from smscast.engine.sending.connectors import list_connectors
from smscast.engine.sending.leases import WorkerRole
from smscast.store.messaging_models import Connector, ConnectorLogRow, DeliveryReportRow, Message
from smscast.store.models import table_of

messages = table_of(Message)
connectors = table_of(Connector)
delivery_reports = table_of(DeliveryReportRow)
connector_log = table_of(ConnectorLogRow)


def sim_config(dlr_delay: float = 0.05) -> SimulatorConfig:
    return SimulatorConfig(port=0, http_port=None, dlr_delay=dlr_delay, delivered=1.0,
                           undeliverable=0.0, expired=0.0, rejected=0.0)  # fmt: skip


def phones(start: int, count: int) -> list[str]:
    return [f"+4860010{i:04d}" for i in range(start, start + count)]


def started(engine: Engine, settings: Settings, worker: str, role: WorkerRole) -> Any:
    runtime = Runtime(engine, settings, worker=worker, role=role)
    return runtime, asyncio.create_task(runtime.run())


async def stopped(*pairs: Any) -> None:
    for runtime, task in pairs:
        runtime.stop()
        await task


def binds(sim: RunningSimulator) -> list[tuple[bool, bool]]:
    """(can transmit, can receive) of every bound session."""
    return sorted(
        (s.can_transmit, s.can_receive) for s in sim.simulator.sessions if s.system_id is not None
    )


def holders(engine: Engine) -> tuple[str | None, str | None]:
    with engine.connect() as conn:
        row = conn.execute(select(connectors.c.lease_owner, connectors.c.receive_owner)).one()
    return row.lease_owner, row.receive_owner


async def test_one_worker_sends_and_another_records_the_delivery_reports(
    engine: Engine, settings: Settings, workspace: WorkspaceRef
) -> None:
    now = datetime.now(UTC)
    sim = await start_simulator(sim_config())
    add_sim_connector(engine, workspace, sim.port, now)
    ids = queue_texts(engine, workspace, phones(0, 30), now)
    tx = started(engine, settings, "tx", WorkerRole.TRANSMIT)
    rx = started(engine, settings, "rx", WorkerRole.RECEIVE)
    try:

        def delivered() -> bool:
            """every text delivered"""
            return count_by_status(engine) == {"delivered": 30}

        await wait_for(delivered)
        assert binds(sim) == [(False, True), (True, False)]  # a receiver and a transmitter

        def both_shown_connected() -> bool:
            """each side's worker has written its state"""
            with engine.connect() as conn:
                [item] = list_connectors(conn, workspace.id)
            shown.update(item)
            return bool(item["connected"] and item["receive_connected"])

        shown: dict[str, Any] = {}
        await wait_for(both_shown_connected)
    finally:
        await stopped(tx, rx)
        await sim.close()
    assert sim.stats.submits == 30
    with engine.connect() as conn:
        claimed = set(conn.execute(select(messages.c.claimed_by)).scalars())
        matched = conn.execute(select(delivery_reports.c.message_id)).scalars().all()
        kinds = set(conn.execute(select(connector_log.c.kind)).scalars())
    assert claimed == {"tx"}
    assert sorted(matched) == sorted(ids)  # each report recorded once, on its message
    assert "report_unmatched" not in kinds  # the receiver matches in the database, quietly
    assert (shown["held_by"], shown["received_by"]) == ("tx", "rx")
    assert "receiver" in shown["receive_detail"] and "transmitter" in shown["detail"]
    assert holders(engine) == (None, None)  # both released on a clean stop


async def test_reports_that_beat_the_sending_workers_commit_still_finish_their_texts(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The carrier reports at once, and the sending worker is slow to record what the
    carrier answered: the receiving worker gets every report before its carrier id is
    known, and still delivers every text once the id is."""
    recorded = dispatcher.record_results

    def slow_to_commit(*args: Any, **kwargs: Any) -> None:
        time.sleep(0.3)  # in the sending worker's database thread, before its commit
        recorded(*args, **kwargs)

    monkeypatch.setattr(dispatcher, "record_results", slow_to_commit)
    now = datetime.now(UTC)
    sim = await start_simulator(sim_config(dlr_delay=0.0))
    add_sim_connector(engine, workspace, sim.port, now)
    ids = queue_texts(engine, workspace, phones(0, 10), now)
    tx = started(engine, settings, "tx", WorkerRole.TRANSMIT)
    rx = started(engine, settings, "rx", WorkerRole.RECEIVE)
    try:
        await wait_for(lambda: count_by_status(engine) == {"delivered": 10})
    finally:
        await stopped(tx, rx)
        await sim.close()
    with engine.connect() as conn:
        matched = conn.execute(select(delivery_reports.c.message_id)).scalars().all()
    assert sorted(matched) == sorted(ids)


async def test_a_receive_only_worker_never_claims_a_message(
    engine: Engine, settings: Settings, workspace: WorkspaceRef
) -> None:
    now = datetime.now(UTC)
    sim = await start_simulator(sim_config())
    add_sim_connector(engine, workspace, sim.port, now)
    queue_texts(engine, workspace, phones(0, 5), now)
    rx = started(engine, settings, "rx", WorkerRole.RECEIVE)
    runtime = rx[0]
    try:
        await wait_for(lambda: binds(sim) == [(False, True)])
        ticks = runtime._ticks
        await wait_for(lambda: runtime._ticks >= ticks + 3)  # several passes with work queued
        await sim.send_mo("+48600100200", "4001", "Is the shop open?")

        def received() -> bool:
            """the inbound text stored by the receiving worker"""
            with engine.connect() as conn:
                return (
                    conn.execute(
                        select(messages.c.body).where(messages.c.direction == "in")
                    ).scalar()
                    == "Is the shop open?"
                )

        await wait_for(received)
        with engine.connect() as conn:
            queued = conn.execute(
                select(messages.c.status, messages.c.claimed_by, messages.c.attempts)
                .where(messages.c.direction == "out")
            ).all()  # fmt: skip
        assert holders(engine) == (None, "rx")
    finally:
        await stopped(rx)
        await sim.close()
    assert set(queued) == {("queued", None, 0)}
    assert sim.stats.submits == 0


async def test_an_all_worker_holds_both_sides_and_keeps_the_others_out(
    engine: Engine, settings: Settings, workspace: WorkspaceRef
) -> None:
    now = datetime.now(UTC)
    sim = await start_simulator(sim_config())
    add_sim_connector(engine, workspace, sim.port, now)
    queue_texts(engine, workspace, phones(0, 10), now)
    both = started(engine, settings, "both", WorkerRole.ALL)
    tx = rx = None
    try:
        await wait_for(lambda: holders(engine) == ("both", "both"))
        tx = started(engine, settings, "tx", WorkerRole.TRANSMIT)
        rx = started(engine, settings, "rx", WorkerRole.RECEIVE)
        await wait_for(lambda: count_by_status(engine) == {"delivered": 10})
        ticks = tx[0]._ticks, rx[0]._ticks
        await wait_for(lambda: tx[0]._ticks >= ticks[0] + 2 and rx[0]._ticks >= ticks[1] + 2)
        assert not tx[0].runners and not rx[0].runners
        assert binds(sim) == [(True, True)]  # one transceiver
        assert holders(engine) == ("both", "both")
    finally:
        await stopped(*[p for p in (both, tx, rx) if p is not None])
        await sim.close()
    with engine.connect() as conn:
        assert set(conn.execute(select(messages.c.claimed_by)).scalars()) == {"both"}


async def test_a_stopped_receive_workers_side_is_taken_over_and_the_smsc_kept_the_reports(
    engine: Engine, settings: Settings, workspace: WorkspaceRef
) -> None:
    now = datetime.now(UTC)
    sim = await start_simulator(sim_config())
    add_sim_connector(engine, workspace, sim.port, now)
    queue_texts(engine, workspace, phones(0, 10), now)
    tx = started(engine, settings, "tx", WorkerRole.TRANSMIT)
    rx = started(engine, settings, "rx1", WorkerRole.RECEIVE)
    heir = None
    try:
        await wait_for(lambda: count_by_status(engine) == {"delivered": 10})
        await stopped(rx)
        queue_texts(engine, workspace, phones(100, 10), now)

        def held_by_the_smsc() -> bool:
            """the ten new texts sent, their reports held by the SMSC for want of a receiver"""
            return sim.stats.held == 10 and count_by_status(engine) == {"delivered": 10,
                                                                       "sent": 10}  # fmt: skip

        await wait_for(held_by_the_smsc)
        heir = started(engine, settings, "rx2", WorkerRole.RECEIVE)
        await wait_for(lambda: count_by_status(engine) == {"delivered": 20})
        assert holders(engine) == ("tx", "rx2")
    finally:
        await stopped(*[p for p in (tx, heir) if p is not None])
        await sim.close()


async def test_a_dead_receive_workers_lease_runs_out_and_an_all_worker_takes_the_side(
    engine: Engine, settings: Settings, workspace: WorkspaceRef
) -> None:
    """Then, once the sending worker stops too, the `all` worker takes the whole
    connector on one transceiver connection."""
    now = datetime.now(UTC)
    sim = await start_simulator(sim_config())
    add_sim_connector(engine, workspace, sim.port, now)
    with engine.begin() as conn:  # a receive worker died; its lease has run out
        gone = now - timedelta(seconds=1)
        conn.execute(update(connectors).values(receive_owner="dead", receive_until=gone))
    tx = started(engine, settings, "tx", WorkerRole.TRANSMIT)
    await wait_for(lambda: holders(engine) == ("tx", "dead"))
    both = started(engine, settings, "both", WorkerRole.ALL)
    try:
        await wait_for(lambda: holders(engine) == ("tx", "both"))
        queue_texts(engine, workspace, phones(0, 10), now)
        await wait_for(lambda: count_by_status(engine) == {"delivered": 10})
        await stopped(tx)
        await wait_for(lambda: holders(engine) == ("both", "both"))
        await wait_for(lambda: binds(sim) == [(True, True)])
        queue_texts(engine, workspace, phones(100, 10), now)
        await wait_for(lambda: count_by_status(engine) == {"delivered": 20})
    finally:
        await stopped(both)
        await sim.close()
    with engine.connect() as conn:
        claimed = conn.execute(select(messages.c.claimed_by)).scalars().all()
    assert sorted(claimed) == ["both"] * 10 + ["tx"] * 10


async def test_other_connectors_are_held_whole_by_transmit_workers_never_by_receive_ones(
    engine: Engine, settings: Settings, workspace: WorkspaceRef
) -> None:
    """An SMPP connector configured to bind as transmitter has no side to split off."""
    now = datetime.now(UTC)
    sim = await start_simulator(sim_config())
    add_sim_connector(engine, workspace, sim.port, now, bind_mode="transmitter")
    queue_texts(engine, workspace, phones(0, 3), now)
    rx = started(engine, settings, "rx", WorkerRole.RECEIVE)
    tx = started(engine, settings, "tx", WorkerRole.TRANSMIT)
    try:
        await wait_for(lambda: count_by_status(engine) == {"sent": 3})
        ticks = rx[0]._ticks
        await wait_for(lambda: rx[0]._ticks >= ticks + 2)
        assert not rx[0].runners
        assert holders(engine) == ("tx", None)
        assert binds(sim) == [(True, False)]
    finally:
        await stopped(tx, rx)
        await sim.close()
