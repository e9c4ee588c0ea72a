"""The SMPP connector form's "Binds" field: offered in both languages with what it shares,
stored as a number, and a count the carrier connection cannot have named beside it."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest
from fastapi.testclient import TestClient
from portal_site import Clock, build_site, csrf_of, make_user, sign_in
from sqlalchemy import Engine

from smscast.config import Settings
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.sending.connectors import connectors

OWNER = "ola@shop.test"
FIELDS = {"kind": "smpp", "name": "carrier", "host": "10.0.0.5", "port": "2775",
          "system_id": "shop", "password": "pw", "bind_mode": "transceiver",
          "rate_per_s": "100", "window": "10"}  # fmt: skip
PAGE = "/connectors/new?kind=smpp"


@pytest.fixture
def owner(settings: Settings, engine: Engine, workspace: WorkspaceRef, now: datetime) -> TestClient:
    site = TestClient(build_site(settings, engine, Clock(now)), raise_server_exceptions=True)
    make_user(engine, [workspace], OWNER, now=now)
    sign_in(site, OWNER)
    return site


def post(client: TestClient, **data: str) -> httpx.Response:
    token = csrf_of(client.get(PAGE).text)
    return client.post("/connectors/new", data={**FIELDS, **data, "csrf_token": token},
                       follow_redirects=False)  # fmt: skip


def test_the_form_offers_binds_and_says_window_and_rate_are_shared(owner: TestClient) -> None:
    english = owner.get(PAGE, headers={"Accept-Language": "en"})
    polish = owner.get(PAGE, headers={"Accept-Language": "pl"})
    assert 'name="binds"' in english.text
    assert "Binds" in english.text and "The window and the rate are shared" in english.text
    assert "Liczba sesji (bind)" in polish.text
    assert "Okno i limit szybkości są wspólne" in polish.text


def test_binds_are_stored_and_more_than_the_window_is_refused_beside_the_field(
    owner: TestClient, engine: Engine
) -> None:
    refused = post(owner, binds="12")
    assert refused.status_code == 422
    assert 'href="#binds"' in refused.text and "at most the window (10)" in refused.text

    saved = post(owner, binds="2")
    assert saved.status_code == 303
    with engine.connect() as conn:
        row = conn.execute(connectors.select().where(connectors.c.name == "carrier")).one()
    assert row.settings["binds"] == 2
