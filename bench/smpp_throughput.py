"""SMPP connector throughput: our ESME client against our simulator over loopback.

The simulator runs in its own process (so each side has a core on a 2-core
machine, as it would against a real SMSC) and answers every submit_sm at once
and sends a delivery report for each right after. The client sends N
single-part messages with the given window and takes every delivery report
from its event stream.

    .venv/bin/python bench/smpp_throughput.py [--n N] [--window W]

Last line: `RESULT submit_per_s=<n> dlr_per_s=<n>`; submit_per_s is messages
accepted (submit_sm_resp received) per second, dlr_per_s delivery reports
matched to our messages per second, both from the first submit.
"""

from __future__ import annotations

if __name__ == "__main__":  # first: takes bench/ off the path (spawned workers lack it)
    import _path  # noqa: F401

import argparse
import asyncio
import os
import platform
import resource
import subprocess
import sys
import time

from smscast.channels.base import DeliveryReport, OutgoingMessage, SubmitOutcome
from smscast.channels.smpp.client import SmppClient
from smscast.channels.smpp.settings import IdFormat, SmppSettings

SIMULATOR = """
import asyncio, sys
from smscast.channels.simulator.config import SimulatorConfig
from smscast.channels.simulator.server import start_simulator

async def main():
    sim = await start_simulator(SimulatorConfig(
        port=0, http_port=None, dlr_delay=0.0, delivered=1.0, undeliverable=0.0,
        expired=0.0, rejected=0.0, seed=1, keep_messages=1000, keep_pending=1000))
    print(sim.port, flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await sim.close()

asyncio.run(main())
"""


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


async def run(n: int, window: int, batch: int) -> tuple[float, float, int]:
    simulator = subprocess.Popen(
        [sys.executable, "-c", SIMULATOR], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert simulator.stdout is not None
        port = int(simulator.stdout.readline())
        settings = SmppSettings(
            name="bench",
            port=port,
            window=window,
            response_timeout_s=60,
            submit_id_format=IdFormat.HEX,
            report_id_format=IdFormat.HEX,
        )
        client = SmppClient(settings)
        await client.start()
        reports = 0
        done = asyncio.Event()
        last_report = 0.0

        async def count_reports() -> None:
            nonlocal reports, last_report
            async for event in client.events():
                if isinstance(event, DeliveryReport) and event.ref is not None:
                    reports += 1
                    if reports == n:
                        last_report = time.perf_counter()
                        done.set()

        counter = asyncio.create_task(count_reports())
        started = time.perf_counter()
        cpu_started = time.process_time()
        accepted = 0
        for start in range(0, n, batch):
            # Each batch is made when it is sent, as a worker makes the batch it claims
            # (a hundred thousand messages held at once would tax the garbage collector).
            messages = [
                OutgoingMessage(ref=i, sender="Shop", recipient=f"+48600{i:06d}", text=f"Code {i}")
                for i in range(start, min(start + batch, n))
            ]
            results = await client.send(messages)
            accepted += sum(r.outcome is SubmitOutcome.ACCEPTED for r in results)
        submitted = time.perf_counter()
        try:
            await asyncio.wait_for(done.wait(), 120)
        except TimeoutError:
            last_report = time.perf_counter()
        cpu_used = time.process_time() - cpu_started
        await client.stop()
        await counter
        print(
            f"client CPU: {cpu_used:.2f} s for {n} messages and their reports "
            f"({n / cpu_used:.0f} messages per CPU-second); load average "
            f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )
        submit_rate = accepted / (submitted - started)
        dlr_rate = reports / (last_report - started)
        if accepted != n or reports != n:
            print(
                f"warning: {accepted} of {n} accepted, {reports} reports matched", file=sys.stderr
            )
        return submit_rate, dlr_rate, accepted
    finally:
        if simulator.stdin is not None:
            simulator.stdin.close()
        simulator.wait(10)
        own = resource.getrusage(resource.RUSAGE_SELF)
        sim = resource.getrusage(resource.RUSAGE_CHILDREN)
        print(
            f"cpu seconds: client {own.ru_utime + own.ru_stime:.1f}, "
            f"simulator {sim.ru_utime + sim.ru_stime:.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="messages to send")
    parser.add_argument("--window", type=int, default=100, help="submit_sm awaiting answers")
    parser.add_argument("--batch", type=int, default=5000, help="messages per send() call")
    args = parser.parse_args()
    submit_rate, dlr_rate, accepted = asyncio.run(run(args.n, args.window, args.batch))
    print(f"machine: {os.cpu_count()} cores, {cpu_model()}, Python {platform.python_version()}")
    print(f"messages: {args.n}, window: {args.window}, accepted: {accepted}")
    print(f"RESULT submit_per_s={submit_rate:.0f} dlr_per_s={dlr_rate:.0f}")


if __name__ == "__main__":
    main()
