"""`smscast users grant-admin / revoke-admin`: who may create workspaces, from the shell."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select
from typer.testing import CliRunner

from smscast.cli import app
from smscast.engine.instance_admins import is_instance_admin
from smscast.store.models import AuditEvent, User, table_of

runner = CliRunner()
users = table_of(User)


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SMSCAST_DATABASE_URL", db_url)
    monkeypatch.setenv("SMSCAST_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SMSCAST_ADMIN_EMAIL", "first@shop.test")
    monkeypatch.chdir(tmp_path)
    assert run("bootstrap")[0] == 0
    return tmp_path


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def user_id(engine: Engine, email: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(users.c.id).where(users.c.email == email)).scalar_one())


def test_the_bootstrap_admin_is_an_instance_administrator(cli_env: Path, engine: Engine) -> None:
    assert is_instance_admin(engine, user_id(engine, "first@shop.test"))


def test_admins_are_granted_and_revoked_but_never_the_last_one(
    cli_env: Path, engine: Engine
) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(users).values(
                email="second@shop.test",
                name="Second",
                password_hash="x",
                is_active=True,
                created_at=datetime.now(UTC),
            )
        )
    second = user_id(engine, "second@shop.test")
    assert not is_instance_admin(engine, second)

    code, out = run("users", "grant-admin", "Second@shop.test")
    assert code == 0, out
    assert "second@shop.test is now an instance administrator" in out.lower()
    assert is_instance_admin(engine, second)
    code, out = run("users", "revoke-admin", "first@shop.test")
    assert code == 0, out
    assert not is_instance_admin(engine, user_id(engine, "first@shop.test"))

    code, out = run("users", "revoke-admin", "second@shop.test")
    assert code == 1
    assert "last instance administrator" in out
    assert is_instance_admin(engine, second)

    code, out = run("users", "grant-admin", "nobody@shop.test")
    assert code == 1 and "no user with the email nobody@shop.test" in out

    with engine.connect() as conn:
        logged = conn.execute(
            select(table_of(AuditEvent).c.action, table_of(AuditEvent).c.subject)
            .where(table_of(AuditEvent).c.action.like("instance_admin.%"))
            .order_by(table_of(AuditEvent).c.id)
        ).all()
    assert [tuple(row) for row in logged] == [
        ("instance_admin.granted", "second@shop.test"),
        ("instance_admin.revoked", "first@shop.test"),
    ]
