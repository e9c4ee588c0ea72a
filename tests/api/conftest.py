"""An API app on the test database, and keys for it."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert

from smscast.api.app import create_app
from smscast.config import Settings
from smscast.engine.accounts.api_keys import create_api_key
from smscast.engine.accounts.auth import token_hash
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.store.api_models import UserSession
from smscast.store.models import Membership, User, table_of

KeyMaker = Callable[..., str]


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"webhook_worker": False})


@pytest.fixture
def app(api_settings: Settings, engine: Engine) -> FastAPI:
    return create_app(api_settings, engine)


@pytest.fixture
def make_key(engine: Engine, workspace: WorkspaceRef, now: datetime) -> KeyMaker:
    """Makes an API key token for a role (in `workspace` unless another is given)."""

    def make(role: str = "owner", in_workspace: WorkspaceRef | None = None, **kw: object) -> str:
        made = create_api_key(
            engine,
            in_workspace or workspace,
            f"{role} key",
            role,
            expires_at=kw.get("expires_at"),  # type: ignore[arg-type]
            actor="test",
            now=now,
        )
        return made.token

    return make


@pytest.fixture
def client(app: FastAPI, make_key: KeyMaker) -> TestClient:
    """A client acting as an owner of `workspace`."""
    test_client = TestClient(app, raise_server_exceptions=False)
    test_client.headers["Authorization"] = f"Bearer {make_key('owner')}"
    return test_client


@pytest.fixture
def anonymous(app: FastAPI) -> TestClient:
    return TestClient(app, raise_server_exceptions=False)


SessionMaker = Callable[..., str]


@pytest.fixture
def make_session(engine: Engine, workspace: WorkspaceRef) -> SessionMaker:
    """Makes a signed-in user with `role` (in `workspace` unless another is given) and
    returns their session token; `expired=True` gives a session that ended an hour ago.

    The API checks sessions against the real clock, so the session is placed around it:
    what matters is only whether it is over, not what time it is.
    """
    counter = iter(range(1, 1_000_000))

    def make(
        role: str = "owner",
        in_workspace: WorkspaceRef | None = None,
        *,
        expired: bool = False,
        instance_admin: bool = False,
    ) -> str:
        started = datetime.now(UTC) - (timedelta(days=2) if expired else timedelta(0))
        token = secrets.token_urlsafe(32)
        with engine.begin() as conn:
            user_id = conn.execute(
                insert(table_of(User))
                .values(
                    email=f"{role}{next(counter)}@session.test",
                    name=role,
                    password_hash="not-a-hash: signs in by session only",
                    is_active=True,
                    instance_admin=instance_admin,
                    created_at=started,
                )
                .returning(table_of(User).c.id)
            ).scalar_one()
            ws = in_workspace or workspace
            conn.execute(
                insert(table_of(Membership)).values(user_id=user_id, workspace_id=ws.id, role=role)
            )
            conn.execute(
                insert(table_of(UserSession)).values(
                    token_hash=token_hash(token),
                    user_id=user_id,
                    workspace_id=ws.id,
                    created_at=started,
                    expires_at=started + timedelta(hours=1),
                )
            )
        return token

    return make
