"""Who may call: keys and sessions, their expiry and revocation, and what each role may do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api_checks import problem_of
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from smscast.engine.workspaces import WorkspaceRef, ensure_first_run


def test_no_or_garbage_credentials_are_refused_with_401(anonymous: TestClient) -> None:
    body = problem_of(anonymous.get("/api/v1/contacts"), 401)
    assert body["code"] == "no_credentials"
    anonymous.headers["Authorization"] = "Bearer smc_nothing"
    assert problem_of(anonymous.get("/api/v1/contacts"), 401)["code"] == "bad_api_key"
    anonymous.headers["Authorization"] = "Bearer smc_abcdef012345_wrongsecret"
    assert problem_of(anonymous.get("/api/v1/contacts"), 401)["code"] == "unknown_api_key"


def test_a_revoked_key_stops_working_at_once(client: TestClient, make_key) -> None:
    created = client.post("/api/v1/api-keys", json={"name": "shop", "role": "marketer"})
    assert created.status_code == 201, created.text
    token = created.json()["token"]
    assert token.startswith("smc_")
    listed = client.get("/api/v1/api-keys").json()["items"]
    assert all("token" not in key and "secret_hash" not in key for key in listed)
    other = TestClient(client.app, raise_server_exceptions=False)
    other.headers["X-API-Key"] = token
    assert other.get("/api/v1/contacts").status_code == 200
    revoked = client.delete(f"/api/v1/api-keys/{created.json()['id']}")
    assert revoked.json()["revoked_at"] is not None
    body = problem_of(other.get("/api/v1/contacts"), 401)
    assert body["code"] == "revoked_api_key"


def test_an_expired_key_is_refused(anonymous: TestClient, make_key) -> None:
    token = make_key("owner", expires_at=datetime.now(UTC) + timedelta(milliseconds=1))
    anonymous.headers["Authorization"] = f"Bearer {token}"
    import time

    time.sleep(0.01)
    assert problem_of(anonymous.get("/api/v1/contacts"), 401)["code"] == "expired_api_key"


def test_roles_limit_what_a_key_may_do(anonymous: TestClient, make_key) -> None:
    anonymous.headers["Authorization"] = f"Bearer {make_key('viewer')}"
    assert anonymous.get("/api/v1/contacts").status_code == 200
    refused = anonymous.post("/api/v1/contacts", json={"phone": "+48601234567"})
    assert problem_of(refused, 403)["code"] == "forbidden"
    anonymous.headers["Authorization"] = f"Bearer {make_key('agent')}"
    assert (
        problem_of(anonymous.post("/api/v1/api-keys", json={"name": "x", "role": "viewer"}), 403)[
            "code"
        ]
        == "forbidden"
    )
    anonymous.headers["Authorization"] = f"Bearer {make_key('admin')}"
    refused = anonymous.post("/api/v1/api-keys", json={"name": "x", "role": "owner"})
    assert problem_of(refused, 403)["field"] == "role"
    assert (
        anonymous.post("/api/v1/api-keys", json={"name": "x", "role": "agent"}).status_code == 201
    )


def test_sign_in_gives_a_session_that_signs_out(
    anonymous: TestClient, engine: Engine, workspace: WorkspaceRef
) -> None:
    first = ensure_first_run(
        engine,
        country="PL",
        timezone="Europe/Warsaw",
        admin_email="admin@localhost",
        now=datetime.now(UTC),
    )
    assert first is not None
    wrong = anonymous.post(
        "/api/v1/auth/login", json={"email": "admin@localhost", "password": "nope-nope-nope"}
    )
    assert problem_of(wrong, 401)["code"] == "bad_login"
    unknown = anonymous.post(
        "/api/v1/auth/login", json={"email": "who@localhost", "password": "nope-nope-nope"}
    )
    assert problem_of(unknown, 401)["detail"] == problem_of(wrong, 401)["detail"]
    login = anonymous.post(
        "/api/v1/auth/login",
        json={"email": "ADMIN@localhost", "password": first.admin_password},
    )
    assert login.status_code == 200, login.text
    assert login.json()["role"] == "owner"
    me = anonymous.get("/api/v1/auth/me")  # the cookie is kept by the client
    assert me.json()["kind"] == "user" and me.json()["name"] == "admin@localhost"
    bearer = TestClient(anonymous.app)
    bearer.headers["Authorization"] = f"Bearer {login.json()['token']}"
    assert bearer.get("/api/v1/auth/me").status_code == 200
    assert anonymous.post("/api/v1/auth/logout").status_code == 204
    assert problem_of(bearer.get("/api/v1/auth/me"), 401)["code"] == "unknown_session"


def test_users_are_added_with_roles_and_the_last_owner_stays(
    client: TestClient, engine: Engine, workspace: WorkspaceRef
) -> None:
    weak = client.post(
        "/api/v1/users", json={"email": "ala@shop.example", "role": "agent", "password": "short"}
    )
    assert problem_of(weak, 422)["field"] == "password"
    added = client.post(
        "/api/v1/users",
        json={"email": "ala@shop.example", "role": "agent", "password": "a long passphrase"},
    )
    assert added.status_code == 201, added.text
    user_id = added.json()["id"]
    again = client.post("/api/v1/users", json={"email": "ala@shop.example", "role": "viewer"})
    assert problem_of(again, 409)["code"] == "member_exists"
    promoted = client.patch(f"/api/v1/users/{user_id}", json={"role": "owner"})
    assert promoted.json()["role"] == "owner"
    last = client.patch(f"/api/v1/users/{user_id}", json={"role": "viewer"})
    assert problem_of(last, 422)["code"] == "last_owner"
    bob = client.post(
        "/api/v1/users",
        json={"email": "bob@shop.example", "role": "owner", "password": "another long one"},
    )
    assert bob.status_code == 201
    demoted = client.patch(f"/api/v1/users/{user_id}", json={"role": "viewer"})
    assert demoted.json()["role"] == "viewer"
    assert (
        problem_of(client.patch(f"/api/v1/users/{user_id}", json={"role": "god"}), 422)["field"]
        == "role"
    )
    login = TestClient(client.app).post(
        "/api/v1/auth/login", json={"email": "ala@shop.example", "password": "a long passphrase"}
    )
    assert login.json()["role"] == "viewer"
    assert client.delete(f"/api/v1/users/{user_id}").status_code == 204
    assert problem_of(client.get(f"/api/v1/users/{user_id}"), 404)["code"] == "unknown_user"
