"""The parts counter under reply boxes counts as the sending path does."""

from __future__ import annotations

from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from portal_site import Clock, build_site, csrf_of, make_user, sign_in
from sqlalchemy import Engine

from smscast.config import Settings
from smscast.engine.accounts.workspaces import WorkspaceRef

AGENT = "agent@shop.test"


@pytest.fixture
def site(settings: Settings, engine: Engine, workspace: WorkspaceRef, now: datetime) -> TestClient:
    client = TestClient(build_site(settings, engine, Clock(now)))
    make_user(engine, [workspace], AGENT, role="agent", now=now)
    sign_in(client, AGENT)
    return client


def _measure(site: TestClient, text: str) -> str:
    token = csrf_of(site.get("/dashboard").text)
    answer = site.post("/text-meter?field=reply", data={"reply": text},
                       headers={"X-CSRF-Token": token})  # fmt: skip
    assert answer.status_code == 200
    return answer.text


def test_meter_counts_gsm_then_switches_to_ucs2(site: TestClient) -> None:
    long_plain = _measure(site, "x" * 161)
    assert 'data-testid="encoding">GSM-7<' in long_plain
    assert 'data-testid="parts-count">2<' in long_plain
    polish = _measure(site, "Zażółć gęślą jaźń")
    assert 'data-testid="encoding">UCS-2<' in polish
    assert 'data-testid="parts-count">1<' in polish


def test_meter_says_when_a_text_cannot_be_sent(site: TestClient) -> None:
    refused = _measure(site, "a\x00b")
    assert "cannot be sent as it is" in refused
    assert "parts-count" not in refused
