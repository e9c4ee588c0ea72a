"""Email throughput: N campaign-like emails through the SMTP connector to a local sink.

The sink is the simulator's (`channels.simulator.smtp_sink`, aiosmtpd) in a process of
its own, counting what it accepts (keeping nothing), so the figure is our side of each
message (composing the MIME message with its personalised subject, plain and HTML body
and one-click unsubscribe headers, pacing, one MAIL/RCPT/DATA exchange on a pooled
connection, the connector log entry) plus what aiosmtpd costs on the other core. The
connector's log entries are read as the engine would read them.

Usage: python bench/email.py [--n N] [--connections C] [--batch B] [--profile]
Last line: `RESULT emails_per_s=<n>`.
"""

from __future__ import annotations

if __name__ == "__main__":  # first: takes bench/ off the path (spawned workers lack it)
    import _path  # noqa: F401

import argparse
import asyncio
import cProfile
import multiprocessing
import os
import pstats
import time
from multiprocessing.connection import Connection

from smscast.channels.base import OutgoingMessage, SubmitOutcome
from smscast.channels.email.smtp import SmtpConnector, SmtpSettings
from smscast.channels.simulator.smtp_sink import SinkRules, start_smtp_sink
from smscast.engine.collector import tune_for_service

NAMES = ["Anna", "Ola", "Jan", "Maximilian", "Zoë", "Łucja", "Tom", "Émilie", "Kasia", "Bob"]
HTML = (
    "<html><body><h1>Wiosenna wyprzedaż</h1><p>Cześć {name},</p>"
    "<p>tylko do niedzieli tulipany i frezje taniej o 20%. Twój kod: <b>{code}</b></p>"
    '<p><a href="https://s.kwiatek.test/l/{code}">Zobacz ofertę</a></p>'
    '<p style="font-size:small">Nie chcesz takich wiadomości? '
    '<a href="https://s.kwiatek.test/u/{ref}/tok">Wypisz się</a>.</p></body></html>'
)
TEXT = (
    "Cześć {name},\n\ntylko do niedzieli tulipany i frezje taniej o 20%.\n"
    "Twój kod: {code}\nZobacz ofertę: https://s.kwiatek.test/l/{code}\n\n"
    "Wypisz się: https://s.kwiatek.test/u/{ref}/tok\n"
)


def run_sink(ready: Connection, stop: Connection) -> None:
    """The sink's process: starts it, says its port, counts until told to stop."""

    async def main() -> None:
        sink = await start_smtp_sink(keep=False, rules=SinkRules(refuse="", later="", bounce=""))
        ready.send(sink.port)
        loop = asyncio.get_running_loop()
        cpu = time.process_time()
        await loop.run_in_executor(None, stop.recv)
        ready.send((sink.accepted, time.process_time() - cpu))
        await sink.close()

    tune_for_service()  # as inside `smscast serve`, where the simulator's sink runs
    asyncio.run(main())


def campaign(n: int) -> list[OutgoingMessage]:
    messages = []
    for ref in range(1, n + 1):
        name = NAMES[ref % len(NAMES)]
        code = f"TUL{ref:06d}"
        extras = {
            "subject": f"{name}, wiosenne kwiaty -20% tylko do niedzieli",
            "html": HTML.format(name=name, code=code, ref=ref),
            "unsubscribe_url": f"https://s.kwiatek.test/u/{ref}/tok{ref}",
        }
        text = TEXT.format(name=name, code=code, ref=ref)
        address = f"person{ref}@example.test"
        messages.append(OutgoingMessage(ref, "", address, text, channel="email", extras=extras))
    return messages


async def send_all(port: int, messages: list[OutgoingMessage], connections: int,
                   batch: int) -> tuple[float, int]:  # fmt: skip
    settings = SmtpSettings(
        name="bench", host="127.0.0.1", port=port, tls="none", rate=0.0,
        concurrency=connections, **{"from": "Kwiaciarnia Żonkil <news@kwiatek.test>"},
    )  # fmt: skip
    connector = SmtpConnector(settings)
    logged = 0

    async def read_log() -> None:
        nonlocal logged
        async for _ in connector.events():
            logged += 1

    reader = asyncio.create_task(read_log())
    await connector.start()
    started = time.perf_counter()
    accepted = 0
    for start in range(0, len(messages), batch):
        results = await connector.send(messages[start : start + batch])
        accepted += sum(r.outcome == SubmitOutcome.ACCEPTED for r in results)
    took = time.perf_counter() - started
    await connector.stop()
    await reader
    if accepted != len(messages):
        raise SystemExit(f"only {accepted} of {len(messages)} emails were accepted")
    return took, logged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--batch", type=int, default=500, help="messages per send() call")
    parser.add_argument("--profile", action="store_true", help="profile our side")
    args = parser.parse_args()

    ready_parent, ready_child = multiprocessing.Pipe()
    stop_parent, stop_child = multiprocessing.Pipe()
    sink = multiprocessing.get_context("spawn").Process(
        target=run_sink, args=(ready_child, stop_child), daemon=True
    )
    sink.start()
    port = ready_parent.recv()
    messages = campaign(args.n)
    tune_for_service()  # as `smscast worker` and `smscast serve` do before they start
    cpu, times = time.process_time(), os.times()
    profile = cProfile.Profile() if args.profile else None
    if profile:
        profile.enable()
    took, logged = asyncio.run(send_all(port, messages, args.connections, args.batch))
    if profile:
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)
    cpu = time.process_time() - cpu
    user, system = os.times().user - times.user, os.times().system - times.system
    stop_parent.send(True)
    received, sink_cpu = ready_parent.recv()
    sink.join(10)
    print(
        f"{args.n} emails over {args.connections} connections in {took:.2f} s; the sink "
        f"accepted {received}; {logged} log entries; our CPU {cpu / args.n * 1e6:.0f} µs "
        f"per email ({user / args.n * 1e6:.0f} user, {system / args.n * 1e6:.0f} system); "
        f"the sink's CPU {sink_cpu / args.n * 1e6:.0f} µs per email; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(f"RESULT emails_per_s={args.n / took:.0f}")


if __name__ == "__main__":
    main()
