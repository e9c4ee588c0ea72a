"""Workspaces never see each other: every endpoint, tried on another workspace's objects, 404s.

The walk is driven by the app's own routes, so a route added later is covered (or
fails this test until its path parameter is given an object of the other workspace).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert

from smscast.api.app import create_app
from smscast.channels.base import InboundMessage
from smscast.config import Settings
from smscast.engine.accounts.api_keys import create_api_key
from smscast.engine.accounts.workspaces import WorkspaceRef, create_workspace
from smscast.engine.inbound.receive import handle_inbound
from smscast.engine.sending.connectors import add_connector
from smscast.store.models import ConsentEvent, table_of


@pytest.fixture
def open_app(api_settings: Settings, engine: Engine) -> FastAPI:
    update = {"webhook_allow_private": True, "api_rate_limit": 0}
    return create_app(api_settings.model_copy(update=update), engine)


def _client(app: FastAPI, engine: Engine, workspace: WorkspaceRef, now: datetime) -> TestClient:
    token = create_api_key(
        engine, workspace, "owner", "owner", expires_at=None, actor="t", now=now
    ).token
    client = TestClient(app, raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def _created(response: Any) -> dict[str, Any]:
    assert response.status_code < 300, response.text
    return response.json()


@pytest.fixture
def other(open_app: FastAPI, engine: Engine, settings: Settings, now: datetime) -> dict[str, Any]:
    """A second workspace full of objects, and a client acting in it."""
    ws = create_workspace(engine, "Other shop", "PL", "Europe/Warsaw", actor="t", now=now)
    client = _client(open_app, engine, ws, now)
    connector = add_connector(
        engine,
        ws,
        name="smsc",
        kind="kannel",
        settings={"username": "u", "password": "p"},
        rate_per_s=1,
        window=1,
        actor="t",
        now=now,
    )
    number = _created(
        client.post("/api/v1/numbers", json={"number": "+48500100200", "connector": "smsc"})
    )
    contact = _created(
        client.post("/api/v1/contacts", json={"phone": "+48601234567", "tags": ["vip"]})
    )
    client.post("/api/v1/consent/opt-in", json={"phone": "+48601234567", "evidence": "form"})
    segment = _created(
        client.post(
            "/api/v1/segments", json={"name": "vip-only", "expression": 'tags contains "vip"'}
        )
    )
    campaign = _created(
        client.post(
            "/api/v1/campaigns", json={"name": "c", "body": "Hi", "segment": 'tags contains "vip"'}
        )
    )
    message = _created(
        client.post("/api/v1/messages", json={"to": "+48601234567", "body": "hello"})
    )
    rule = _created(
        client.post(
            "/api/v1/keyword-rules",
            json={
                "number": "+48500100200",
                "keyword": "PROMO",
                "actions": [{"type": "reply", "text": "hi"}],
            },
        )
    )
    handle_inbound(
        engine,
        settings,
        connector.id,
        InboundMessage("+48601234567", "+48500100200", "I need help with my order", now),
    )
    ticket = client.get("/api/v1/tickets").json()["items"][0]
    user = _created(
        client.post(
            "/api/v1/users",
            json={"email": "b@other.example", "role": "agent", "password": "a long passphrase"},
        )
    )
    key = _created(client.post("/api/v1/api-keys", json={"name": "k", "role": "viewer"}))
    hook = _created(
        client.post("/api/v1/webhooks", json={"url": "http://127.0.0.1:9/x", "events": ["*"]})
    )
    job = _created(
        client.post(
            "/api/v1/contacts/imports",
            content=b"phone\n+48601234568\n",
            headers={"Content-Type": "text/csv"},
        )
    )
    ids = {
        "contact_id": contact["id"],
        "user_id": user["id"],
        "key_id": key["id"],
        "webhook_id": hook["id"],
        "import_id": job["id"],
        "campaign_id": campaign["id"],
        "message_id": message["id"],
        "ticket_id": ticket["id"],
        "connector_id": connector.id,
        "rule_id": rule["id"],
        "name": segment["name"],
        "number_id": number["id"],
    }
    return {"client": client, "workspace": ws, "ids": ids}


def _example_body(app: FastAPI, path: str, method: str) -> Any:
    """A valid body for the operation, from the examples the spec documents."""
    spec = app.openapi()
    operation = spec["paths"][path][method.lower()]
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    schema = content["application/json"]["schema"]
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].split("/")[-1]]
    if schema.get("examples"):
        return schema["examples"][0]
    body = {}
    for name in schema.get("required", []):
        prop = schema["properties"][name]
        assert prop.get("examples") or "default" in prop or prop.get("enum"), (path, name)
        body[name] = (prop.get("examples") or prop.get("enum") or [prop.get("default")])[0]
    return body


def test_every_endpoint_refuses_another_workspaces_objects(
    open_app: FastAPI,
    client: TestClient,
    other: dict[str, Any],
    engine: Engine,
) -> None:
    ids = other["ids"]
    tried = 0
    for template, operations in open_app.openapi()["paths"].items():
        if not template.startswith("/api/v1") or "{" not in template:
            continue
        params = re.findall(r"{(\w+)}", template)
        missing = [p for p in params if p not in ids]
        assert not missing, f"{template}: give the isolation test an object for {missing}"
        path = template.format(**{p: ids[p] for p in params})
        for method in sorted(operations):
            body = _example_body(open_app, template, method)
            response = client.request(method.upper(), path, json=body)
            assert response.status_code == 404, (method, path, response.status_code, response.text)
            tried += 1
    assert tried >= 25
    # nothing of the other workspace changed, and it never shows up in lists
    theirs = other["client"]
    assert theirs.get(f"/api/v1/contacts/{ids['contact_id']}").status_code == 200
    assert theirs.get(f"/api/v1/api-keys/{ids['key_id']}").json()["revoked_at"] is None
    assert theirs.get(f"/api/v1/users/{ids['user_id']}").json()["role"] == "agent"
    assert theirs.get(f"/api/v1/campaigns/{ids['campaign_id']}").json()["status"] == "draft"
    assert theirs.get(f"/api/v1/webhooks/{ids['webhook_id']}").json()["enabled"] is True
    assert theirs.get(f"/api/v1/tickets/{ids['ticket_id']}").status_code == 200
    assert [s["name"] for s in theirs.get("/api/v1/segments").json()["items"]] == ["vip-only"]
    for path in (
        "/api/v1/contacts",
        "/api/v1/messages",
        "/api/v1/api-keys",
        "/api/v1/users",
        "/api/v1/webhooks",
        "/api/v1/contacts/imports",
        "/api/v1/campaigns",
        "/api/v1/tickets",
        "/api/v1/numbers",
        "/api/v1/keyword-rules",
        "/api/v1/segments",
        "/api/v1/connectors",
        "/api/v1/audit-events",
    ):
        listed = client.get(path).json()["items"]
        assert not {item.get("id") for item in listed} & {
            v for v in ids.values() if isinstance(v, int)
        } or path in (
            "/api/v1/users",
            "/api/v1/api-keys",
            "/api/v1/audit-events",
        ), path
        assert "+48601234567" not in str(listed) and "vip-only" not in str(listed), path


def test_bodies_naming_another_workspaces_objects_are_refused(
    client: TestClient, other: dict[str, Any]
) -> None:
    ids = other["ids"]
    preview = client.post(
        "/api/v1/templates/preview", json={"body": "Hi", "contact_id": ids["contact_id"]}
    )
    assert preview.status_code == 404
    sent = client.post(
        "/api/v1/messages", json={"to": "+48601234567", "body": "x", "from": "+48500100200"}
    )
    assert sent.status_code == 422 and sent.json()["field"] == "from"
    by_campaign = client.get("/api/v1/messages", params={"campaign_id": ids["campaign_id"]})
    assert by_campaign.json()["items"] == []
    segment = client.post(
        "/api/v1/campaigns", json={"name": "x", "body": "Hi", "segment_name": "vip-only"}
    )
    assert segment.status_code in (404, 422)
    opt_out = client.post("/api/v1/consent/opt-out", json={"phone": "+48601234567"})
    assert opt_out.status_code == 404
    theirs = other["client"].get(f"/api/v1/contacts/{ids['contact_id']}/consent").json()
    assert [e["action"] for e in theirs["events"]] == ["opt_in"]
    assert client.get("/api/v1/coupon-pools").json()["items"] == []
    assert ConsentEvent and insert and table_of  # imported for type checkers only
