"""Interop with software nobody here wrote: Debian's Kannel talking SMPP to our simulator.

A real `bearerbox` (with an `smsbox` for its HTTP sendsms interface) binds to
our SMSC simulator as an ESME. A message sent through Kannel's sendsms must
arrive at the simulator as a submit_sm with the right text, and the delivery
report our simulator sends back must be understood by Kannel well enough that
it calls the dlr-url it was given.

Skipped only when Kannel is not installed and CI is not set; under CI=true a
missing Kannel fails the test (`./dev test` installs it).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from loopback_http import LoopbackHttp, Received, Reply, text_reply

from smscast.channels.simulator.config import SimulatorConfig
from smscast.channels.simulator.server import RunningSimulator, start_simulator

pytestmark = pytest.mark.slow


def kannel_binary(name: str) -> str:
    found = shutil.which(name) or (
        f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None
    )
    if found is None:
        why = f"Kannel's {name} is not installed (apt-get install kannel)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{why}; CI must run the Kannel interop test")
        pytest.skip(why)
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def kannel_config(tmp: Path, smsc_port: int, ports: dict[str, int]) -> Path:
    """A bearerbox + smsbox configuration with one SMPP link to our simulator."""
    config = f"""
group = core
admin-port = {ports["admin"]}
admin-password = adminpass
admin-allow-ip = "127.0.0.1"
smsbox-port = {ports["smsbox"]}
box-allow-ip = "127.0.0.1"
log-file = "{tmp}/bearerbox.log"
log-level = 0
dlr-storage = internal

group = smsc
smsc = smpp
smsc-id = simulator
host = 127.0.0.1
port = {smsc_port}
receive-port = 0
transceiver-mode = true
smsc-username = kannel
smsc-password = kpass
system-type = "VMA"
enquire-link-interval = 5
reconnect-delay = 1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {ports["smsbox"]}
sendsms-port = {ports["sendsms"]}
log-file = "{tmp}/smsbox.log"
log-level = 0

group = sendsms-user
username = tester
password = testpass

group = sms-service
keyword = default
text = "thanks"
"""
    path = tmp / "kannel.conf"
    path.write_text(config)
    return path


async def wait_for(
    check: Callable[[], bool], what: str, logs: list[Path], timeout: float = 30.0
) -> None:
    try:
        async with asyncio.timeout(timeout):
            while not check():
                await asyncio.sleep(0.05)
    except TimeoutError:
        tails = "\n".join(
            f"--- {p.name}\n" + "\n".join(p.read_text(errors="replace").splitlines()[-25:])
            for p in logs
            if p.exists()
        )
        pytest.fail(f"timed out waiting for {what}\n{tails}")


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
async def simulator() -> AsyncIterator[RunningSimulator]:
    running = await start_simulator(
        SimulatorConfig(
            port=0,
            http_port=None,
            system_id="kannel",
            password="",
            dlr_delay=0.2,
            delivered=1.0,
            undeliverable=0.0,
            expired=0.0,
            rejected=0.0,
            seed=7,
        )
    )
    yield running
    await running.close()


@pytest.fixture
async def kannel(tmp_path: Path, simulator: RunningSimulator) -> AsyncIterator[dict[str, int]]:
    bearerbox, smsbox = kannel_binary("bearerbox"), kannel_binary("smsbox")
    ports = {"admin": free_port(), "smsbox": free_port(), "sendsms": free_port()}
    config = kannel_config(tmp_path, simulator.port, ports)
    logs = [tmp_path / "bearerbox.log", tmp_path / "smsbox.log"]
    boxes = [
        subprocess.Popen(
            [bearerbox, str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=tmp_path,
        )
    ]
    try:
        await wait_for(lambda: port_open(ports["smsbox"]), "bearerbox to listen", logs)
        boxes.append(
            subprocess.Popen(
                [smsbox, str(config)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd=tmp_path,
            )
        )
        await wait_for(lambda: port_open(ports["sendsms"]), "smsbox sendsms port", logs)
        await wait_for(lambda: simulator.bound_sessions >= 1, "Kannel to bind", logs)
        yield ports
    finally:
        for box in reversed(boxes):
            box.terminate()
        for box in boxes:
            try:
                box.wait(2)
            except subprocess.TimeoutExpired:
                box.kill()  # bearerbox may wait for its SMSC link; nothing to keep here
                box.wait()


async def test_kannel_sends_through_our_simulator_and_gets_our_delivery_report(
    simulator: RunningSimulator, kannel: dict[str, int], tmp_path: Path
) -> None:
    logs = [tmp_path / "bearerbox.log", tmp_path / "smsbox.log"]
    reports: list[Received] = []

    def record(request: Received) -> Reply:
        reports.append(request)
        return text_reply(200, "ok")

    async with LoopbackHttp(record) as dlr_server:
        query = urlencode(
            {
                "username": "tester",
                "password": "testpass",
                "from": "Shop",
                "to": "48600100200",
                "text": "Hello through Kannel 42",
                "dlr-mask": "3",
                "dlr-url": f"{dlr_server.url}/dlr?state=%d&smsc_id=%F&answer=%A",
            }
        )
        url = f"http://127.0.0.1:{kannel['sendsms']}/cgi-bin/sendsms?{query}"
        async with httpx.AsyncClient() as http:
            answer = await http.get(url, timeout=10)
        assert answer.status_code == 202, answer.text

        def submitted() -> bool:
            return any(
                getattr(s, "short_message", b"") == b"Hello through Kannel 42"
                for s in simulator.recent_submits
            )

        await wait_for(submitted, "the submit_sm at the simulator", logs)
        [submit] = [
            s
            for s in simulator.recent_submits
            if getattr(s, "short_message", b"") == b"Hello through Kannel 42"
        ]
        assert getattr(submit, "destination_addr", "") == "48600100200"
        assert getattr(submit, "registered_delivery", 0) & 1

        await wait_for(lambda: bool(reports), "Kannel to call the dlr-url", logs)
    [report] = reports
    assert report.query["state"] == "1"  # Kannel's "delivered to phone"
    assert "stat:DELIVRD" in report.query["answer"]
