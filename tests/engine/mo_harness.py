"""Inbound texts over real SMPP for engine tests: the simulator injects MO messages,
our SMPP client receives them on loopback, and the test hands the events to the
engine exactly as the connector runtime does (acknowledging each text once stored)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import Engine, insert, select

from smscast.channels.base import InboundMessage
from smscast.channels.simulator import RunningSimulator, SimulatorConfig, start_simulator
from smscast.channels.smpp.client import SmppClient
from smscast.channels.smpp.settings import SmppSettings
from smscast.config import Settings
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.inbound.numbers import NumberRef, add_number
from smscast.engine.inbound.receive import InboundResult, handle_inbound
from smscast.store.messaging_models import Campaign, Connector, Message
from smscast.store.models import table_of

LONG = "+48500100200"
SHORT = "4000"


def add_connector(engine: Engine, workspace: WorkspaceRef, now: datetime, name: str = "sim") -> int:
    with engine.begin() as conn:
        return int(conn.execute(
            insert(table_of(Connector)).values(
                workspace_id=workspace.id, name=name, kind="smpp", settings={}, rate_per_s=100.0,
                window=10, enabled=True, created_at=now,
            ).returning(table_of(Connector).c.id)
        ).scalar_one())  # fmt: skip


@dataclass
class Mo:
    """A simulator and a bound client; `send` injects one MO and routes what arrives."""

    sim: RunningSimulator
    client: SmppClient
    inbox: asyncio.Queue[InboundMessage]
    engine: Engine
    settings: Settings
    connector_id: int
    received: list[InboundMessage] = field(default_factory=list)

    async def receive(self, sender: str, recipient: str, text: str) -> InboundMessage:
        """The text as the connector gives it; the test stores it, `mo_pipe` acks it."""
        await self.sim.send_mo(sender, recipient, text)
        async with asyncio.timeout(10):
            message = await self.inbox.get()
        self.received.append(message)
        return message

    async def send(self, sender: str, recipient: str, text: str) -> InboundResult:
        message = await self.receive(sender, recipient, text)
        result = handle_inbound(self.engine, self.settings, self.connector_id, message)
        self.acknowledge()
        return result

    def acknowledge(self) -> None:
        for message in self.received:
            if message.ack is not None:
                message.ack()
        self.received.clear()


@contextlib.asynccontextmanager
async def mo_pipe(engine: Engine, settings: Settings, connector_id: int) -> AsyncIterator[Mo]:
    sim = await start_simulator(SimulatorConfig(port=0, http_port=None, seed=1))
    client = SmppClient(SmppSettings(name="sim", port=sim.port, response_timeout_s=2.0))
    await client.start()
    inbox: asyncio.Queue[InboundMessage] = asyncio.Queue()

    async def collect() -> None:
        async for event in client.events():
            if isinstance(event, InboundMessage):
                inbox.put_nowait(event)

    task = asyncio.create_task(collect())
    mo = Mo(sim, client, inbox, engine, settings, connector_id)
    try:
        yield mo
    finally:
        mo.acknowledge()
        await client.stop()
        await asyncio.wait_for(task, 5)
        await sim.close()


def setup_numbers(
    engine: Engine, workspace: WorkspaceRef, now: datetime
) -> tuple[int, NumberRef, NumberRef]:
    connector_id = add_connector(engine, workspace, now)
    long = add_number(engine, workspace, LONG, connector="sim", actor="test", now=now)
    short = add_number(engine, workspace, SHORT, connector="sim", actor="test", now=now)
    return connector_id, long, short


def outbox(engine: Engine, **where: Any) -> list[Any]:
    """Outgoing messages, oldest first, optionally filtered by column values."""
    messages = table_of(Message)
    query = select(messages).where(messages.c.direction == "out").order_by(messages.c.id)
    for column, value in where.items():
        query = query.where(messages.c[column] == value)
    with engine.connect() as conn:
        return list(conn.execute(query))


def add_sent_campaign(
    engine: Engine, workspace: WorkspaceRef, number_id: int, contact_id: int, sent_at: datetime,
    *, phone: str = "+48600100200", options: dict[str, Any] | None = None,
    purpose: str = "promotional",
) -> int:  # fmt: skip
    """A campaign that texted one contact from `number_id` at `sent_at`."""
    campaigns = table_of(Campaign)
    with engine.begin() as conn:
        campaign_id = conn.execute(insert(campaigns).values(
            workspace_id=workspace.id, name=f"c{sent_at:%H%M%S%f}", status="running",
            purpose=purpose, segment_expression="", number_id=number_id, schedule={},
            options=options or {}, excluded={}, created_by="test", created_at=sent_at,
        ).returning(campaigns.c.id)).scalar_one()  # fmt: skip
        conn.execute(insert(table_of(Message)).values(
            workspace_id=workspace.id, direction="out", kind="campaign", purpose=purpose,
            contact_id=contact_id, phone=phone, number_id=number_id, campaign_id=campaign_id,
            run=0, body="Offer! Reply YES", encoding="GSM-7", parts=1, parts_done=1, cost=0,
            status="delivered", attempts=1, created_at=sent_at, sent_at=sent_at,
        ))  # fmt: skip
    return int(campaign_id)


class _Sink(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.server.received.append(json.loads(self.rfile.read(length)))  # type: ignore[attr-defined]
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class Sink:
    url: str
    received: list[dict[str, Any]]


@contextlib.contextmanager
def webhook_sink() -> Iterator[Sink]:
    """A loopback HTTP endpoint that keeps the JSON bodies POSTed to it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Sink(f"http://127.0.0.1:{server.server_port}/hook", server.received)  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
