"""Guessing a password is slow: failed sign-ins are counted per account and per client
address in the database, so two API processes on one database refuse the same attempts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest
from api_checks import problem_of
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from smscast.api.app import create_app
from smscast.api.routes.auth import clock
from smscast.config import Settings
from smscast.engine.accounts.users import add_member
from smscast.engine.accounts.workspaces import WorkspaceRef, ensure_first_run
from smscast.store.db import create_db_engine
from smscast.store.models import AuditEvent, SignInThrottle, table_of

EMAIL = "admin@localhost"
WRONG = "not the password"


class Clock:
    """The time the apps see, moved by the test (no test sleeps or reads the wall clock)."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


@pytest.fixture
def password(engine: Engine, workspace: WorkspaceRef, now: datetime) -> str:
    first = ensure_first_run(
        engine, country="PL", timezone="Europe/Warsaw", admin_email=EMAIL, now=now
    )
    assert first is not None
    return first.admin_password


@pytest.fixture
def time(now: datetime) -> Clock:
    return Clock(now)


@pytest.fixture
def two_processes(api_settings: Settings, db_url: str, time: Clock) -> Iterator[list[TestClient]]:
    """Two API apps, each with its own engine (its own connections) on the same database."""
    engines = [create_db_engine(db_url) for _ in range(2)]
    apps: list[FastAPI] = [create_app(api_settings, engine) for engine in engines]
    for app in apps:
        app.dependency_overrides[clock] = time
    yield [TestClient(app, raise_server_exceptions=False) for app in apps]
    for engine in engines:
        engine.dispose()


def login(client: TestClient, password: str, email: str = EMAIL) -> httpx.Response:
    return client.post("/api/v1/auth/login", json={"email": email, "password": password})


def test_the_fifth_failure_delays_the_next_attempt_in_every_process(
    two_processes: list[TestClient], password: str, time: Clock
) -> None:
    first, second = two_processes
    for attempt in range(5):
        answer = login(two_processes[attempt % 2], WRONG)
        assert problem_of(answer, 401)["code"] == "bad_login"
    refused = login(second, password)  # right password, but too soon after 5 failures
    body = problem_of(refused, 429)
    assert body["code"] == "sign_in_throttled"
    assert refused.headers["Retry-After"] == "1"
    assert "try again in 1 s" in body["detail"]
    time.advance(seconds=1)
    assert problem_of(login(first, WRONG), 401)["code"] == "bad_login"
    assert login(second, password).headers["Retry-After"] == "2"
    time.advance(seconds=2)
    assert problem_of(login(second, WRONG), 401)["code"] == "bad_login"
    assert login(first, password).headers["Retry-After"] == "4"
    time.advance(seconds=4)
    signed_in = login(first, password)
    assert signed_in.status_code == 200, signed_in.text
    time.advance(seconds=1)
    assert login(second, WRONG).status_code == 401  # the account starts over at 1 failure,
    assert login(first, password).headers["Retry-After"] == "8"  # the address is at 8


def test_the_tenth_failure_locks_the_account_even_for_the_right_password(
    two_processes: list[TestClient], password: str, time: Clock, engine: Engine
) -> None:
    first, second = two_processes
    for attempt in range(9):
        assert login(two_processes[attempt % 2], WRONG).status_code == 401
        time.advance(seconds=20)  # past each delay (at most 16 s)
    locked = login(second, WRONG)
    body = problem_of(locked, 423)
    assert body["code"] == "account_locked"
    assert locked.headers["Retry-After"] == str(15 * 60)
    until = time.at + timedelta(minutes=15)
    assert f"until {until:%Y-%m-%d %H:%M:%S} UTC" in body["detail"]
    time.advance(minutes=14, seconds=59)
    still = login(first, password)
    assert problem_of(still, 423)["code"] == "account_locked"
    assert still.headers["Retry-After"] == "1"
    time.advance(seconds=1)
    assert login(first, password).status_code == 200
    with engine.connect() as conn:
        events = conn.execute(
            select(table_of(AuditEvent)).order_by(table_of(AuditEvent).c.id)
        ).all()
        left = conn.execute(select(table_of(SignInThrottle).c.key)).scalars().all()
    failed = [e for e in events if e.action == "sign_in.failed"]
    assert len(failed) == 10 and all(e.subject == EMAIL for e in failed)
    assert [e.details["failures"] for e in failed] == list(range(1, 11))
    assert [e.action for e in events].count("sign_in.locked") == 1
    lock = next(e for e in events if e.action == "sign_in.locked")
    assert lock.details["until"] == until.isoformat()
    assert all(WRONG not in str(e.details) and password not in str(e.details) for e in events)
    assert f"account:{EMAIL}" not in left  # the sign-in cleared the account's counter


def test_one_address_guessing_many_accounts_is_slowed_down(
    app: FastAPI, password: str, time: Clock, engine: Engine, workspace: WorkspaceRef
) -> None:
    app.dependency_overrides[clock] = time
    guesser = TestClient(app, raise_server_exceptions=False, client=("203.0.113.9", 4000))
    colleague = TestClient(app, raise_server_exceptions=False, client=("198.51.100.7", 4000))
    for n in range(5):
        assert login(guesser, WRONG, f"user{n}@localhost").status_code == 401
    refused = login(guesser, password)
    assert problem_of(refused, 429)["code"] == "sign_in_throttled"
    assert login(colleague, password).status_code == 200


def test_failures_are_forgotten_after_a_quiet_hour(
    two_processes: list[TestClient], password: str, time: Clock
) -> None:
    first, _ = two_processes
    for _attempt in range(4):
        assert login(first, WRONG).status_code == 401
    time.advance(hours=1)
    for _attempt in range(4):
        assert login(first, WRONG).status_code == 401
    assert login(first, password).status_code == 200


def test_an_email_without_an_account_is_throttled_alike(
    app: FastAPI, password: str, time: Clock
) -> None:
    """Refusals must not tell a guesser which emails have accounts."""
    app.dependency_overrides[clock] = time
    one = TestClient(app, raise_server_exceptions=False, client=("203.0.113.1", 4000))
    other = TestClient(app, raise_server_exceptions=False, client=("203.0.113.2", 4000))
    for _attempt in range(5):
        known = login(one, WRONG)
        unknown = login(other, WRONG, "nobody@localhost")
        assert problem_of(known, 401) == problem_of(unknown, 401)
    known, unknown = login(one, WRONG), login(other, WRONG, "nobody@localhost")
    assert problem_of(known, 429) == problem_of(unknown, 429)


def test_a_member_added_to_a_workspace_is_counted_in_its_audit_log(
    app: FastAPI, password: str, engine: Engine, workspace: WorkspaceRef, now: datetime,
    make_key: object, time: Clock,
) -> None:  # fmt: skip
    from smscast.engine.accounts.auth import Caller

    owner = Caller("key", 1, workspace, "owner", "test")
    add_member(engine, workspace, "ala@shop.example", "agent", name="Ala",
               password="a long passphrase", caller=owner, now=now)  # fmt: skip
    app.dependency_overrides[clock] = time
    client = TestClient(app, raise_server_exceptions=False)
    assert login(client, WRONG, "ala@shop.example").status_code == 401
    with engine.connect() as conn:
        audit = table_of(AuditEvent)
        failed = conn.execute(select(audit).where(audit.c.action == "sign_in.failed")).one()
    assert failed.workspace_id == workspace.id and failed.subject == "ala@shop.example"
    assert failed.details == {"address": "testclient", "failures": 1}
