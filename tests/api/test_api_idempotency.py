"""Idempotency keys are per workspace and credential: a key never replays another's answer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from api_checks import problem_of
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from smscast.engine.accounts.workspaces import WorkspaceRef, create_workspace

KeyMaker = Callable[..., str]
PASSWORD = "a long passphrase"


def _signed_in(client: TestClient, workspace_id: int) -> TestClient:
    """A client holding a session of ala@shop.example in one of her workspaces."""
    session = TestClient(client.app, raise_server_exceptions=False)
    login = session.post(
        "/api/v1/auth/login",
        json={"email": "ala@shop.example", "password": PASSWORD, "workspace_id": workspace_id},
    )
    assert login.status_code == 200, login.text
    assert login.json()["workspace_id"] == workspace_id
    return session


def test_one_user_in_two_workspaces_gets_two_executions_of_one_key(
    client: TestClient,
    make_key: KeyMaker,
    engine: Engine,
    workspace: WorkspaceRef,
    now: datetime,
) -> None:
    other = create_workspace(engine, "Cafe", "PL", "Europe/Warsaw", actor="test", now=now)
    other_owner = TestClient(client.app, raise_server_exceptions=False)
    other_owner.headers["Authorization"] = f"Bearer {make_key('owner', in_workspace=other)}"
    member = {"email": "ala@shop.example", "role": "marketer", "password": PASSWORD}
    assert client.post("/api/v1/users", json=member).status_code == 201
    assert other_owner.post("/api/v1/users", json=member).status_code == 201
    in_shop, in_cafe = _signed_in(client, workspace.id), _signed_in(client, other.id)
    headers = {"Idempotency-Key": "import-2026-12-06"}
    body = {"phone": "+48601234567"}

    shop = in_shop.post("/api/v1/contacts", json=body, headers=headers)
    cafe = in_cafe.post("/api/v1/contacts", json=body, headers=headers)

    assert shop.status_code == cafe.status_code == 201, cafe.text
    assert "idempotent-replayed" not in cafe.headers
    assert [c["phone"] for c in client.get("/api/v1/contacts").json()["items"]] == ["+48601234567"]
    assert [c["phone"] for c in other_owner.get("/api/v1/contacts").json()["items"]] == [
        "+48601234567"
    ]
    assert cafe.json()["id"] != shop.json()["id"]


def test_two_api_keys_of_one_workspace_get_two_executions_of_one_key(
    client: TestClient, make_key: KeyMaker
) -> None:
    second = TestClient(client.app, raise_server_exceptions=False)
    second.headers["Authorization"] = f"Bearer {make_key('marketer')}"
    headers = {"Idempotency-Key": "same"}

    first = client.post("/api/v1/contacts", json={"phone": "+48601234567"}, headers=headers)
    other = second.post("/api/v1/contacts", json={"phone": "+48601234568"}, headers=headers)

    assert first.status_code == other.status_code == 201, other.text
    assert "idempotent-replayed" not in other.headers
    phones = sorted(c["phone"] for c in client.get("/api/v1/contacts").json()["items"])
    assert phones == ["+48601234567", "+48601234568"]


def test_the_same_key_with_another_body_is_refused_as_reused(client: TestClient) -> None:
    headers = {"Idempotency-Key": "order-1001"}
    first = client.post("/api/v1/contacts", json={"phone": "+48601234567"}, headers=headers)
    assert first.status_code == 201

    other = client.post("/api/v1/contacts", json={"phone": "+48601234568"}, headers=headers)

    problem = problem_of(other, 422)
    assert problem["code"] == "idempotency_key_reused"
    assert problem["field"] == "Idempotency-Key"
    assert len(client.get("/api/v1/contacts").json()["items"]) == 1


def test_the_same_key_and_body_replay_the_first_answer(client: TestClient) -> None:
    headers = {"Idempotency-Key": "order-1002"}
    first = client.post("/api/v1/contacts", json={"phone": "+48601234567"}, headers=headers)

    again = client.post("/api/v1/contacts", json={"phone": "+48601234567"}, headers=headers)

    assert again.status_code == first.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert len(client.get("/api/v1/contacts").json()["items"]) == 1
