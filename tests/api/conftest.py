"""An API app on the test database, and keys for it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from smscast.api.app import create_app
from smscast.config import Settings
from smscast.engine.api_keys import create_api_key
from smscast.engine.workspaces import WorkspaceRef

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
