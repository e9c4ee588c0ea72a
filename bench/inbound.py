"""Inbound throughput: MO texts over SMPP → routed → answers queued → sent back over SMPP.

The SMSC simulator runs in its own process and injects N MO texts (a seeded mix of
keywords, STOPs, HELP/START and free text from 5,000 senders) into one SMPP
binding. Our side is one process as `smscast worker` would run it: the SMPP client
receives the texts, `handle_inbound_batch` stores and routes what has arrived
(one transaction per batch, on SQLite), and the real dispatcher sends the answers
back through the same binding. The clock runs from the first injected text until
every text is routed and every answer has been accepted by the simulator.

With `--processes 2` the answers are sent by a second process (its own transmitter
bind; this one binds as receiver), as two workers would split the work. With
`--workers` that second process is a real `smscast worker --role transmit`: it takes
the connector's sending lease and sends what routing queued, as in a deployment where
the receiving side's worker routes.

    python bench/inbound.py [--n 20000] [--batch 2000] [--window 100]
                            [--processes 1|2 | --workers]

`--window` is the connector's (100 by default, as every earlier figure had): a
dispatcher claims at most a window of answers a transaction.

`--route-only` routes the same mix of texts without sockets or sending (the cost of
`handle_inbound_batch` alone: CPU-s, statements per batch; `--profile FILE` keeps a
cProfile of it).
"""

from __future__ import annotations

if __name__ == "__main__":  # first: takes bench/ off the path (spawned workers lack it)
    import _path  # noqa: F401

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, exists, func, select, update

from smscast.channels.base import DeliveryReport, InboundMessage
from smscast.channels.smpp.client import SmppClient
from smscast.channels.smpp.settings import BindMode, SmppSettings
from smscast.config import Settings
from smscast.engine.accounts.workspaces import create_workspace
from smscast.engine.collector import tune_for_service
from smscast.engine.db_thread import DbThread
from smscast.engine.events import acknowledge
from smscast.engine.inbound.keyword_rules import add_keyword_rule
from smscast.engine.inbound.numbers import add_number
from smscast.engine.inbound.receive import InboundResult, handle_inbound_batch
from smscast.engine.sending.connectors import add_connector, list_connectors
from smscast.engine.sending.dispatcher import Dispatcher, DispatchLimits
from smscast.engine.sending.outbox import RetryPolicy
from smscast.store.db import create_db_engine
from smscast.store.messaging_models import Connector, Message
from smscast.store.migrate import upgrade_database
from smscast.store.models import table_of

SHORT = "4000"
WORKER = "bench"
SIMULATOR = """
import asyncio, random, sys
from smscast.channels.simulator.config import SimulatorConfig
from smscast.channels.simulator.server import start_simulator

TEXTS = ["pizza", "Pizza!", "PIZZA large", "pizza", "sushi", "Sushi please", "STOP", "Stop.",
         "HELP", "pomoc", "START", "where is my order?", "thanks!", "👍", "Can I change the time?",
         "pizza", "sushi", "JOIN", "yes", "hello"]

async def main():
    n = int(sys.argv[1])
    sim = await start_simulator(SimulatorConfig(
        port=0, http_port=None, dlr_delay=0.0, delivered=1.0, undeliverable=0.0, expired=0.0,
        rejected=0.0, seed=1, keep_messages=1000, keep_pending=n + 1000))
    print(sim.port, flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)
    rng = random.Random(7)
    for i in range(n):
        await sim.send_mo(f"+48600{rng.randrange(5000):06d}", "4000", rng.choice(TEXTS))
        if i % 500 == 499:
            await asyncio.sleep(0)
    await loop.run_in_executor(None, sys.stdin.read)
    print(sim.stats.submits, flush=True)
    await sim.close()

asyncio.run(main())
"""


SENDER = """
import asyncio, dataclasses, resource, sys, time
from smscast.channels.smpp.client import SmppClient
from smscast.channels.smpp.settings import BindMode, SmppSettings
from smscast.engine.collector import tune_for_service
from smscast.engine.db_thread import DbThread
from smscast.engine.sending.dispatcher import Dispatcher, DispatchLimits
from smscast.engine.sending.outbox import RetryPolicy
from smscast.store.db import create_db_engine

async def main():
    url, port, connector_id, worker = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    window = int(sys.argv[5])
    engine = create_db_engine(url)
    client = SmppClient(SmppSettings(name="sim-tx", port=port, window=window,
                                     response_timeout_s=30, bind_mode=BindMode.TRANSMITTER))
    await client.start()
    db = DbThread(engine)
    limits = dataclasses.replace(DispatchLimits.for_connector(window=window, rate_per_s=0.0,
                                                              claim_batch=2000), idle_s=0.01)
    dispatcher = Dispatcher(db, client, connector_id, worker, limits, RetryPolicy())
    tune_for_service()
    sending = asyncio.create_task(dispatcher.run())
    print("bound", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)
    dispatcher.stop()
    await sending
    await client.stop()
    db.close()
    print(f"{time.process_time():.3f}", flush=True)

asyncio.run(main())
"""


def prepare(
    url: str, port: int, split: bool = False, window: int = 100
) -> tuple[Engine, Settings, int]:
    """The workspace, number, rules and connector; this process holds the connector's
    lease, or with `split` only its receiving side (a transmit worker takes the rest)."""
    upgrade_database(url)
    engine = create_db_engine(url)
    settings = Settings(database_url=url, secret_key="bench", data_dir=Path(tempfile.gettempdir()))
    now = datetime.now(UTC)
    workspace = create_workspace(engine, "Shop", "PL", "Europe/Warsaw", actor="bench", now=now)
    connector = add_connector(engine, workspace, name="sim", kind="smpp", window=window,
                              rate_per_s=0.0, actor="bench", now=now,
                              settings={"host": "127.0.0.1", "port": port})  # fmt: skip
    add_number(engine, workspace, SHORT, connector="sim", actor="bench", now=now)
    rules = {
        "PIZZA": [{"type": "reply", "text": "Hi {{ first_name | default('there') }}! PIZZA10"}],
        "SUSHI": [{"type": "reply", "text": "Sushi code S5"}, {"type": "tag", "name": "sushi"}],
        "JOIN": [{"type": "double_opt_in", "text": "Reply YES to get Shop offers"}],
    }
    for keyword, actions in rules.items():
        add_keyword_rule(engine, workspace, SHORT, keyword, actions, actor="bench", now=now)
    held = {"receive_owner": WORKER, "receive_until": now + timedelta(days=1)} if split else {
        "lease_owner": WORKER, "lease_until": now + timedelta(days=1)}  # fmt: skip
    with engine.begin() as conn:
        conn.execute(update(table_of(Connector)).values(**held))
    return engine, settings, connector.id


def unsent(engine: Engine) -> bool:
    """Whether an answer is still queued or being sent (only outgoing texts are).

    Asked every 10 ms on the database thread the dispatcher uses too, so it must cost
    next to nothing: one probe of each partial index. (Counting them, as this did
    before, read every queued answer's row each time and took a quarter of that
    thread's time, which the clock then charged to dispatching.)
    """
    messages = table_of(Message)
    with engine.connect() as conn:
        return any(
            conn.execute(select(exists().where(messages.c.status == status))).scalar_one()
            for status in ("queued", "sending")
        )


def statuses(engine: Engine) -> dict[str, int]:
    messages = table_of(Message)
    with engine.connect() as conn:
        rows = conn.execute(
            select(messages.c.status, func.count())
            .where(messages.c.direction == "out")
            .group_by(messages.c.status)
        )
        return {status: count for status, count in rows}


def timed_routing(
    engine: Engine, settings: Settings, connector_id: int, batch: list[InboundMessage]
) -> tuple[list[InboundResult], float]:
    """Routes a batch on the database thread and says how much of that thread's CPU it
    took: the rest of the process's CPU is the event loop's (SMPP, and the dispatcher
    in one process)."""
    started, wall = time.thread_time(), time.perf_counter()
    results = handle_inbound_batch(engine, settings, connector_id, batch)
    WALL[0] += time.perf_counter() - wall
    return results, time.thread_time() - started


WALL = [0.0]


TRANSMITTER = "bench-tx"


def start_transmit_worker(workdir: str, url: str, engine: Engine) -> subprocess.Popen[bytes]:
    """`smscast worker --role transmit`, once it holds the sending lease and is bound."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMSCAST_")}
    env.update(SMSCAST_DATABASE_URL=url, SMSCAST_DATA_DIR=f"{workdir}/var",
               SMSCAST_CONFIG=f"{workdir}/none.toml", SMSCAST_LOG_LEVEL="warning")  # fmt: skip
    worker = subprocess.Popen(
        [sys.executable, "-m", "smscast", "worker", "--role", "transmit", "--id", TRANSMITTER],
        env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            [state] = list_connectors(conn)
        if state["held_by"] == TRANSMITTER and state["connected"]:
            return worker
        if worker.poll() is not None:
            raise SystemExit(f"smscast worker exited ({worker.returncode})")
        time.sleep(0.05)
    worker.kill()
    raise SystemExit("gave up waiting for smscast worker --role transmit to bind")


async def run(
    n: int, batch_size: int, workdir: str, processes: int, workers: bool = False,
    window: int = 100,
) -> tuple[float, int, int]:
    from _proc import cpu_seconds  # bench/ is on the path, at its end (_path)

    command = [sys.executable, "-c", SIMULATOR, str(n)]
    simulator = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert simulator.stdin is not None and simulator.stdout is not None
    sender: subprocess.Popen[str] | None = None
    worker: subprocess.Popen[bytes] | None = None
    try:
        port = int(simulator.stdout.readline())
        url = f"sqlite:///{workdir}/bench.db"
        engine, settings, connector_id = prepare(url, port, split=workers, window=window)
        tune_for_service()  # as `smscast worker` and `smscast serve` do before they start
        mode = BindMode.RECEIVER if processes == 2 or workers else BindMode.TRANSCEIVER
        client = SmppClient(SmppSettings(name="sim", port=port, window=100, response_timeout_s=30,
                                         bind_mode=mode))  # fmt: skip
        await client.start()
        db = DbThread(engine)
        sending: asyncio.Task[None] | None = None
        if workers:  # the answers are sent by `smscast worker --role transmit`
            worker = start_transmit_worker(workdir, url, engine)
        elif processes == 2:  # the answers are sent by a worker process of their own
            sender = subprocess.Popen(
                [sys.executable, "-c", SENDER, url, str(port), str(connector_id), WORKER,
                 str(window)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            assert sender.stdout is not None
            sender.stdout.readline()
        else:
            limits = DispatchLimits.for_connector(window=window, rate_per_s=0.0, claim_batch=2000)
            dispatcher = Dispatcher(db, client, connector_id, WORKER, limits, RetryPolicy())
            sending = asyncio.create_task(dispatcher.run())
        routed = 0
        replies = 0
        routing_cpu = 0.0
        arrived: list[InboundMessage] = []

        async def receive() -> None:
            async for event in client.events():
                if isinstance(event, InboundMessage):
                    arrived.append(event)
                elif isinstance(event, DeliveryReport):  # answered, or stop() waits for them
                    acknowledge([event])

        receiving = asyncio.create_task(receive())
        simulator.stdin.write("go\n")
        simulator.stdin.flush()
        started = time.perf_counter()
        cpu_started = time.process_time()
        worker_cpu_started = cpu_seconds(worker.pid) if worker is not None else 0.0
        while routed < n:
            if not arrived:
                await asyncio.sleep(0.005)
                continue
            batch, arrived[:] = arrived[:batch_size], arrived[batch_size:]
            results, spent = await db.run(timed_routing, engine, settings, connector_id, batch)
            routing_cpu += spent
            acknowledge(batch)  # as the event pump does: deliver_sm_resp once committed
            routed += len(results)
            replies += sum(r.replies for r in results)
        routed_after = time.perf_counter() - started
        while await db.run(unsent, engine):
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        print(f"answers by status: {await db.run(statuses, engine)}")
        sender_cpu = 0.0
        if worker is not None:
            sender_cpu = cpu_seconds(worker.pid) - worker_cpu_started
            worker.terminate()
            worker.wait(30)
        if sender is not None:
            assert sender.stdin is not None and sender.stdout is not None
            sender.stdin.write("stop\n")
            sender.stdin.flush()
            sender_cpu = float(sender.stdout.readline())
            sender.wait(20)
        if sending is not None:
            dispatcher.stop()
            await sending
        await client.stop()
        await receiving
        db.close()
        workers_label = "receiver and `smscast worker --role transmit`"
        print(
            f"routed {routed} texts in {routed_after:.2f} s, queued {replies} answers, all "
            f"settled in {elapsed:.2f} s; "
            + (workers_label if workers else f"{processes} process(es)")
            + f": routing process {cpu:.2f} CPU-s "
            f"({routing_cpu:.2f} of them in handle_inbound_batch, which took {WALL[0]:.2f} s)"
            + (f", sending {sender_cpu:.2f} CPU-s (whole life)" if sender is not None else "")
            + (f", transmit worker {sender_cpu:.2f} CPU-s" if worker is not None else "")
            + f" ({routed / (cpu + sender_cpu):.0f} texts per CPU-second); "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )
        return elapsed, routed, replies
    finally:
        for process in (sender, worker):
            if process is not None and process.poll() is None:
                process.kill()
        simulator.stdin.close()
        accepted = simulator.stdout.readline().strip()
        simulator.wait(20)
        print(f"simulator accepted {accepted or '?'} submits")
        child = resource.getrusage(resource.RUSAGE_CHILDREN)
        print(f"child processes' CPU (simulator, sender or worker, whole life): "
              f"{child.ru_utime + child.ru_stime:.1f} s")  # fmt: skip


TEXTS = ["pizza", "Pizza!", "PIZZA large", "pizza", "sushi", "Sushi please", "STOP", "Stop.",
         "HELP", "pomoc", "START", "where is my order?", "thanks!", "👍", "Can I change the time?",
         "pizza", "sushi", "JOIN", "yes", "hello"]  # fmt: skip


def route_only(n: int, batch_size: int, workdir: str, profile: str | None) -> float:
    """Routes the simulator's mix of texts straight into `handle_inbound_batch`: the cost
    of routing alone, with the statements it runs counted."""
    import cProfile
    import random
    import re
    from collections import Counter

    from sqlalchemy import event

    url = f"sqlite:///{workdir}/bench.db"
    engine, settings, connector_id = prepare(url, 2775)
    tune_for_service()
    rng = random.Random(7)
    start = datetime.now(UTC)
    texts = [
        InboundMessage(f"48600{rng.randrange(5000):06d}", SHORT, rng.choice(TEXTS),
                       start + timedelta(microseconds=50 * i), link="bind-1")
        for i in range(n)
    ]  # fmt: skip
    statements = 0
    shapes: Counter[str] = Counter()

    def count(statement: str) -> None:
        nonlocal statements
        statements += 1
        if profile:
            shapes[re.sub(r"(\?, )+\?|\d+|'[^']*'", "…", statement)[:100]] += 1

    def trace(dbapi_connection: Any, _: object) -> None:
        # Every statement the driver runs, an executemany's rows one by one: each is
        # a step at which sqlite3 lets the interpreter lock go.
        dbapi_connection.set_trace_callback(count)

    engine.dispose()  # connections opened from here on are traced
    event.listen(engine, "connect", trace)
    profiler = cProfile.Profile() if profile else None
    batches = 0
    cpu_started = time.process_time()
    if profiler is not None:
        profiler.enable()
    for at in range(0, n, batch_size):
        handle_inbound_batch(engine, settings, connector_id, texts[at : at + batch_size])
        batches += 1
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    cpu = time.process_time() - cpu_started
    for shape, times in shapes.most_common(15):
        print(f"{times / batches:8.1f} per batch: {shape}")
    print(f"routed {n} texts in {cpu:.2f} CPU-s ({n / cpu:.0f} texts per CPU-second), "
          f"{statements / batches:.0f} statements run per batch of {batch_size}; "
          f"answers {statuses(engine)}; load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    return n / cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="MO texts to inject")
    parser.add_argument("--batch", type=int, default=2000, help="texts routed per transaction")
    parser.add_argument("--processes", type=int, choices=(1, 2), default=1,
                        help="2: answers sent by a second process (receiver and transmitter "
                        "binds); 1: one process, one transceiver bind")  # fmt: skip
    parser.add_argument(
        "--route-only",
        action="store_true",
        help="route the texts without sockets or sending: routing's own cost",
    )
    parser.add_argument("--profile", help="with --route-only: write a cProfile of routing here")
    parser.add_argument("--window", type=int, default=100,
                        help="the connector's window: the most answers in flight, and so the "
                        "most a dispatcher claims at a time")  # fmt: skip
    parser.add_argument("--workers", action="store_true",
                        help="answers sent by a real `smscast worker --role transmit` while "
                        "this process binds as receiver and routes")  # fmt: skip
    args = parser.parse_args()
    if args.route_only:
        with tempfile.TemporaryDirectory() as workdir:
            per_cpu_s = route_only(args.n, args.batch, workdir, args.profile)
        print(f"RESULT inbound_routed_per_cpu_s={per_cpu_s:.0f}")
        return
    with tempfile.TemporaryDirectory() as workdir:
        elapsed, routed, _ = asyncio.run(
            run(args.n, args.batch, workdir, args.processes, args.workers, args.window)
        )
    print(f"RESULT inbound_msgs_per_s={routed / elapsed:.0f}")


if __name__ == "__main__":
    main()
