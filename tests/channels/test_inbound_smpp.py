"""Inbound end to end over real SMPP on loopback: the simulator injects MO texts, the
runtime's SMPP connector receives them, the inbound router answers, and the answers
leave through the outbox and the dispatcher back to the simulator."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from sqlalchemy import Engine, func, select

from smscast.channels.simulator import RunningSimulator, SimulatorConfig, start_simulator
from smscast.channels.smpp import pdu
from smscast.channels.smpp.constants import Npi, Ton
from smscast.config import Settings
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.inbound.keyword_rules import add_keyword_rule
from smscast.engine.inbound.numbers import add_number
from smscast.engine.runtime import Runtime
from smscast.engine.sending.connectors import add_connector
from smscast.store.inbound_models import InboundRoute
from smscast.store.messaging_models import Message
from smscast.store.models import table_of

SHORT = "4000"
PHONE = "+48600100200"
routes = table_of(InboundRoute)
messages = table_of(Message)


@contextlib.asynccontextmanager
async def running(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> AsyncIterator[RunningSimulator]:
    sim = await start_simulator(SimulatorConfig(port=0, http_port=None, dlr_delay=0.05, seed=3))
    add_connector(engine, workspace, name="sim", kind="smpp", window=20, rate_per_s=0.0,
                  settings={"host": "127.0.0.1", "port": sim.port, "system_id": "smscast"},
                  actor="test", now=now)  # fmt: skip
    add_number(engine, workspace, SHORT, connector="sim", actor="test", now=now)
    runtime = Runtime(engine, settings, worker="w1")
    task = asyncio.create_task(runtime.run())
    try:
        yield sim
    finally:
        runtime.stop()
        await task
        await sim.close()


async def until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    """Waits for the system to do something (no timing is asserted)."""
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)


def texts_to(sim: RunningSimulator, phone: str) -> str:
    """Every part the simulator accepted for `phone`, decoded and joined in order."""
    out = []
    for submit in sim.recent_submits:
        if submit.destination_addr == phone.lstrip("+"):
            assert submit.source_addr == SHORT
            body = submit.short_message
            if submit.esm_class & 0x40:  # a user data header comes first
                body = body[1 + body[0] :]
            out.append(body.decode("utf-16-be" if submit.data_coding == 8 else "latin-1"))
    return "".join(out)


def routed(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(select(routes.c.route, func.count()).group_by(routes.c.route))
        return dict(rows.all())  # type: ignore[arg-type]


async def test_keyword_answer_goes_back_to_the_sender_over_smpp(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    add_number_rule = [
        {"type": "reply", "text": "Hi {{ first_name | default('there') }}! Code P10"}
    ]
    async with running(engine, settings, workspace, now) as sim:
        add_keyword_rule(engine, workspace, SHORT, "PIZZA", add_number_rule, actor="t", now=now)
        await sim.send_mo(PHONE, SHORT, "Pizza!")
        await until(lambda: texts_to(sim, PHONE) == "Hi there! Code P10")
        await sim.send_mo(PHONE, SHORT, "stop")
        # The opt-out confirmation (Polish, two UCS-2 parts) goes out despite the opt-out.
        await until(
            lambda: texts_to(sim, PHONE).endswith("Odpisz START, aby zapisać się ponownie.")
        )


async def test_bad_input_is_routed_or_logged_without_blocking_others(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    rule = [{"type": "reply", "text": "ok"}]
    async with running(engine, settings, workspace, now) as sim:
        add_keyword_rule(engine, workspace, SHORT, "PIZZA", rule, actor="t", now=now)
        long_text = "PIZZA " + "x" * 1500  # ten parts on the wire
        assert (await sim.send_mo("+48600100201", SHORT, long_text)).parts == 10
        await sim.send_mo("+48600100202", SHORT, "👍🎉")  # only emoji
        await sim.send_mo("+48600100203", "9999", "hello")  # a number we do not own
        broken = pdu.DeliverSm(
            source_addr_ton=Ton.INTERNATIONAL, source_addr_npi=Npi.ISDN,
            source_addr="48600100204", dest_addr_ton=Ton.NETWORK_SPECIFIC,
            dest_addr_npi=Npi.ISDN, destination_addr=SHORT, data_coding=8,
            short_message=b"\xd8\x3d\x00",  # odd-length UCS-2 with a lone surrogate
        )  # fmt: skip
        sim.simulator.route(None, [broken.encode()])
        for i in range(40):  # a flood from one sender
            await sim.send_mo("+48600100205", SHORT, f"spam {i}")
        await sim.send_mo("+48600100206", SHORT, "pizza")  # someone else, after the flood
        await until(lambda: sum(routed(engine).values()) == 45)
        await until(lambda: texts_to(sim, "+48600100206") == "ok")
    counts = routed(engine)
    assert counts["keyword"] == 2  # the ten-part text and the person after the flood
    assert counts["unrouted"] == 1 and counts["flood"] == 10
    assert counts["ticket"] == 1 + 1 + 30  # emoji, the broken text, the flood's first 30
    assert texts_to(sim, "+48600100201") == "ok"
    with engine.connect() as conn:
        unrouted = conn.execute(select(messages).where(messages.c.status == "unrouted")).one()
        assert "9999 is not a number of this workspace" in unrouted.error
        broken_body = conn.execute(
            select(messages.c.body).where(messages.c.phone == "+48600100204")
        ).scalar_one()
        assert broken_body  # stored as well as it could be read, not dropped
