"""`smscast contacts import` of a large file while `smscast serve` sends a campaign on SQLite.

This is the set-up after `./dev start`: the server's dispatcher commits many times
a second while the CLI, another process, imports 200,000 contacts.
"""

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

from smscast.store.db import create_db_engine

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def smscast(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "smscast", *args], env=env, cwd=cwd, capture_output=True,
        text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"smscast {' '.join(args)}: {done.stdout}{done.stderr}"
    return done


def write_csv(path: Path, header: str, rows: int, line: str) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        handle.write(header + "\n")
        handle.writelines(line.format(i=i) + "\n" for i in range(rows))
    return path


def test_a_200000_row_import_succeeds_while_the_server_sends_a_campaign(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'smscast.db'}"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMSCAST_")}
    env.update(
        SMSCAST_DATABASE_URL=url, SMSCAST_DATA_DIR=str(tmp_path / "var"), SMSCAST_PORT=str(port),
        SMSCAST_SIMULATOR="true", SMSCAST_SIMULATOR_PORT=str(free_port()),
        SMSCAST_SIMULATOR_HTTP_PORT=str(free_port()), SMSCAST_CONFIG=str(tmp_path / "none.toml"),
    )  # fmt: skip
    smscast(env, tmp_path, "db", "upgrade")
    smscast(env, tmp_path, "bootstrap")
    audience = write_csv(tmp_path / "audience.csv", "phone,first_name,consent", 10_000,
                         "+4860{i:07d},Anna{i},yes")  # fmt: skip
    smscast(env, tmp_path, "contacts", "import", str(audience), "--consent-source", "shop form")
    # whatever the hour the test runs at, the campaign is sent now
    smscast(env, tmp_path, "workspace", "settings", "--set", 'quiet_hours={"start": "00:00", '
            '"end": "00:00"}')  # fmt: skip
    big = write_csv(tmp_path / "big.csv", "phone,first_name,city", 200_000,
                    "+4850{i:07d},Jan{i},Kraków")  # fmt: skip
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 - the server writes to it
    server = subprocess.Popen(
        [sys.executable, "-m", "smscast", "serve"], env=env, cwd=tmp_path, stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    engine = create_db_engine(url)

    def sent() -> int:
        with engine.connect() as conn:
            return int(
                conn.execute(text("SELECT count(*) FROM messages WHERE status <> 'queued'"))
                .scalar_one()
            )  # fmt: skip

    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").json()["status"] == "ok":
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.1)
        created = smscast(env, tmp_path, "campaigns", "create", "--name", "Sale", "--segment",
                          'country = "PL"', "--body", "Hi {{ first_name }}, -20% today",
                          "--json")  # fmt: skip
        campaign = json.loads(created.stdout)["id"]
        launched = json.loads(smscast(env, tmp_path, "campaigns", "launch", str(campaign),
                                      "--json").stdout)  # fmt: skip
        assert launched["queued"] == 10_000
        deadline = time.monotonic() + 30
        while sent() == 0:  # the dispatcher is writing before the import starts
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.05)
        before = sent()

        imported = smscast(env, tmp_path, "contacts", "import", str(big), "--json")

        summary = json.loads(imported.stdout)
        counts = (summary["rows_read"], summary["created"], summary["rejected"])
        assert counts == (200_000, 200_000, 0)
        assert before < 10_000, "the campaign was over before the import began"
        assert sent() > before
        jobs = json.loads(smscast(env, tmp_path, "contacts", "imports", "--json").stdout)
        assert [(j["status"], j["created"], j["failure"]) for j in jobs] == [
            ("finished", 10_000, None), ("finished", 200_000, None)
        ]  # fmt: skip
    finally:
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=60)
        engine.dispose()
        log.close()
    served = (tmp_path / "serve.log").read_text()
    assert code == 0, served
    assert "database is locked" not in served
