"""Our SMPP client against our SMSC simulator, when all is well and under its faults.

Faults a carrier really has: it drops the connection with a full window, it
throttles, it writes garbage between PDUs, it answers slowly. For each, what
a user would notice: every message gets exactly one outcome, nothing is sent
twice, and the connector carries on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
from test_smpp_client import running, until

from smscast.channels.base import (
    DeliveryReport,
    InboundMessage,
    LogEntry,
    OutgoingMessage,
    ReportState,
    SubmitOutcome,
)
from smscast.channels.simulator.config import SimulatorConfig
from smscast.channels.simulator.server import RunningSimulator, start_simulator
from smscast.channels.smpp.client import SmppClient
from smscast.channels.smpp.settings import IdFormat, SmppSettings

running_type = AbstractAsyncContextManager[tuple[SmppClient, list[Any]]]


@pytest.fixture
async def simulator() -> AsyncIterator[RunningSimulator]:
    running = await start_simulator(
        SimulatorConfig(
            port=0,
            http_port=None,
            dlr_delay=0.05,
            delivered=1.0,
            undeliverable=0.0,
            expired=0.0,
            rejected=0.0,
            seed=3,
        )
    )
    yield running
    await running.close()


def connector(simulator: RunningSimulator, **changes: Any) -> running_type:
    """The connector bound to the simulator, collecting its events (see `running`)."""
    values: dict[str, Any] = {
        "name": "sim",
        "port": simulator.port,
        "system_id": "smscast",
        "password": "pw",
        "response_timeout_s": 2.0,
        "reconnect_min_s": 0.05,
        "reconnect_max_s": 0.2,
        "submit_id_format": IdFormat.HEX,
        "report_id_format": IdFormat.HEX,
    }
    return running(SmppSettings(**(values | changes)))


def messages(count: int, text: str = "Offer {i}: 20% off today") -> list[OutgoingMessage]:
    return [
        OutgoingMessage(
            ref=i, sender="+48500000001", recipient=f"+4860010{i:04d}", text=text.format(i=i)
        )
        for i in range(count)
    ]


def of_kind(events: list[Any], kind: type) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


async def test_messages_reports_and_long_inbound_texts_flow(simulator: RunningSimulator) -> None:
    batch = messages(40) + messages(2, "Długa wiadomość " * 12)  # 2 x 3 UCS-2 parts
    batch = [OutgoingMessage(i, m.sender, m.recipient, m.text) for i, m in enumerate(batch)]
    async with connector(simulator) as (client, events):
        results = await client.send(batch)
        await until(lambda: len(of_kind(events, DeliveryReport)) == 46)
        simulator.config.mo_concat = "sar"
        await simulator.send_mo("+48600999888", "4411", "Tak! " * 80)
        simulator.config.mo_concat = "udh"
        await simulator.send_mo("+48600999777", "4411", "STOP")
        await until(lambda: len(of_kind(events, InboundMessage)) == 2)
    assert all(r.outcome is SubmitOutcome.ACCEPTED for r in results)
    assert [len(r.carrier_ids) for r in results[-2:]] == [3, 3]
    reports = of_kind(events, DeliveryReport)
    assert {r.ref for r in reports} == set(range(42))
    assert all(r.state is ReportState.DELIVERED for r in reports)
    long_mo, stop = of_kind(events, InboundMessage)
    assert long_mo.text == "Tak! " * 80 and long_mo.parts > 1
    assert stop.text == "STOP"


async def test_a_disconnect_with_a_full_window_gives_each_message_one_outcome(
    simulator: RunningSimulator,
) -> None:
    simulator.config.response_delay = 0.5
    async with connector(simulator, window=10) as (client, events):
        sending = asyncio.create_task(client.send(messages(25)))
        await until(lambda: client.state().in_flight == 10)
        simulator.drop_connections()
        results = await sending
        outcomes = [r.outcome for r in results]
        assert len(results) == 25
        assert outcomes.count(SubmitOutcome.UNKNOWN) == 10  # the full window
        assert set(outcomes[10:]) == {SubmitOutcome.TEMPORARY}  # never sent: safe to retry
        simulator.config.response_delay = 0.0
        await until(lambda: client.state().connected)
        [later] = await client.send(messages(1))
    assert later.outcome is SubmitOutcome.ACCEPTED
    unknown = [e for e in of_kind(events, LogEntry) if e.kind == "unknown_outcome"]
    assert set(unknown[0].refs) == set(range(10))


async def test_throttling_slows_down_and_every_message_gets_through(
    simulator: RunningSimulator,
) -> None:
    simulator.throttle_next(6)
    async with connector(simulator, throttle_pause_s=0.05, rate=500) as (client, events):
        results = await client.send(messages(20))
    assert all(r.outcome is SubmitOutcome.ACCEPTED for r in results)
    assert simulator.stats.throttled == 6
    assert simulator.stats.submits == 20
    assert any(e.kind == "throttled" for e in of_kind(events, LogEntry))


@pytest.mark.parametrize("kind", ["unknown_command", "bad_length", "random"])
async def test_garbage_between_pdus_is_nacked_and_the_session_survives(
    simulator: RunningSimulator, kind: str
) -> None:
    simulator.config.garbage_kind = kind  # type: ignore[assignment]
    simulator.config.garbage_after = 4
    async with connector(simulator) as (client, events):
        results = await client.send(messages(30))
        simulator.send_garbage()
        [after] = await client.send(messages(1))
    assert all(r.outcome is SubmitOutcome.ACCEPTED for r in [*results, after])
    assert simulator.stats.connections == 1
    assert simulator.stats.garbage_sent > 1
    assert any(e.kind == "malformed_pdu" for e in of_kind(events, LogEntry))


async def test_a_slow_smsc_makes_outcomes_unknown_never_resent(
    simulator: RunningSimulator,
) -> None:
    async with connector(simulator, response_timeout_s=0.2) as (client, events):
        simulator.config.response_delay = 0.6
        results = await client.send(messages(5))
        await until(
            lambda: any(isinstance(e, LogEntry) and e.kind == "late_response" for e in events)
        )
        simulator.config.response_delay = 0.0
    assert {r.outcome for r in results} == {SubmitOutcome.UNKNOWN}
    assert simulator.stats.submits == 5  # reported as unknown, not sent again
    late = [e for e in of_kind(events, LogEntry) if e.kind == "late_response"]
    assert {e.refs for e in late} <= {(i,) for i in range(5)}
