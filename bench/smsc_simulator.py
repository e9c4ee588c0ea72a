"""How many submit_sm a second the built-in SMSC simulator answers.

The simulator runs in its own process (as it does beside a real client); this
process is a raw, pipelined ESME written on the smscast codec: it binds as a
transceiver, keeps `--window` submit_sm in flight, writes them in batches,
acknowledges every delivery report, and times from the first submit to the
last submit_sm_resp.

    .venv/bin/python bench/smsc_simulator.py --n 200000
    RESULT simulator_submit_per_s=...  (last line)
"""

from __future__ import annotations

if __name__ == "__main__":  # first: takes bench/ off the path (spawned workers lack it)
    import _path  # noqa: F401

import argparse
import asyncio
import subprocess
import sys
import time

from smscast.channels.smpp import pdu
from smscast.channels.smpp.constants import CommandId


class Blaster(asyncio.Protocol):
    """Sends `total` submit_sm with at most `window` unanswered; counts answers."""

    def __init__(self, total: int, window: int, reports: bool) -> None:
        self.total, self.window = total, window
        self.registered = 1 if reports else 0
        self.sent = self.answered = self.refused = self.reports = 0
        self.framer = pdu.Framer()
        self.transport: asyncio.Transport | None = None
        self.bound = asyncio.get_running_loop().create_future()
        self.done = asyncio.get_running_loop().create_future()
        self.started = self.finished = 0.0
        self.template = pdu.SubmitSm(
            source_addr="Shop",
            source_addr_ton=5,
            destination_addr="48600111222",
            dest_addr_ton=1,
            dest_addr_npi=1,
            registered_delivery=self.registered,
            short_message=b"Your code is 123456. Thanks for shopping with us!",
        )

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(pdu.BindTransceiver(sequence_number=1, system_id="smscast").encode())

    def start(self) -> None:
        self.started = time.perf_counter()
        self.fill()

    def fill(self) -> None:
        """Tops the window up in one write, once a quarter of it is free."""
        room = min(self.window - (self.sent - self.answered), self.total - self.sent)
        if room < min(self.window // 4, self.total - self.sent) or room <= 0:
            return  # wait for a quarter of the window: fewer, larger writes
        message = self.template
        out = []
        for _ in range(room):
            self.sent += 1
            message.sequence_number = self.sent + 1
            out.append(message.encode())
        assert self.transport is not None
        self.transport.write(b"".join(out))

    def data_received(self, data: bytes) -> None:
        acks = []
        for frame in self.framer.feed(data):
            _, command_id, status, _ = pdu.peek_header(frame)
            if command_id == CommandId.SUBMIT_SM_RESP:
                self.answered += 1
                if status:
                    self.refused += 1
            elif command_id == CommandId.DELIVER_SM:
                report = pdu.decode(frame)
                self.reports += 1
                acks.append(report.response().encode())
            elif command_id == CommandId.BIND_TRANSCEIVER_RESP:
                self.bound.set_result(status)
        if acks and self.transport is not None:
            self.transport.write(b"".join(acks))
        if self.started and not self.done.done():
            if self.answered >= self.total:
                self.finished = time.perf_counter()
                self.done.set_result(None)
            else:
                self.fill()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(ConnectionError(f"simulator closed the connection: {exc}"))


async def blast(port: int, total: int, window: int, reports: bool) -> Blaster:
    loop = asyncio.get_running_loop()
    _, blaster = await loop.create_connection(
        lambda: Blaster(total, window, reports), "127.0.0.1", port
    )
    status = await blaster.bound
    if status:
        raise SystemExit(f"bind refused: status {status}")
    blaster.start()
    await blaster.done
    if reports:  # give the reports still due a moment, for the count only
        await asyncio.sleep(1.0)
    assert blaster.transport is not None
    blaster.transport.close()
    return blaster


async def serve(dlr_delay: float) -> None:
    from smscast.channels.simulator import SimulatorConfig, start_simulator

    sim = await start_simulator(SimulatorConfig(port=0, http_port=None, dlr_delay=dlr_delay))
    ready = time.process_time()  # imports and start-up are not per-submit work
    print(sim.port, flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await sim.close()
    used = time.process_time() - ready
    print(f"{used:.3f} {sim.stats.submits} {sim.stats.reports_sent}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200_000, help="submit_sm to send")
    parser.add_argument("--window", type=int, default=2000, help="submit_sm in flight")
    parser.add_argument("--no-reports", action="store_true", help="registered_delivery 0")
    parser.add_argument("--dlr-delay", type=float, default=0.2)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.dlr_delay))
        return
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--dlr-delay", str(args.dlr_delay)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        blaster = asyncio.run(blast(port, args.n, args.window, not args.no_reports))
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=10)
    server_cpu, _, _ = server.stdout.readline().split()
    seconds = blaster.finished - blaster.started
    rate = args.n / seconds
    print(
        f"submit_sm: {args.n} in {seconds:.3f} s, window {args.window}, refused {blaster.refused}"
    )
    print(f"delivery reports received and acknowledged: {blaster.reports}")
    print(
        f"CPU seconds: simulator {float(server_cpu):.2f}, this client {time.process_time():.2f} "
        f"(simulator {float(server_cpu) / args.n * 1e6:.1f} µs of CPU per submit, reports included)"
    )
    per_cpu = args.n / float(server_cpu)
    print(f"RESULT simulator_submit_per_s={rate:.0f} simulator_submit_per_cpu_s={per_cpu:.0f}")


if __name__ == "__main__":
    main()
