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
from smscast.engine.accounts.workspaces import WorkspaceRef, create_workspace
from smscast.engine.sending.connectors import add_connector
from smscast.engine.webhooks.sender import deliver_due_webhooks


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


def _number(engine: Engine, workspace: WorkspaceRef, client: TestClient) -> str:
    add_connector(engine, workspace, name="smsc", kind="kannel",
                  settings={"username": "u", "password": "p"}, rate_per_s=1, window=1,
                  actor="t", now=datetime.now(UTC))  # fmt: skip
    made = client.post("/api/v1/numbers", json={"number": "+48500100200", "connector": "smsc"})
    assert made.status_code == 201, made.text
    return "+48500100200"


@pytest.mark.parametrize(
    ("url", "allow_private"),
    [
        ("http://169.254.169.254/latest/meta-data", False),
        ("http://10.0.0.5/hook", False),
        ("http://[64:ff9b::a00:5]/hook", False),
        ("http://169.254.169.254/latest/meta-data", True),  # metadata: never
    ],
)
def test_a_rule_webhook_to_an_internal_address_is_refused_naming_the_action(
    api_settings: Settings, engine: Engine, workspace: WorkspaceRef, make_key, url: str,
    allow_private: bool,
) -> None:  # fmt: skip
    app = create_app(api_settings.model_copy(update={"webhook_allow_private": allow_private}),
                     engine)  # fmt: skip
    client = _client(app, make_key("owner"))
    number = _number(engine, workspace, client)
    response = client.post("/api/v1/keyword-rules", json={
        "number": number, "keyword": "ORDER",
        "actions": [{"type": "reply", "text": "Thanks"}, {"type": "webhook", "url": url}],
    })  # fmt: skip
    body = problem_of(response, 422)
    assert body["code"] == "unsafe_url" and body["field"] == "actions[1].url"
    assert client.get("/api/v1/keyword-rules").json()["items"] == []


def test_a_rules_deliveries_are_listed_for_its_workspace_only(
    open_app: FastAPI, engine: Engine, workspace: WorkspaceRef, make_key
) -> None:
    client = _client(open_app, make_key("owner"))
    number = _number(engine, workspace, client)
    with webhook_receiver() as receiver:
        rule = client.post("/api/v1/keyword-rules", json={
            "number": number, "keyword": "ORDER", "actions": [{"type": "webhook",
                                                                "url": receiver.url}],
        })  # fmt: skip
        assert rule.status_code == 201, rule.text
    rule_id = rule.json()["id"]
    viewer = _client(open_app, make_key("viewer"))
    assert viewer.get(f"/api/v1/keyword-rules/{rule_id}/deliveries").json()["items"] == []
    assert client.get("/api/v1/webhooks").json()["items"] == []  # a rule's target: no subscription
    other = create_workspace(engine, "Other shop", "PL", "Europe/Warsaw", actor="t",
                             now=datetime.now(UTC))  # fmt: skip
    stranger = _client(open_app, make_key("owner", in_workspace=other))
    answer = stranger.get(f"/api/v1/keyword-rules/{rule_id}/deliveries")
    assert problem_of(answer, 404)["code"] == "unknown_rule"
