"""The live inbox with many tabs open: how soon a new text reaches every open inbox.

A SQLite workspace gets N open tickets (one contact and one inbound text each) and a
large messages table (M texts in all: the tickets' texts and a campaign's worth of
outgoing ones), written in bulk. The real site (`web.site.create_site`, the app
`smscast serve` runs) is served by uvicorn in its own process on loopback, and C
clients (HTTPX, one connection each, as C browser tabs) hold `GET /inbox/stream` open
with an agent's session. This process then writes U new texts from new phones, as the
event pump does (`handle_inbound`: stored, routed, a ticket opened), one every GAP
seconds, and times, for every client, the span from the start of the write to the
arrival of the `rows` event that shows the new sender: what an agent waits for.

While the streams are open a prober asks `GET /inbox` (the whole page, 50 rows) every
half second: the server stays responsive with the tabs open.

    python bench/inbox.py [--n 5000] [--messages 1000000] [--clients 100] [--updates 20]

Last line: `RESULT sse_clients=<c> update_p95_ms=<x>`.
"""

from __future__ import annotations

if __name__ == "__main__":  # first: takes bench/ off the path (spawned workers lack it)
    import _path  # noqa: F401

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from argon2 import PasswordHasher
from sqlalchemy import Engine, func, insert, select

from smscast.api.deps import SESSION_COOKIE
from smscast.channels.base import InboundMessage
from smscast.config import Settings
from smscast.engine.accounts.auth import memberships
from smscast.engine.accounts.users import sign_in
from smscast.engine.accounts.workspaces import WorkspaceRef, create_workspace
from smscast.engine.inbound.numbers import add_number
from smscast.engine.inbound.receive import handle_inbound
from smscast.engine.sending.connectors import add_connector
from smscast.store.bulk import DriverValues, insert_returning, insert_rows
from smscast.store.db import create_db_engine
from smscast.store.inbound_models import Ticket
from smscast.store.messaging_models import Message
from smscast.store.migrate import upgrade_database
from smscast.store.models import Contact, User, table_of

SHORT = "4000"
EMAIL, PASSWORD = "agent@example.com", "bench passphrase"
SERVER = """
import sys, uvicorn
from smscast.config import Settings
from smscast.web.site import create_site
settings = Settings.model_validate({"database_url": sys.argv[1], "data_dir": sys.argv[2],
                                    "secret_key": "bench-secret", "webhook_worker": False})
uvicorn.run(create_site(settings), host="127.0.0.1", port=int(sys.argv[3]), log_level="warning")
"""
MESSAGE_COLUMNS = (
    "workspace_id", "direction", "kind", "purpose", "contact_id", "phone", "number_id",
    "ticket_id", "body", "encoding", "parts", "parts_done", "cost", "status", "attempts",
    "connector_id", "created_at", "run",
)  # fmt: skip


@dataclass
class Shop:
    workspace: WorkspaceRef
    connector_id: int
    token: str


def build(engine: Engine, n: int, total: int, now: datetime) -> Shop:
    """The workspace, its agent, N open tickets and `total` messages in all."""
    workspace = create_workspace(engine, "Bench", "PL", "Europe/Warsaw", actor="bench", now=now)
    connector = add_connector(engine, workspace, name="carrier", kind="smpp",
                              settings={"host": "127.0.0.1", "port": 2775, "system_id": "b"},
                              rate_per_s=100.0, window=10, actor="bench", now=now)  # fmt: skip
    number = add_number(engine, workspace, SHORT, connector="carrier", actor="bench", now=now)
    rng = random.Random(7)
    with engine.begin() as conn:
        values = DriverValues(conn)
        users = table_of(User)
        user_id = conn.execute(insert(users).values(
            email=EMAIL, name="Agent", password_hash=PasswordHasher().hash(PASSWORD),
            is_active=True, created_at=now).returning(users.c.id)).scalar_one()  # fmt: skip
        conn.execute(insert(memberships).values(user_id=user_id, workspace_id=workspace.id,
                                                role="agent"))  # fmt: skip
        contact_rows = [
            (workspace.id, f"+4860{i:07d}", "PL", values.json({}), "Europe/Warsaw",
             values.json([]), values.moment(now), values.moment(now))
            for i in range(n)
        ]  # fmt: skip
        contact_ids = [row[0] for row in insert_returning(
            conn, table_of(Contact),
            ("workspace_id", "phone", "country", "attributes", "timezone", "tags", "created_at",
             "updated_at"), contact_rows, ("id",))]  # fmt: skip
        moments = [now - timedelta(minutes=rng.randrange(60 * 24 * 7)) for _ in range(n)]
        ticket_ids = [row[0] for row in insert_returning(
            conn, table_of(Ticket),
            ("workspace_id", "contact_id", "number_id", "state", "subject", "created_at",
             "updated_at", "last_inbound_at"),
            [(workspace.id, contact_ids[i], number.id, "open", f"Question {i}",
              values.moment(moments[i]), values.moment(moments[i]), values.moment(moments[i]))
             for i in range(n)], ("id",))]  # fmt: skip
        rows = [
            (workspace.id, "in", "inbound", "informational", contact_ids[i], f"+4860{i:07d}",
             number.id, ticket_ids[i], f"Question {i}: where is my order?", "GSM-7", 1, 1, 0,
             "received", 0, connector.id, values.moment(moments[i]), 0)
            for i in range(n)
        ]  # fmt: skip
        for i in range(max(0, total - n)):  # a campaign's texts: the table an inbox must not scan
            contact = rng.randrange(n) if n else None
            rows.append((
                workspace.id, "out", "campaign", "promotional",
                contact_ids[contact] if contact is not None else None, f"+4861{i:07d}",
                number.id, None, "Hi, -20% today", "GSM-7", 1, 1, 0.04, "delivered", 1,
                connector.id, values.moment(now - timedelta(days=8, seconds=i)), 0,
            ))  # fmt: skip
            if len(rows) >= 50_000:
                insert_rows(conn, table_of(Message), MESSAGE_COLUMNS, rows)
                rows = []
        insert_rows(conn, table_of(Message), MESSAGE_COLUMNS, rows)
    session = sign_in(engine, EMAIL, PASSWORD, workspace_id=workspace.id,
                      lifetime=timedelta(hours=2), now=now)  # fmt: skip
    return Shop(workspace, connector.id, session.token)


@dataclass
class Watching:
    """What the clients saw: for each new sender, when it was written and when each
    client's inbox showed it."""

    clients: int
    written: dict[str, float] = field(default_factory=dict)
    seen: dict[str, list[float]] = field(default_factory=dict)
    ready: int = 0
    events: int = 0


async def tab(client: httpx.AsyncClient, watching: Watching, stop: asyncio.Event) -> None:
    """One open inbox: reads the stream, notes when each new sender first shows."""
    shown: set[str] = set()
    first = True
    async with client.stream("GET", "/inbox/stream") as answer:
        assert answer.status_code == 200, answer.status_code
        event = ""
        async for line in answer.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "rows":
                arrived = time.perf_counter()
                watching.events += 1
                if first:
                    watching.ready, first = watching.ready + 1, False
                rows = json.loads(line[6:])["rows"]
                for phone in list(watching.written):
                    if phone not in shown and phone in rows:
                        shown.add(phone)
                        watching.seen.setdefault(phone, []).append(arrived)
            if stop.is_set():
                return


async def probe(client: httpx.AsyncClient, spent: list[float], stop: asyncio.Event) -> None:
    """The whole inbox page, every half second, while the tabs are open."""
    while not stop.is_set():
        started = time.perf_counter()
        answer = await client.get("/inbox")
        assert answer.status_code == 200, answer.status_code
        spent.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.5)


def text_in(engine: Engine, settings: Settings, shop: Shop, phone: str) -> None:
    result = handle_inbound(engine, settings, shop.connector_id,
                            InboundMessage(phone, SHORT, "Is my parcel coming today?",
                                           datetime.now(UTC)))  # fmt: skip
    assert result.route == "ticket", result


async def run(url: str, engine: Engine, settings: Settings, shop: Shop, clients: int,
              updates: int, gap: float) -> tuple[Watching, list[float]]:  # fmt: skip
    watching = Watching(clients)
    stop = asyncio.Event()
    limits = httpx.Limits(max_connections=clients + 5, max_keepalive_connections=clients + 5)
    async with httpx.AsyncClient(base_url=url, cookies={SESSION_COOKIE: shop.token},
                                 timeout=httpx.Timeout(60.0, read=None),
                                 limits=limits) as client:  # fmt: skip
        tabs = [asyncio.create_task(tab(client, watching, stop)) for _ in range(clients)]
        deadline = time.monotonic() + 60
        while watching.ready < clients and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        print(f"{watching.ready} of {clients} inbox streams open and showing their rows")
        page_spent: list[float] = []
        prober = asyncio.create_task(probe(client, page_spent, stop))
        for i in range(updates):
            phone = f"+4869{i:07d}"
            watching.written[phone] = time.perf_counter()  # the write starts now
            await asyncio.to_thread(text_in, engine, settings, shop, phone)
            await asyncio.sleep(gap)
        deadline = time.monotonic() + 15
        while (sum(len(seen) for seen in watching.seen.values()) < clients * updates
               and time.monotonic() < deadline):  # fmt: skip
            await asyncio.sleep(0.1)
        stop.set()
        for task in (*tabs, prober):
            task.cancel()
        await asyncio.gather(*tabs, prober, return_exceptions=True)
    return watching, page_spent


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def free_port() -> int:
    import socket

    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        return int(probe_socket.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=5000, help="open tickets")
    parser.add_argument("--messages", type=int, default=1_000_000, help="messages in all")
    parser.add_argument("--clients", type=int, default=100, help="open inbox streams")
    parser.add_argument("--updates", type=int, default=20, help="new texts written")
    parser.add_argument("--gap", type=float, default=2.0, help="seconds between new texts")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        upgrade_database(url)
        engine = create_db_engine(url)
        started = time.perf_counter()
        shop = build(engine, args.n, args.messages, datetime.now(UTC))
        with engine.connect() as conn:
            written = conn.execute(select(func.count()).select_from(table_of(Message))).scalar()
        print(f"built {args.n} open tickets and {written} messages in "
              f"{time.perf_counter() - started:.1f}s")  # fmt: skip
        settings = Settings.model_validate({
            "database_url": url, "data_dir": Path(folder) / "var",
            "secret_key": "bench-secret", "webhook_worker": False,
        })  # fmt: skip
        port = free_port()
        server = subprocess.Popen([sys.executable, "-c", SERVER, url, str(Path(folder) / "var"),
                                   str(port)])  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=2.0).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not start")
                time.sleep(0.2)
            watching, page_spent = asyncio.run(
                run(base, engine, settings, shop, args.clients, args.updates, args.gap)
            )
        finally:
            server.terminate()
            server.wait(timeout=30)
            engine.dispose()
    latencies = [
        (arrived - watching.written[phone]) * 1000
        for phone, arrivals in watching.seen.items() for arrived in arrivals
    ]  # fmt: skip
    missing = args.clients * args.updates - len(latencies)
    print(f"updates: {len(latencies)} arrivals ({missing} missing) of {args.updates} new texts "
          f"at {args.clients} clients; median {statistics.median(latencies):.0f} ms, "
          f"p95 {p95(latencies):.0f} ms, max {max(latencies):.0f} ms")  # fmt: skip
    print(f"GET /inbox with the streams open: median {statistics.median(page_spent):.1f} ms, "
          f"p95 {p95(page_spent):.1f} ms over {len(page_spent)} views")  # fmt: skip
    print(f"load average {os.getloadavg()[0]:.2f}")
    print(f"RESULT sse_clients={args.clients} update_p95_ms={p95(latencies):.0f}")


if __name__ == "__main__":
    main()
