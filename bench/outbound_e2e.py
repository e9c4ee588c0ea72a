"""Outbound end to end: outbox → dispatcher → SMPP → simulator → delivery reports → outbox.

N single-part messages are written to the outbox of a fresh SQLite database (as a
launch would), then the runtime (`smscast serve`'s dispatcher, one process) sends them
through an SMPP connector to the simulator, which runs in its own process (as a real
SMSC would) and reports each one delivered. The clock runs from the runtime's start
until every message is `delivered` in the database.

    .venv/bin/python bench/outbound_e2e.py [--n N] [--window W] [--database URL]

Last line: `RESULT e2e_msgs_per_s=<n>` (messages delivered and recorded per second).
"""

from __future__ import annotations

if __name__ == "__main__":  # first: takes bench/ off the path (spawned workers lack it)
    import _path  # noqa: F401

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text, update

from smscast.config import Settings
from smscast.engine.accounts.workspaces import create_workspace
from smscast.engine.runtime import Runtime
from smscast.engine.sending.connectors import add_connector
from smscast.store.bulk import DriverValues, insert_rows
from smscast.store.db import create_db_engine
from smscast.store.messaging_models import Message
from smscast.store.migrate import upgrade_database
from smscast.store.models import Workspace, table_of

SIMULATOR = """
import asyncio, sys
from smscast.channels.simulator.config import SimulatorConfig
from smscast.channels.simulator.server import start_simulator

async def main():
    sim = await start_simulator(SimulatorConfig(
        port=0, http_port=None, dlr_delay=0.2, delivered=1.0, undeliverable=0.0,
        expired=0.0, rejected=0.0, seed=1, keep_messages=1000, keep_pending=2_000_000))
    print(sim.port, flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await sim.close()

asyncio.run(main())
"""
COLUMNS = (
    "workspace_id", "direction", "kind", "purpose", "phone", "body", "encoding", "parts",
    "parts_done", "cost", "status", "send_after", "attempts", "run", "created_at",
)  # fmt: skip


def fill_outbox(url: str, n: int, port: int, window: int) -> None:
    engine = create_db_engine(url)
    now = datetime.now(UTC)
    workspace = create_workspace(engine, "Bench", "PL", "Europe/Warsaw", actor="bench", now=now)
    add_connector(
        engine,
        workspace,
        name="sim",
        kind="smpp",
        settings={"host": "127.0.0.1", "port": port, "system_id": "smscast"},
        rate_per_s=0,
        window=window,
        actor="bench",
        now=now,
    )
    with engine.begin() as conn:
        # The benchmark runs at any hour: no quiet hours to wait out.
        no_quiet = {"quiet_hours": {"start": "00:00", "end": "00:00"}}
        conn.execute(update(table_of(Workspace)).values(settings=no_quiet))
        driver = DriverValues(conn)
        at = driver.moment(now)
        rows = [
            (workspace.id, "out", "campaign", "informational", f"+4860{i:07d}",
             f"Hello {i}, 20% off today", "GSM-7", 1, 0, 0, "queued", at, 0, 0, at)
            for i in range(n)
        ]  # fmt: skip
        insert_rows(conn, table_of(Message), COLUMNS, rows)
    engine.dispose()


def delivered(url: str) -> int:
    engine = create_db_engine(url)
    with engine.connect() as conn:
        count = conn.execute(
            text("SELECT COUNT(*) FROM messages WHERE status = 'delivered'")
        ).scalar_one()
    engine.dispose()
    return int(count)


async def run(url: str, n: int, window: int, claim: int) -> tuple[float, float]:
    simulator = subprocess.Popen(
        [sys.executable, "-c", SIMULATOR], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert simulator.stdout is not None and simulator.stdin is not None
    port = int(simulator.stdout.readline())
    try:
        fill_outbox(url, n, port, window)
        settings = Settings(
            database_url=url, claim_batch_size=claim, log_level="warning", simulator=False
        )
        engine = create_db_engine(url)
        runtime = Runtime(engine, settings, worker="bench")
        started = time.perf_counter()
        cpu = time.process_time()
        task = asyncio.create_task(runtime.run())
        done = 0
        while done < n:
            await asyncio.sleep(0.25)
            done = await asyncio.to_thread(delivered, url)
            if task.done():
                task.result()
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
        runtime.stop()
        await task
        engine.dispose()
    finally:
        simulator.stdin.close()
        simulator.wait(timeout=30)
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="messages to send")
    parser.add_argument("--window", type=int, default=1000, help="the connector's window")
    parser.add_argument("--claim", type=int, default=1000, help="claim_batch_size")
    parser.add_argument("--database", default="", help="a database URL (default: temp SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database or f"sqlite:///{Path(folder) / 'bench.db'}"
        upgrade_database(url)
        elapsed, cpu = asyncio.run(run(url, args.n, args.window, args.claim))
    rate = args.n / elapsed
    print(f"{args.n} messages delivered and recorded in {elapsed:.2f}s "
          f"(window {args.window}, load {os.getloadavg()[0]:.1f}); smscast process: "
          f"{cpu:.2f} CPU-s, {args.n / cpu:.0f} messages per CPU-second")  # fmt: skip
    print(f"RESULT e2e_msgs_per_s={rate:.0f}")


if __name__ == "__main__":
    main()
