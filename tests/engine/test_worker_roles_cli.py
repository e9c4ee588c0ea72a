"""`smscast worker --role transmit` and `--role receive` (or SMSCAST_WORKER_ROLE) as two
processes on one SMPP connector: texts go out through one, their reports come in through
the other, and `smscast connectors state` names both holders."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from outbound_helpers import add_sim_connector, count_by_status, queue_texts, wait_for
from sqlalchemy import Engine
from typer.testing import CliRunner

from smscast.channels.simulator import SimulatorConfig, start_simulator
from smscast.cli import app
from smscast.engine.accounts.workspaces import WorkspaceRef

runner = CliRunner()


def worker_env(db_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMSCAST_")}
    env.update(
        SMSCAST_DATABASE_URL=db_url,
        SMSCAST_DATA_DIR=str(tmp_path / "var"),
        SMSCAST_SECRET_KEY="test",
        SMSCAST_LOG_LEVEL="warning",
        SMSCAST_CONFIG=str(tmp_path / "none.toml"),
        **extra,
    )
    return env


async def start_worker(
    tmp_path: Path, env: dict[str, str], *args: str
) -> asyncio.subprocess.Process:
    log = open(tmp_path / f"worker-{len(list(tmp_path.glob('worker-*')))}.log", "ab")  # noqa: SIM115
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "smscast", "worker", *args,
        env=env, cwd=tmp_path, stdout=log, stderr=log,
    )  # fmt: skip


async def test_a_transmit_and_a_receive_worker_share_a_connector(
    engine: Engine,
    db_url: str,
    workspace: WorkspaceRef,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = datetime.now(UTC)
    config = SimulatorConfig(port=0, http_port=None, dlr_delay=0.05, delivered=1.0,
                             undeliverable=0.0, expired=0.0, rejected=0.0)  # fmt: skip
    sim = await start_simulator(config)
    add_sim_connector(engine, workspace, sim.port, now)
    queue_texts(engine, workspace, [f"+4860010{i:04d}" for i in range(20)], now)
    tx = await start_worker(tmp_path, worker_env(db_url, tmp_path), "--id", "tx", "--role",
                            "transmit")  # fmt: skip
    rx = await start_worker(
        tmp_path, worker_env(db_url, tmp_path, SMSCAST_WORKER_ROLE="receive"), "--id", "rx"
    )
    try:
        await wait_for(lambda: count_by_status(engine) == {"delivered": 20}, seconds=90)
        for name, value in worker_env(db_url, tmp_path).items():
            monkeypatch.setenv(name, value)

        def both_named() -> bool:
            """`connectors state` names the sending and the receiving worker"""
            shown = runner.invoke(app, ["connectors", "state", "--json"])
            [item] = json.loads(shown.output)
            state.update(item)
            return bool(item["state"] == "sending" and item["receiving"] == "receiving")

        state: dict[str, object] = {}
        await wait_for(both_named)
        text = runner.invoke(app, ["connectors", "state"]).output
    finally:
        for process in (tx, rx):
            process.send_signal(signal.SIGTERM)
        await asyncio.gather(tx.wait(), rx.wait())
        await sim.close()
    assert (state["held_by"], state["received_by"]) == ("tx", "rx")
    assert "receiving: receiving" in text and "received by rx" in text
    assert sim.stats.submits == 20
    assert (tx.returncode, rx.returncode) == (0, 0)


def test_an_unknown_role_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["worker", "--role", "send"])
    assert result.exit_code == 1
    assert "--role 'send': choose one of all, transmit, receive" in result.output
