"""Several binds per SMPP connector, against the built-in SMSC simulator on loopback.

What a user would notice: with `binds=2` both sessions bind and carry the campaign,
the account's window is never exceeded, every message gets one result and its delivery
report matched (the simulator sends every report on one session, so half of them come
on the bind that did not submit the message), and a bind the carrier drops costs no
message and sends none twice while the other carries on.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from test_smpp_client import until

from smscast.channels.base import (
    DeliveryReport,
    InboundMessage,
    LogEntry,
    OutgoingMessage,
    SubmitOutcome,
    SubmitResult,
)
from smscast.channels.simulator.config import SimulatorConfig
from smscast.channels.simulator.mo import build_mo_parts
from smscast.channels.simulator.server import RunningSimulator, start_simulator
from smscast.channels.smpp.binds import BindGroup, smpp_connector, split, window_shares
from smscast.channels.smpp.client import SmppClient
from smscast.channels.smpp.constants import CommandStatus
from smscast.channels.smpp.settings import IdFormat, SmppSettings
from smscast.engine.sending.connectors import ConnectorRow, build_connector


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
            seed=5,
        )
    )
    yield running
    await running.close()


def settings_for(simulator: RunningSimulator, **changes: Any) -> SmppSettings:
    values: dict[str, Any] = {
        "name": "sim",
        "port": simulator.port,
        "system_id": "smscast",
        "password": "pw",
        "binds": 2,
        "window": 8,
        "response_timeout_s": 2.0,
        "reconnect_min_s": 0.05,
        "reconnect_max_s": 0.2,
        "submit_id_format": IdFormat.HEX,
        "report_id_format": IdFormat.HEX,
    }
    return SmppSettings(**(values | changes))


@asynccontextmanager
async def group(settings: SmppSettings) -> AsyncIterator[tuple[BindGroup, list[Any]]]:
    """A started group collecting its events and acknowledging them, as the engine does."""
    connector = smpp_connector(settings)
    assert isinstance(connector, BindGroup)
    await connector.start()
    events: list[Any] = []

    async def collect() -> None:
        async for event in connector.events():
            events.append(event)
            if getattr(event, "ack", None) is not None:
                event.ack()

    collector = asyncio.create_task(collect())
    try:
        yield connector, events
    finally:
        await connector.stop()
        await asyncio.wait_for(collector, 5)


def messages(refs: range | list[int]) -> list[OutgoingMessage]:
    return [
        OutgoingMessage(ref=i, sender="+48500000001", recipient=f"+4860010{i:04d}", text=f"#{i}")
        for i in refs
    ]


def reports(events: list[Any]) -> list[DeliveryReport]:
    return [e for e in events if isinstance(e, DeliveryReport)]


def submits_per_session(simulator: RunningSimulator) -> list[int]:
    return sorted(s.submits for s in simulator.simulator.sessions if s.system_id is not None)


def recipients_submitted(simulator: RunningSimulator) -> Counter[str]:
    return Counter(str(getattr(p, "destination_addr", "")) for p in simulator.recent_submits)


async def test_two_binds_share_the_window_and_every_report_finds_its_message(
    simulator: RunningSimulator,
) -> None:
    simulator.config.response_delay = 0.005  # answers lag a little: the windows fill
    most_in_flight = 0
    async with group(settings_for(simulator)) as (connector, events):
        assert simulator.bound_sessions == 2 and simulator.stats.binds == 2
        assert connector.state().connected and connector.state().detail == "2 of 2 binds up"

        async def watch() -> None:
            nonlocal most_in_flight
            while True:
                most_in_flight = max(most_in_flight, connector.state().in_flight)
                await asyncio.sleep(0)

        watcher = asyncio.create_task(watch())
        results = await connector.send(messages(range(200)))
        watcher.cancel()
        await until(lambda: len(reports(events)) == 200)
        per_session = submits_per_session(simulator)
    assert [r.ref for r in results] == list(range(200))
    assert {r.outcome for r in results} == {SubmitOutcome.ACCEPTED}
    assert per_session == [100, 100]
    assert 0 < most_in_flight <= 8
    ref_of = {c: r.ref for r in results for c in r.carrier_ids}
    got = reports(events)
    assert all(report.ref is not None for report in got)  # matched by the connector itself
    assert {report.ref for report in got} == set(range(200))
    assert all(ref_of[report.carrier_id] == report.ref for report in got)


async def test_a_dropped_bind_loses_nothing_and_the_other_carries_on(
    simulator: RunningSimulator,
) -> None:
    simulator.config.response_delay = 0.1  # both windows are full when the carrier cuts one
    # The dropped bind stays down for the rest of the test: what follows goes by the other.
    settings = settings_for(simulator, reconnect_min_s=30.0, reconnect_max_s=60.0)
    async with group(settings) as (connector, events):
        sending = asyncio.create_task(connector.send(messages(range(200))))
        await until(lambda: connector.state().in_flight == 8)
        dropped = next(s for s in simulator.simulator.sessions if s.system_id is not None)
        dropped.drop()
        await until(lambda: connector.state().detail.startswith("1 of 2 binds up; bind "))
        assert connector.state().connected
        simulator.config.response_delay = 0.0
        first = await sending
        # The engine sends again what was never written (TEMPORARY), never what is UNKNOWN.
        again = [r.ref for r in first if r.outcome is SubmitOutcome.TEMPORARY]
        second = await connector.send(messages(again))
        assert simulator.bound_sessions == 1
        await until(lambda: len(reports(events)) >= 200 - _count(first, SubmitOutcome.UNKNOWN))
    outcomes = Counter(r.outcome for r in first)
    assert len(first) == 200 and outcomes[SubmitOutcome.ACCEPTED] >= 100
    assert outcomes[SubmitOutcome.UNKNOWN] <= 4  # at most the dropped bind's share
    assert again and {r.outcome for r in second} == {SubmitOutcome.ACCEPTED}
    accepted = [r for r in [*first, *second] if r.outcome is SubmitOutcome.ACCEPTED]
    unknown = {r.ref for r in first if r.outcome is SubmitOutcome.UNKNOWN}
    assert {r.ref for r in accepted} | unknown == set(range(200))
    assert len(accepted) + len(unknown) == 200  # one outcome each
    # The SMSC took every message exactly once: nothing lost, nothing sent twice.
    assert recipients_submitted(simulator) == Counter(
        m.recipient.lstrip("+") for m in messages(range(200))
    )
    matched = {r.ref for r in reports(events) if r.ref is not None}
    assert {r.ref for r in accepted} <= matched


def _count(results: list[SubmitResult], outcome: SubmitOutcome) -> int:
    return sum(1 for r in results if r.outcome is outcome)


async def test_a_long_inbound_text_whose_parts_come_over_both_binds_is_one_text(
    simulator: RunningSimulator,
) -> None:
    text = "Tak, poproszę kupon na wiosenną wyprzedaż! " * 6  # UCS-2: several parts
    parts = build_mo_parts("+48600999888", "4411", text, 7, simulator.config)
    async with group(settings_for(simulator)) as (_, events):
        sessions = [s for s in simulator.simulator.sessions if s.system_id is not None]
        for n, part in enumerate(parts):  # the SMSC picks a receiver bind for each part
            sessions[n % 2].deliver([part.encode()])
        await until(lambda: any(isinstance(e, InboundMessage) for e in events))
        await until(lambda: simulator.stats.deliver_acked == len(parts))
    [inbound] = [e for e in events if isinstance(e, InboundMessage)]
    assert len(parts) > 2 and inbound.parts == len(parts)
    assert inbound.text == text  # one text, nothing missing, each part acknowledged


async def test_the_group_sends_with_the_first_bind_up_and_the_other_binds_later(
    simulator: RunningSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks = simulator.simulator.check_bind
    refusals = [int(CommandStatus.ESME_RBINDFAIL)]  # the carrier refuses the first bind once

    def check_once(request: Any) -> int:
        return refusals.pop() if refusals else checks(request)

    monkeypatch.setattr(simulator.simulator, "check_bind", check_once)
    async with group(settings_for(simulator)) as (connector, events):
        results = await connector.send(messages(range(10)))
        await until(lambda: connector.state().detail == "2 of 2 binds up")
    assert {r.outcome for r in results} == {SubmitOutcome.ACCEPTED}
    assert (simulator.stats.bind_failures, simulator.stats.binds) == (1, 2)
    refused = [e for e in events if isinstance(e, LogEntry) and e.kind == "bind" and e.error]
    assert len(refused) == 1 and "ESME_RBINDFAIL" in str(refused[0].error)


async def test_a_group_no_bind_of_which_can_bind_says_why(simulator: RunningSimulator) -> None:
    simulator.config.refuse_binds = True
    connector = smpp_connector(settings_for(simulator))
    with pytest.raises(ConnectionError, match="refused"):
        await connector.start()
    await connector.stop()


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"binds": 0}, "a whole number from 1 to 16"),
        ({"binds": 17}, "a whole number from 1 to 16"),
        ({"binds": "2"}, "a whole number from 1 to 16"),
        ({"binds": 4, "window": 3}, "at most the window (3)"),
    ],
)
def test_binds_out_of_range_are_refused_naming_the_setting(
    changes: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ValueError, match="binds is") as caught:
        SmppSettings.from_mapping(changes)
    assert expected in str(caught.value)


def test_one_bind_is_a_plain_client_and_more_a_group_sharing_the_window() -> None:
    assert isinstance(smpp_connector(SmppSettings()), SmppClient)
    row = ConnectorRow(1, 1, "carrier", "smpp", {"binds": 3}, 50.0, 10, True)
    built = build_connector(row)
    assert isinstance(built, BindGroup)
    assert [c.settings.window for c in built.clients] == [4, 3, 3]
    assert built.settings.binds == 3 and built.settings.rate == 50.0
    assert window_shares(16, 16) == [1] * 16
    assert split(7, [4, 3, 3], 0) == [3, 2, 2] and split(7, [4, 3, 3], 2) == [2, 2, 3]
    assert split(1, [1, 1], 0) == [1, 0] and split(1, [1, 1], 1) == [0, 1]
