"""`smscast worker --metrics-port P` (or SMSCAST_METRICS_PORT): the real command, run
against a SQLite file, serves its own counters and the database's figures at /metrics."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, insert
from typer.testing import CliRunner

from smscast.channels.simulator import SimulatorConfig, start_simulator
from smscast.cli import app
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.sending.connectors import add_connector
from smscast.engine.sending.outbox import enqueue_messages
from smscast.store.messaging_models import Number
from smscast.store.models import table_of

pytestmark = pytest.mark.sqlite_only
TEXTS = 25


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def worker_env(db_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMSCAST_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(
        SMSCAST_DATABASE_URL=db_url,
        SMSCAST_DATA_DIR=str(tmp_path / "var"),
        SMSCAST_SECRET_KEY="test",
        SMSCAST_LOG_LEVEL="warning",
        SMSCAST_CONFIG=str(tmp_path / "none.toml"),
        **extra,
    )
    return env


def queue_for_simulator(engine: Engine, workspace: WorkspaceRef, port: int) -> int:
    now = datetime.now(UTC)
    row = add_connector(engine, workspace, name="sim", kind="smpp",
                        settings={"host": "127.0.0.1", "port": port, "system_id": "smscast"},
                        rate_per_s=0, window=10, actor="test", now=now)  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(table_of(Number)).values(
            workspace_id=workspace.id, number="4001", kind="short", country="PL",
            connector_id=row.id, created_at=now))  # fmt: skip
        enqueue_messages(conn, [
            {"workspace_id": workspace.id, "phone": f"+4860010{i:04d}", "body": "Hello",
             "kind": "agent_reply", "created_at": now}
            for i in range(TEXTS)
        ])  # fmt: skip
    return row.id


def sample_values(body: str) -> dict[str, float]:
    """Each sample's value by its name, summed over labels (one connector here)."""
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if not sample.labels.get("le") and not sample.name.endswith("_created"):
                values[sample.name] = values.get(sample.name, 0) + sample.value
    return values


async def scrape_until(
    url: str, done: Callable[[dict[str, float]], bool], seconds: float = 90
) -> dict[str, float]:
    """Polls `url` until `done(values)` holds; fails naming the last values otherwise."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    values: dict[str, float] = {}
    async with httpx.AsyncClient(timeout=5) as client:
        while loop.time() < deadline:
            try:
                response = await client.get(url)
            except httpx.TransportError:  # not listening yet
                await asyncio.sleep(0.2)
                continue
            assert response.status_code == 200
            values = sample_values(response.text)
            if done(values):
                return values
            await asyncio.sleep(0.2)
    raise AssertionError(f"gave up after {seconds}s; last scrape: {values}")


@pytest.mark.parametrize("how", ["flag", "environment"])
async def test_the_worker_serves_its_metrics_while_it_sends(
    engine: Engine, db_url: str, workspace: WorkspaceRef, tmp_path: Path, how: str
) -> None:
    config = SimulatorConfig(port=0, http_port=None, dlr_delay=0.3, delivered=1.0,
                             undeliverable=0.0, expired=0.0, rejected=0.0)  # fmt: skip
    sim = await start_simulator(config)
    queue_for_simulator(engine, workspace, sim.port)
    port = free_port()
    if how == "flag":
        env, args = worker_env(db_url, tmp_path), ["--metrics-port", str(port)]
    else:
        env, args = worker_env(db_url, tmp_path, SMSCAST_METRICS_PORT=str(port)), []
    log = open(tmp_path / "worker.log", "ab")  # noqa: SIM115
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "smscast", "worker", "--id", "w1", *args,
        env=env, cwd=tmp_path, stdout=log, stderr=log,
    )  # fmt: skip
    try:
        values = await scrape_until(
            f"http://127.0.0.1:{port}/metrics",
            lambda v: (
                v.get("smscast_delivery_report_latency_seconds_count", 0) == TEXTS
                and v.get("smscast_messages_awaiting_report", -1) == 0
            ),
        )
    finally:
        worker.send_signal(signal.SIGTERM)
        await worker.wait()
        await sim.close()
        log.close()
    assert worker.returncode == 0, (tmp_path / "worker.log").read_text()
    assert values["smscast_submits_total"] == TEXTS
    assert values["smscast_delivery_reports_received_total"] == TEXTS
    assert values["smscast_outbox_depth"] == 0
    assert values["smscast_database_up"] == 1
    assert values["smscast_db_query_seconds_count"] > 0
    assert values["smscast_db_transaction_seconds_count"] > 0
    assert sim.stats.submits == TEXTS


def test_a_metrics_port_already_taken_is_named(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in worker_env(db_url, tmp_path).items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["worker", "--metrics-port", str(port)])
    assert result.exit_code == 1
    assert f"--metrics-port {port} on 127.0.0.1: cannot serve metrics" in result.output
