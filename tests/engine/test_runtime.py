"""The runtime: a carrier that is down, a dead worker's connector taken over, inbound
texts and the connector log, over real loopback sockets."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime, timedelta

import pytest
from outbound_helpers import add_sim_connector, count_by_status, queue_texts, wait_for
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import OperationalError

from smscast.channels.simulator import SimulatorConfig, start_simulator
from smscast.config import Settings
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.delivery.reports import apply_reports
from smscast.engine.runtime import Runtime
from smscast.engine.sending.connectors import add_connector, list_connectors
from smscast.store.messaging_models import Connector, ConnectorLogRow, Message
from smscast.store.models import table_of

messages = table_of(Message)
connectors = table_of(Connector)
connector_log = table_of(ConnectorLogRow)


def sim_config(port: int = 0) -> SimulatorConfig:
    return SimulatorConfig(port=port, http_port=None, dlr_delay=0.05, delivered=1.0,
                           undeliverable=0.0, expired=0.0, rejected=0.0)  # fmt: skip


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_carrier_that_is_down_pauses_the_connector_and_loses_nothing(
    engine: Engine, settings: Settings, workspace: WorkspaceRef
) -> None:
    now = datetime.now(UTC)
    port = free_port()
    add_sim_connector(engine, workspace, port, now)
    queue_texts(engine, workspace, [f"+4860010{i:04d}" for i in range(20)], now)
    runtime = Runtime(engine, settings, worker="w1")
    running = asyncio.create_task(runtime.run())
    sim = None
    try:

        def shown_down() -> bool:
            """the connector shown down, with the reason"""
            with engine.connect() as conn:
                [item] = list_connectors(conn, workspace.id)
            return item["connected"] is False and "cannot connect" in item["detail"]

        await wait_for(shown_down)
        assert count_by_status(engine) == {"queued": 20}
        with engine.connect() as conn:
            assert set(conn.execute(select(messages.c.attempts)).scalars()) == {0}
        sim = await start_simulator(sim_config(port))

        def delivered() -> bool:
            """all delivered once the carrier is back"""
            return count_by_status(engine) == {"delivered": 20}

        await wait_for(delivered)
    finally:
        runtime.stop()
        await running
        if sim is not None:
            await sim.close()
    assert sim.stats.submits == 20


async def test_a_dead_workers_connector_is_taken_over_without_resending(
    engine: Engine, settings: Settings, workspace: WorkspaceRef
) -> None:
    now = datetime.now(UTC)
    sim = await start_simulator(sim_config())
    connector = add_sim_connector(engine, workspace, sim.port, now)
    ids = queue_texts(engine, workspace, [f"+4860010{i:04d}" for i in range(10)], now)
    with engine.begin() as conn:  # a worker claimed three, then died; its lease ran out
        conn.execute(update(messages).where(messages.c.id.in_(ids[:3]))
                     .values(status="sending", claimed_by="dead"))  # fmt: skip
        conn.execute(update(connectors).values(lease_owner="dead",
                                               lease_until=now - timedelta(seconds=1)))  # fmt: skip
    runtime = Runtime(engine, settings, worker="heir")
    running = asyncio.create_task(runtime.run())
    try:

        def settled() -> bool:
            """seven delivered, three unknown"""
            return count_by_status(engine) == {"delivered": 7, "unknown": 3}

        await wait_for(settled)
    finally:
        runtime.stop()
        await running
        await sim.close()
    assert sim.stats.submits == 7
    with engine.connect() as conn:
        unknown = conn.execute(
            select(messages.c.id, messages.c.error_code).where(messages.c.status == "unknown")
        ).all()
        owner = conn.execute(select(connectors.c.lease_owner)).scalar_one()
    assert sorted(unknown) == [(i, "interrupted") for i in ids[:3]]
    assert owner is None  # released on a clean stop, so the next worker need not wait
    assert connector.id


async def test_inbound_texts_and_the_connector_log_are_kept(
    engine: Engine, settings: Settings, workspace: WorkspaceRef
) -> None:
    now = datetime.now(UTC)
    sim = await start_simulator(sim_config())
    add_sim_connector(engine, workspace, sim.port, now)
    runtime = Runtime(engine, settings, worker="w1")
    running = asyncio.create_task(runtime.run())
    try:
        await wait_for(lambda: sim.bound_sessions == 1)
        await sim.send_mo("+48600100200", "4001", "Hello, is the shop open on Sunday?")

        def received() -> bool:
            """the inbound text stored"""
            with engine.connect() as conn:
                bodies = conn.execute(
                    select(messages.c.body).where(messages.c.direction == "in")
                ).scalars()
                return "Hello, is the shop open on Sunday?" in list(bodies)

        await wait_for(received)
    finally:
        runtime.stop()
        await running
        await sim.close()
    with engine.connect() as conn:
        kinds = set(conn.execute(select(connector_log.c.kind)).scalars())
    assert "bind" in kinds


async def test_an_edited_connector_is_restarted_with_its_new_settings(
    engine: Engine, settings: Settings, workspace: WorkspaceRef
) -> None:
    now = datetime.now(UTC)
    sim = await start_simulator(sim_config())
    row = add_sim_connector(engine, workspace, free_port(), now)  # a wrong port at first
    queue_texts(engine, workspace, ["+48600100200", "+48600100201"], now)
    runtime = Runtime(engine, settings, worker="w1")
    running = asyncio.create_task(runtime.run())
    try:
        await wait_for(lambda: runtime.runners and not runtime.runners[row.id].state().connected)
        with engine.begin() as conn:
            conn.execute(update(connectors).values(settings={**row.settings, "port": sim.port}))
        await wait_for(lambda: count_by_status(engine) == {"delivered": 2})
    finally:
        runtime.stop()
        await running
        await sim.close()


async def test_reports_the_database_refused_once_are_written_again(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, monkeypatch: pytest.MonkeyPatch
) -> None:
    from smscast.engine import events

    failures = []

    def flaky(*args: object, **kwargs: object) -> object:
        if not failures:
            failures.append(1)
            raise OperationalError("UPDATE messages", {}, Exception("database is locked"))
        return apply_reports(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(events, "apply_reports", flaky)
    now = datetime.now(UTC)
    sim = await start_simulator(sim_config())
    add_sim_connector(engine, workspace, sim.port, now)
    queue_texts(engine, workspace, [f"+4860010{i:04d}" for i in range(5)], now)
    runtime = Runtime(engine, settings, worker="w1")
    running = asyncio.create_task(runtime.run())
    try:
        await wait_for(lambda: count_by_status(engine) == {"delivered": 5})
    finally:
        runtime.stop()
        await running
        await sim.close()
    assert failures == [1]


async def test_an_http_carrier_connector_is_fed_the_same_way(
    engine: Engine, settings: Settings, workspace: WorkspaceRef
) -> None:
    """A Kannel connector (sendsms over HTTP) built from its row: texts go out and are sent."""
    requests: list[str] = []

    async def kannel(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            if line.startswith(b"GET "):
                requests.append(line.decode())
            if line == b"\r\n":
                body = b"0: Accepted for delivery"
                writer.write(b"HTTP/1.1 202 Accepted\r\nContent-Length: %d\r\n\r\n%s"
                             % (len(body), body))  # fmt: skip
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(kannel, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    now = datetime.now(UTC)
    add_connector(
        engine, workspace, name="kannel", kind="kannel", rate_per_s=0, window=4, actor="test",
        now=now, settings={"base_url": f"http://127.0.0.1:{port}", "username": "u",
                           "password": "p", "sender": "Shop"},
    )  # fmt: skip
    queue_texts(engine, workspace, [f"+4860010{i:04d}" for i in range(6)], now)
    runtime = Runtime(engine, settings, worker="w1")
    running = asyncio.create_task(runtime.run())
    try:
        await wait_for(lambda: count_by_status(engine) == {"sent": 6})
    finally:
        runtime.stop()
        await running
        server.close()
        await server.wait_closed()
    assert len(requests) == 6 and all("/cgi-bin/sendsms" in r for r in requests)
