"""Helpers for the portal's page tests: the real site on the test database, users who
sign in with a password, and the CSRF token a page carries (as a browser would read it).

Plain functions, not fixtures: `tests/web/conftest.py` is the browser harness's, and its
session fixtures must not be started by these TestClient tests.
"""

from __future__ import annotations

import re
from datetime import datetime

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert

from smscast.config import Settings
from smscast.engine.accounts.auth import memberships, users
from smscast.engine.accounts.users import hash_password
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.web.site import create_site

PASSWORD = "correct horse battery"
_TOKEN = re.compile(r'<meta name="csrf-token" content="([0-9a-f]+)">')


class Clock:
    """The site's clock, fixed at `now` until a test moves it on."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def build_site(settings: Settings, engine: Engine, clock: Clock) -> FastAPI:
    return create_site(settings.model_copy(update={"webhook_worker": False}), engine, clock=clock)


def make_user(
    engine: Engine,
    workspaces: list[WorkspaceRef],
    email: str,
    *,
    role: str = "owner",
    name: str = "",
    now: datetime,
) -> int:
    """A user with `PASSWORD` and `role` in each of `workspaces`."""
    with engine.begin() as conn:
        user_id = int(
            conn.execute(
                insert(users)
                .values(
                    email=email,
                    name=name,
                    password_hash=hash_password(PASSWORD),
                    is_active=True,
                    created_at=now,
                )
                .returning(users.c.id)
            ).scalar_one()
        )
        for workspace in workspaces:
            conn.execute(
                insert(memberships).values(user_id=user_id, workspace_id=workspace.id, role=role)
            )
    return user_id


def csrf_of(html: str) -> str:
    found = _TOKEN.search(html)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD, next_: str = "") -> str:
    """Signs in through the form as a browser does; returns where it was sent."""
    page = client.get("/login")
    answer = client.post(
        "/login",
        data={
            "email": email,
            "password": password,
            "next": next_,
            "csrf_token": csrf_of(page.text),
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]
