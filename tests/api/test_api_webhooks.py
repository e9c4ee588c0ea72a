"""Outgoing webhooks: SSRF checks, signed deliveries, retries for 24 hours, the delivery log."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import httpx
import pytest
from api_checks import problem_of
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from webhook_receiver import webhook_receiver

from smscast.api.app import create_app
from smscast.config import Settings
from smscast.core.webhook_signing import verify_signature_header
from smscast.engine.webhook_delivery import deliver_due_webhooks


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://10.1.2.3/x",
        "http://192.168.0.10/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x",
        "http://[::ffff:127.0.0.1]/x",
        "http://0.0.0.0/x",
        "ftp://example.com/x",
        "http://user:pw@example.com/x",
        "http:///nohost",
    ],
)
def test_internal_or_odd_urls_are_refused(client: TestClient, url: str) -> None:
    response = client.post("/api/v1/webhooks", json={"url": url, "events": ["message.sent"]})
    body = problem_of(response, 422)
    assert body["code"] == "unsafe_url" and body["field"] == "url"


def test_unknown_events_are_named(client: TestClient) -> None:
    response = client.post(
        "/api/v1/webhooks", json={"url": "https://example.com/x", "events": ["message.lost"]}
    )
    assert problem_of(response, 422)["field"].startswith("events")


@pytest.fixture
def open_app(api_settings: Settings, engine: Engine) -> FastAPI:
    """The API with private addresses allowed, so a loopback receiver can be used."""
    return create_app(api_settings.model_copy(update={"webhook_allow_private": True}), engine)


def _client(app: FastAPI, token: str) -> TestClient:
    client = TestClient(app, raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def test_an_opt_out_reaches_the_subscriber_signed(
    open_app: FastAPI, make_key, engine: Engine
) -> None:
    client = _client(open_app, make_key("owner"))
    settings = open_app.state.settings
    with webhook_receiver() as receiver:
        made = client.post(
            "/api/v1/webhooks", json={"url": receiver.url, "events": ["contact.opted_out"]}
        )
        assert made.status_code == 201, made.text
        secret = made.json()["secret"]
        assert "secret" not in client.get(f"/api/v1/webhooks/{made.json()['id']}").json()
        client.post(
            "/api/v1/consent/opt-in", json={"phone": "+48601234567", "evidence": "web form"}
        )
        client.post("/api/v1/consent/opt-out", json={"phone": "+48601234567"})
        now = datetime.now(UTC)
        with httpx.Client() as http:
            assert deliver_due_webhooks(engine, settings, http, now) == 1
        headers, body = receiver.posts[0]
    assert headers["Smscast-Event"] == "contact.opted_out"
    assert verify_signature_header(secret, headers["Smscast-Signature"], body, int(now.timestamp()))
    assert not verify_signature_header(
        "whsec_other", headers["Smscast-Signature"], body, int(now.timestamp())
    )
    event = json.loads(body)
    assert event["type"] == "contact.opted_out"
    assert event["data"]["phone"] == "+48601234567"
    log = client.get(f"/api/v1/webhooks/{made.json()['id']}/deliveries").json()["items"]
    assert [(d["status"], d["attempts"], d["last_status_code"]) for d in log] == [
        ("delivered", 1, 200)
    ]


def test_failures_are_retried_with_backoff_then_given_up_after_a_day(
    open_app: FastAPI, make_key, engine: Engine
) -> None:
    client = _client(open_app, make_key("owner"))
    settings = open_app.state.settings
    with webhook_receiver() as receiver, httpx.Client() as http:
        receiver.statuses = [500] * 100
        hook = client.post("/api/v1/webhooks", json={"url": receiver.url, "events": ["*"]}).json()
        assert client.post(f"/api/v1/webhooks/{hook['id']}/test").status_code == 202
        start = datetime.now(UTC)
        assert deliver_due_webhooks(engine, settings, http, start) == 1
        assert deliver_due_webhooks(engine, settings, http, start) == 0  # not due yet
        waits = []
        moment = start
        for _ in range(40):
            log = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries").json()["items"][0]
            if log["status"] != "pending":
                break
            due = datetime.fromisoformat(log["next_attempt_at"])
            waits.append(due - moment)
            moment = due
            assert deliver_due_webhooks(engine, settings, http, due) == 1
    assert log["status"] == "failed"
    assert log["last_status_code"] == 500 and "HTTP 500" in log["last_error"]
    assert waits[0] == timedelta(seconds=30)
    assert all(later >= earlier for earlier, later in pairwise(waits[:-1]))
    assert max(waits) <= timedelta(hours=2)
    assert moment - start <= timedelta(hours=24)
    assert moment - start >= timedelta(hours=23)
    assert len(receiver.posts) == log["attempts"]


def test_a_url_that_turns_internal_is_not_called(
    api_settings: Settings, open_app: FastAPI, make_key, engine: Engine
) -> None:
    client = _client(open_app, make_key("owner"))
    with webhook_receiver() as receiver, httpx.Client() as http:
        hook = client.post("/api/v1/webhooks", json={"url": receiver.url, "events": ["*"]}).json()
        client.post(f"/api/v1/webhooks/{hook['id']}/test")
        strict = api_settings.model_copy(update={"webhook_allow_private": False})
        deliver_due_webhooks(engine, strict, http, datetime.now(UTC))
        assert receiver.posts == []
    log = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries").json()["items"][0]
    assert "internal address" in log["last_error"] and log["status"] == "pending"
