"""`smscast users grant-admin / revoke-admin`: who may create workspaces, from the shell;
`smscast users set-password`: a way back in for an administrator who lost access."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select
from typer.testing import CliRunner

from smscast.cli import app
from smscast.engine.accounts.auth import token_hash
from smscast.engine.accounts.instance_admins import is_instance_admin
from smscast.engine.accounts.users import sign_in
from smscast.store.api_models import UserSession
from smscast.store.models import AuditEvent, SignInThrottle, User, Workspace, table_of

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


def test_set_password_from_stdin_lets_a_locked_out_admin_in_again(
    cli_env: Path, engine: Engine, now: datetime
) -> None:
    throttles, sessions = table_of(SignInThrottle), table_of(UserSession)
    with engine.begin() as conn:
        locked = {"failures": 10, "last_failure_at": now,
                  "blocked_until": now + timedelta(minutes=15)}  # fmt: skip
        conn.execute(insert(throttles).values(key="account:first@shop.test", **locked))
    with engine.begin() as conn:
        workspace_id = conn.execute(select(table_of(Workspace).c.id)).scalar_one()
        conn.execute(insert(sessions).values(token_hash=token_hash("old-session"),
                                             user_id=user_id(engine, "first@shop.test"),
                                             workspace_id=workspace_id, created_at=now,
                                             expires_at=now + timedelta(hours=1)))  # fmt: skip

    result = runner.invoke(app, ["users", "set-password", "first@shop.test", "--password-stdin"],
                           input="short\n")  # fmt: skip
    assert result.exit_code == 1
    assert "a password needs at least 10 characters, not all the same one" in result.output

    result = runner.invoke(app, ["users", "set-password", "FIRST@shop.test", "--password-stdin"],
                           input="a brand new passphrase\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "first@shop.test has a new password; 1 session ended" in result.output
    with engine.connect() as conn:
        assert conn.execute(select(sessions)).all() == []
        assert conn.execute(select(throttles)).all() == []  # the lock is lifted
        logged = conn.execute(select(table_of(AuditEvent).c.subject).where(
            table_of(AuditEvent).c.action == "password.set")).scalars().all()  # fmt: skip
    assert logged == ["first@shop.test"]
    signed_in = sign_in(engine, "first@shop.test", "a brand new passphrase", workspace_id=None,
                        lifetime=timedelta(hours=1), now=now)  # fmt: skip
    assert signed_in.role == "owner"

    result = runner.invoke(app, ["users", "set-password", "nobody@shop.test", "--password-stdin"],
                           input="a brand new passphrase\n")  # fmt: skip
    assert result.exit_code == 1 and "no user with the email nobody@shop.test" in result.output


def test_set_password_prompts_twice_without_echo(
    cli_env: Path, engine: Engine, now: datetime
) -> None:
    result = runner.invoke(app, ["users", "set-password", "first@shop.test"],
                           input="one long passphrase\nanother one entirely\n"
                                 "one long passphrase\none long passphrase\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "one long passphrase" not in result.output
    assert "do not match" in result.output.lower()
    sign_in(engine, "first@shop.test", "one long passphrase", workspace_id=None,
            lifetime=timedelta(hours=1), now=now)  # fmt: skip
