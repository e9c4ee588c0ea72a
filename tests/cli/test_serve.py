"""`smscast serve` as a new user runs it, and `smscast connectors` as they set one up."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from smscast.cli import app
from smscast.engine.sending.outbox import enqueue_messages
from smscast.store.db import create_db_engine

REPORTED = {"delivered", "undelivered", "expired"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def smscast(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smscast", *args], env=env, cwd=cwd, capture_output=True,
        text=True, timeout=120, check=False,
    )  # fmt: skip


def wait_until(check, seconds: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while True:
        try:
            if check():
                return
        except (httpx.HTTPError, OSError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {seconds}s waiting for {check.__doc__}")
        time.sleep(0.1)


def test_serve_sends_a_queued_message_through_the_built_in_simulator(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'smscast.db'}"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMSCAST_")}
    env.update(
        SMSCAST_DATABASE_URL=url, SMSCAST_DATA_DIR=str(tmp_path / "var"), SMSCAST_PORT=str(port),
        SMSCAST_SIMULATOR_PORT=str(free_port()), SMSCAST_SIMULATOR_HTTP_PORT=str(free_port()),
        SMSCAST_CONFIG=str(tmp_path / "none.toml"),
    )  # fmt: skip
    assert smscast(env, tmp_path, "db", "upgrade").returncode == 0
    assert smscast(env, tmp_path, "bootstrap").returncode == 0
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 - the server writes to it
    server = subprocess.Popen(
        [sys.executable, "-m", "smscast", "serve"], env=env, cwd=tmp_path, stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    engine = create_db_engine(url)
    try:

        def healthy() -> bool:
            """/healthz answering"""
            return httpx.get(f"http://127.0.0.1:{port}/healthz").json()["status"] == "ok"

        wait_until(healthy)
        with engine.begin() as conn:
            ids = enqueue_messages(
                conn,
                [{"workspace_id": 1, "phone": f"+4860010020{i}", "body": "Your order is ready",
                  "kind": "agent_reply"} for i in range(3)],
            )  # fmt: skip

        def reported() -> bool:
            """every message sent and its delivery report recorded"""
            with engine.connect() as conn:
                rows = conn.execute(text("SELECT status FROM messages")).scalars().all()
            return len(rows) == 3 and set(rows) <= REPORTED

        wait_until(reported)
        state = smscast(env, tmp_path, "connectors", "state", "--json")
        assert state.returncode == 0, state.stderr
        connectors = {row["name"]: row for row in json.loads(state.stdout)}
        assert connectors["simulator"]["state"] == "sending"
        assert {"simulator-email", "simulator-whatsapp"} <= set(connectors)
        with engine.connect() as conn:
            matched = conn.execute(
                text("SELECT COUNT(DISTINCT message_id) FROM delivery_reports")
            ).scalar_one()
        assert matched == len(ids)
    finally:
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=60)
        engine.dispose()
        log.close()
    assert code == 0, (tmp_path / "serve.log").read_text()


runner = CliRunner()


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SMSCAST_DATABASE_URL", db_url)
    monkeypatch.setenv("SMSCAST_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_connectors_add_list_state_and_bad_settings(cli_env: Path) -> None:
    created = runner.invoke(
        app, ["workspace", "create", "Shop", "--country", "PL", "--timezone", "Europe/Warsaw"]
    )
    assert created.exit_code == 0
    added = runner.invoke(
        app,
        ["connectors", "add", "sim", "--kind", "smpp", "--host", "127.0.0.1", "--port", "2775",
         "--system-id", "smscast", "--password", "", "--rate", "1000", "--window", "100"],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    bad = runner.invoke(app, ["connectors", "add", "x", "--setting", "bind_mode=sideways"])
    assert bad.exit_code == 1 and "bind_mode is 'sideways'" in bad.output
    twice = runner.invoke(app, ["connectors", "add", "sim", "--port", "2775"])
    assert twice.exit_code == 1 and "already exists" in twice.output
    listed = json.loads(runner.invoke(app, ["connectors", "list", "--json"]).output)
    assert [(c["name"], c["rate_per_s"], c["window"]) for c in listed] == [("sim", 1000.0, 100)]
    state = json.loads(runner.invoke(app, ["connectors", "state", "--json"]).output)
    assert (state[0]["state"], state[0]["queued"]) == ("no worker", 0)
