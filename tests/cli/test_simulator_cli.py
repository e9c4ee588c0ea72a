"""`smscast simulator send-mo` as a new user types it: the configured port, and what happened."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from smscast.channels.simulator import SimulatorConfig, start_simulator
from smscast.cli import app
from smscast.engine.sending.connectors import SIMULATOR_NUMBER

runner = CliRunner()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def lone_simulator() -> Iterator[int]:
    """A simulator with no ESME bound, on a port of its own; yields its HTTP port."""
    http_port = free_port()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop = asyncio.Event()

    async def main() -> None:
        sim = await start_simulator(SimulatorConfig(port=0, http_port=http_port, seed=1))
        ready.set()
        await stop.wait()
        await sim.close()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    yield http_port
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)
    loop.close()


def test_send_mo_uses_the_configured_http_port_and_says_the_text_is_held(
    lone_simulator: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMSCAST_SIMULATOR_HTTP_PORT", str(lone_simulator))
    monkeypatch.setenv("SMSCAST_DATABASE_URL", f"sqlite:///{tmp_path / 'none.db'}")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["simulator", "send-mo", "--from", "+48600100200",
                                 "--to", "4000", "STOP"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "sent in 1 part" in result.output
    assert "no ESME is bound" in result.output and "queued" not in result.output
    assert not (tmp_path / "none.db").exists()


def test_send_mo_says_how_a_running_smscast_routed_the_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'smscast.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMSCAST_")}
    env.update(
        SMSCAST_DATABASE_URL=url, SMSCAST_DATA_DIR=str(tmp_path / "var"),
        SMSCAST_PORT=str(free_port()), SMSCAST_SIMULATOR_PORT=str(free_port()),
        SMSCAST_SIMULATOR_HTTP_PORT=str(free_port()), SMSCAST_CONFIG=str(tmp_path / "none.toml"),
    )  # fmt: skip
    for name, value in env.items():
        if name.startswith("SMSCAST_"):
            monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["bootstrap"]).exit_code == 0
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 - the server writes to it
    server = subprocess.Popen([sys.executable, "-m", "smscast", "serve"], env=env, cwd=tmp_path,
                              stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            state = runner.invoke(app, ["connectors", "state", "--json"])
            states = json.loads(state.output) if state.exit_code == 0 else []
            if {c["name"]: c["state"] for c in states}.get("simulator") == "sending":
                break
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.2)
        added = runner.invoke(app, ["keywords", "add", "PIZZA", "--number", SIMULATOR_NUMBER,
                                    "--reply", "Pizza on its way"])  # fmt: skip
        assert added.exit_code == 0, added.output

        def send(text: str) -> str:
            result = runner.invoke(app, ["simulator", "send-mo", "--from", "+48600100200",
                                         "--to", SIMULATOR_NUMBER, "--wait", "20",
                                         text])  # fmt: skip
            assert result.exit_code == 0, result.output
            return " ".join(result.output.split())

        said = send("PIZZA")
        assert "sent in 1 part: inbound #" in said and "from +48600100200" in said
        assert "keyword pizza (rule #1); 1 automatic reply queued" in said
        assert "opt-out (stop)" in send("STOP")
        result = runner.invoke(app, ["simulator", "send-mo", "--from", "+48600100201",
                                     "--to", SIMULATOR_NUMBER, "--json", "--wait", "20",
                                     "Where is my order?"])  # fmt: skip
        answer = json.loads(result.output)
        assert answer["delivered"] is True and answer["route"]["route"] == "ticket"
        assert answer["summary"].endswith(f"ticket #{answer['route']['ticket_id']} for an agent")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        log.close()


def test_the_standalone_simulator_listens_on_the_configured_ports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    smpp_port, http_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMSCAST_")}
    env.update(SMSCAST_SIMULATOR_PORT=str(smpp_port), SMSCAST_SIMULATOR_HTTP_PORT=str(http_port),
               SMSCAST_CONFIG=str(tmp_path / "none.toml"), COLUMNS="200")  # fmt: skip
    simulator = subprocess.Popen([sys.executable, "-m", "smscast", "simulator"], env=env,
                                 cwd=tmp_path, stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert simulator.stdout is not None
        banner = simulator.stdout.readline()
        expected = f"on 127.0.0.1:{smpp_port}, MO injection on http://127.0.0.1:{http_port}/mo"
        assert expected in banner, banner
        monkeypatch.setenv("SMSCAST_SIMULATOR_HTTP_PORT", str(http_port))
        monkeypatch.setenv("SMSCAST_CONFIG", str(tmp_path / "none.toml"))
        monkeypatch.setenv("SMSCAST_DATABASE_URL", f"sqlite:///{tmp_path / 'none.db'}")
        monkeypatch.chdir(tmp_path)
        result = runner.invoke(app, ["simulator", "send-mo", "--from", "+48600100200",
                                     "--to", "4000", "HELLO"])  # fmt: skip
        assert result.exit_code == 0 and "no ESME is bound" in result.output, result.output
    finally:
        simulator.send_signal(signal.SIGTERM)
        simulator.wait(timeout=30)
