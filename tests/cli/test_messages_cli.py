"""`smscast messages list|show`, as a user types them."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, update
from typer.testing import CliRunner

from smscast.cli import app
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.inbound.numbers import add_number
from smscast.engine.sending.connectors import add_connector
from smscast.engine.sending.single_messages import send_message
from smscast.store.messaging_models import Message
from smscast.store.models import table_of

runner = CliRunner()
messages = table_of(Message)


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SMSCAST_DATABASE_URL", db_url)
    monkeypatch.setenv("SMSCAST_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def _sent(engine: Engine, workspace: WorkspaceRef, now: datetime) -> list[int]:
    add_connector(engine, workspace, name="smsc", kind="kannel",
                  settings={"username": "u", "password": "p"}, rate_per_s=1, window=1,
                  actor="t", now=now)  # fmt: skip
    add_number(engine, workspace, "+48500100200", connector="smsc", actor="t", now=now)
    return [
        send_message(engine, workspace, to, "Your order has shipped", sender=None,
                     purpose="informational", valid_until=None, actor="t", now=now)["id"]
        for to in ("+48601234567", "+48601234568")
    ]  # fmt: skip


def test_messages_are_listed_by_phone_and_status_and_shown_with_why_they_failed(
    cli_env: Path, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    first, second = _sent(engine, workspace, now)
    with engine.begin() as conn:
        conn.execute(update(messages).where(messages.c.id == second).values(
            status="failed", error_code="refused", error="invalid destination",
            done_at=now + timedelta(seconds=2), attempts=1,
        ))  # fmt: skip

    code, out = run("messages", "list", "--phone", "601 234 567", "--json")
    assert code == 0, out
    assert [m["id"] for m in json.loads(out)] == [first]
    code, out = run("messages", "list", "--status", "failed")
    assert code == 0 and f"#{second}" in out and f"#{first} " not in out and "refused" in out
    code, out = run("messages", "list", "--campaign", "7")
    assert code == 0 and "no messages" in out

    code, out = run("messages", "show", str(second))
    assert code == 0, out
    assert "failure: failed: refused: invalid destination" in out
    assert "history:" in out and "queued" in out
    code, out = run("messages", "show", str(second), "--json")
    assert [s["status"] for s in json.loads(out)["history"]] == ["queued", "failed"]


def test_wrong_filters_and_ids_are_named(
    cli_env: Path, engine: Engine, workspace: WorkspaceRef
) -> None:
    code, out = run("messages", "list", "--status", "lost")
    assert code == 1 and '"lost" is not one of' in out
    code, out = run("messages", "show", "42")
    assert code == 1 and "no message #42" in out
