"""Idempotency keys, rate limits per key, and the audit log."""

from __future__ import annotations

from api_checks import problem_of
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from smscast.api.app import create_app
from smscast.config import Settings


def test_a_retried_post_with_the_same_key_is_done_once(client: TestClient) -> None:
    headers = {"Idempotency-Key": "order-1001"}
    first = client.post("/api/v1/contacts", json={"phone": "+48601234567"}, headers=headers)
    second = client.post("/api/v1/contacts", json={"phone": "+48601234567"}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert len(client.get("/api/v1/contacts").json()["items"]) == 1
    other = client.post("/api/v1/contacts", json={"phone": "+48601234568"}, headers=headers)
    assert problem_of(other, 422)["code"] == "idempotency_key_reused"
    refused = client.post(
        "/api/v1/contacts", json={"phone": "bad"}, headers={"Idempotency-Key": "k2"}
    )
    replayed = client.post(
        "/api/v1/contacts", json={"phone": "bad"}, headers={"Idempotency-Key": "k2"}
    )
    assert refused.json() == replayed.json() and replayed.status_code == 422


def test_keys_do_not_share_idempotency_records(client: TestClient, make_key) -> None:
    headers = {"Idempotency-Key": "same"}
    client.post("/api/v1/contacts", json={"phone": "+48601234567"}, headers=headers)
    other = TestClient(client.app)
    other.headers["Authorization"] = f"Bearer {make_key('owner')}"
    response = other.post("/api/v1/contacts", json={"phone": "+48601234568"}, headers=headers)
    assert response.status_code == 201
    assert "idempotent-replayed" not in response.headers


def test_each_key_has_its_own_rate_limit(api_settings: Settings, engine: Engine, make_key) -> None:
    app = create_app(api_settings.model_copy(update={"api_rate_limit": 3}), engine)
    busy, calm = TestClient(app), TestClient(app)
    busy.headers["Authorization"] = f"Bearer {make_key('viewer')}"
    calm.headers["Authorization"] = f"Bearer {make_key('viewer')}"
    assert [busy.get("/api/v1/contacts").status_code for _ in range(3)] == [200, 200, 200]
    limited = busy.get("/api/v1/contacts")
    assert problem_of(limited, 429)["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1
    assert calm.get("/api/v1/contacts").status_code == 200


def test_the_audit_log_says_who_did_what(client: TestClient) -> None:
    key = client.post("/api/v1/api-keys", json={"name": "crm", "role": "viewer"}).json()
    contact = client.post("/api/v1/contacts", json={"phone": "+48601234567"}).json()
    client.delete(f"/api/v1/contacts/{contact['id']}")
    client.patch("/api/v1/workspace", json={"settings": {"part_price": 0.05}})
    events = client.get("/api/v1/audit-events").json()["items"]
    actions = [event["action"] for event in events]
    assert actions[:4] == [
        "workspace.settings_changed",
        "contact.erased",
        "contact.created",
        "api_key.created",
    ]
    assert events[3]["subject"] == f"api key {key['prefix']}"
    assert all(event["actor"] == "key:owner key" for event in events[:4])
    only_keys = client.get("/api/v1/audit-events", params={"action": "api_key."}).json()["items"]
    assert [event["action"] for event in only_keys] == ["api_key.created"] * 2  # with the fixture's
    assert client.get("/api/v1/workspace").json()["settings"]["part_price"] == 0.05
