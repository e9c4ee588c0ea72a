"""The simulator with `smpplib`, an ESME nobody here wrote: bind, submit, report, MO."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
import smpplib.client
import smpplib.consts

from smscast.channels.simulator import SimulatorConfig, start_simulator
from smscast.channels.simulator.server import RunningSimulator

logging.getLogger("smpp.Client").setLevel(logging.WARNING)


@pytest.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    running = await start_simulator(
        SimulatorConfig(
            port=0,
            http_port=None,
            password="secret",
            dlr_delay=0.0,
            delivered=0,
            undeliverable=0,
            expired=1,
            rejected=0,
        )
    )
    yield running
    await running.close()


class Recorder:
    """smpplib calls these from its reading loop; we keep what it saw."""

    def __init__(self) -> None:
        self.sent: list[Any] = []
        self.received: list[Any] = []

    def message_sent(self, pdu: Any) -> None:
        self.sent.append(pdu)

    def message_received(self, pdu: Any) -> None:
        self.received.append(pdu)


def open_client(port: int, recorder: Recorder) -> smpplib.client.Client:
    client = smpplib.client.Client("127.0.0.1", port, timeout=10, allow_unknown_opt_params=True)
    client.set_message_sent_handler(recorder.message_sent)
    client.set_message_received_handler(recorder.message_received)
    client.connect()
    client.bind_transceiver(system_id="smscast", password="secret")
    return client


def read_until(client: smpplib.client.Client, done: Any) -> None:
    while not done():
        client.read_once()


async def test_smpplib_binds_submits_and_reads_the_report(sim) -> None:
    recorder = Recorder()

    def session() -> None:
        client = open_client(sim.port, recorder)
        client.send_message(
            source_addr_ton=smpplib.consts.SMPP_TON_ALNUM,
            source_addr="Shop",
            dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
            destination_addr="48600111222",
            short_message=b"Your order shipped",
            registered_delivery=1,
        )
        read_until(client, lambda: recorder.sent and recorder.received)
        client.unbind()
        client.disconnect()

    await asyncio.to_thread(session)
    message_id = recorder.sent[0].message_id.decode()
    report = recorder.received[0]
    assert report.receipted_message_id.decode() == message_id
    assert report.message_state == smpplib.consts.SMPP_MESSAGE_STATE_EXPIRED
    text = report.short_message.decode()
    assert text.startswith(f"id:{message_id} sub:001 dlvrd:000 ")
    assert "stat:EXPIRED err:027 text:Your order shipped" in text
    assert sim.stats.deliver_acked == 1


async def test_smpplib_receives_an_injected_mo(sim) -> None:
    recorder = Recorder()
    bound = asyncio.Event()
    loop = asyncio.get_running_loop()

    def session() -> None:
        client = open_client(sim.port, recorder)
        loop.call_soon_threadsafe(bound.set)
        read_until(client, lambda: recorder.received)
        client.unbind()
        client.disconnect()

    reading = asyncio.create_task(asyncio.to_thread(session))
    await bound.wait()
    await sim.send_mo("+48600111222", "4000", "HELP")
    await reading
    mo = recorder.received[0]
    assert (mo.source_addr.decode(), mo.destination_addr.decode()) == ("48600111222", "4000")
    assert mo.short_message == b"HELP"
    assert mo.esm_class == 0


async def test_smpplib_is_refused_with_a_wrong_password(sim) -> None:
    def session() -> None:
        client = smpplib.client.Client(
            "127.0.0.1", sim.port, timeout=10, allow_unknown_opt_params=True
        )
        client.connect()
        try:
            client.bind_transceiver(system_id="smscast", password="guess")
        finally:
            client.disconnect()

    with pytest.raises(smpplib.exceptions.PDUError) as caught:
        await asyncio.to_thread(session)
    assert caught.value.args[1] == 0x0E  # ESME_RINVPASWD
