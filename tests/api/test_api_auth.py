"""Who may call: keys and sessions, their expiry and revocation, and what each role may do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from api_checks import problem_of
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from smscast.config import Settings
from smscast.engine.accounts.auth import AuthError, Caller, resolve_session, user_sessions
from smscast.engine.accounts.users import add_member, sign_in
from smscast.engine.accounts.workspaces import WorkspaceRef, create_workspace, ensure_first_run
from smscast.store.models import AuditEvent, SignInThrottle, table_of

throttles = table_of(SignInThrottle)
audit = table_of(AuditEvent)


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


def _first_admin(engine: Engine) -> tuple[str, str]:
    first = ensure_first_run(
        engine, country="PL", timezone="Europe/Warsaw", admin_email="admin@localhost",
        now=datetime.now(UTC),
    )  # fmt: skip
    assert first is not None
    return first.admin_email, first.admin_password


def _session(app: object, email: str, password: str, workspace_id: int | None = None) -> TestClient:
    """A client signed in with a bearer session token (its own, no shared cookie jar)."""
    client = TestClient(app, raise_server_exceptions=False)  # type: ignore[arg-type]
    answer = client.post(
        "/api/v1/auth/login",
        json={"email": email, "password": password, "workspace_id": workspace_id},
    )
    assert answer.status_code == 200, answer.text
    client.cookies.clear()
    client.headers["Authorization"] = f"Bearer {answer.json()['token']}"
    return client


def _change(client: TestClient, current: str, new: str) -> httpx.Response:
    body = {"current_password": current, "new_password": new}
    return client.post("/api/v1/auth/password", json=body)


def test_a_session_expires_after_session_hours(
    engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    email, password = _first_admin(engine)
    hours = Settings(session_hours=2).session_hours
    opened = sign_in(engine, email, password, workspace_id=None,
                     lifetime=timedelta(hours=hours), now=now)  # fmt: skip
    assert opened.expires_at == now + timedelta(hours=2)
    almost = now + timedelta(hours=2) - timedelta(seconds=1)
    assert resolve_session(engine, opened.token, almost).name == email
    try:
        resolve_session(engine, opened.token, now + timedelta(hours=2))
    except AuthError as error:
        assert error.problem.code == "expired_session"
    else:
        raise AssertionError("an expired session was accepted")


def test_changing_the_password_ends_every_other_session_everywhere(
    anonymous: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    email, password = _first_admin(engine)
    outlet = create_workspace(engine, "Outlet", "PL", "Europe/Warsaw", actor="test", now=now)
    add_member(engine, outlet, email, "admin", name="Admin", password=None,
               caller=Caller("key", 0, outlet, "owner", "test"), now=now)  # fmt: skip
    here = _session(anonymous.app, email, password)
    laptop = _session(anonymous.app, email, password)
    in_outlet = _session(anonymous.app, email, password, outlet.id)
    wrong = _change(here, "not it at all", "x1" * 6)
    assert problem_of(wrong, 422)["field"] == "current_password"
    with engine.connect() as conn:
        failures = conn.execute(
            select(throttles.c.failures).where(throttles.c.key == f"account:{email}")
        ).scalar()
    assert failures == 1  # a wrong current password counts as a failed sign-in
    weak = _change(here, password, "aaaaaaaaaaaa")
    body = problem_of(weak, 422)
    assert body["field"] == "new_password" and "at least 10 characters" in body["detail"]
    changed = _change(here, password, "a new long one")
    assert changed.status_code == 200, changed.text
    assert changed.json()["sessions_ended"] == 2
    assert here.get("/api/v1/auth/me").status_code == 200  # the session that changed it stays
    for ended in (laptop, in_outlet):
        assert problem_of(ended.get("/api/v1/auth/me"), 401)["code"] == "unknown_session"
    old = anonymous.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert problem_of(old, 401)["code"] == "bad_login"
    again = _session(anonymous.app, email, "a new long one")
    assert again.get("/api/v1/auth/me").status_code == 200
    with engine.connect() as conn:
        actions = conn.execute(select(audit.c.workspace_id, audit.c.details)
                               .where(audit.c.action == "password.changed")).all()  # fmt: skip
    assert sorted(row.workspace_id for row in actions) == sorted([workspace.id, outlet.id])
    assert all(password not in str(row.details) for row in actions)


def test_an_api_key_cannot_change_a_password(client: TestClient) -> None:
    refused = _change(client, "whatever it is", "a new long one")
    assert problem_of(refused, 403)["code"] == "user_only"


def test_removal_from_a_workspace_ends_the_sessions_there_only(
    anonymous: TestClient, client: TestClient, engine: Engine, workspace: WorkspaceRef,
    now: datetime,
) -> None:  # fmt: skip
    outlet = create_workspace(engine, "Outlet", "PL", "Europe/Warsaw", actor="test", now=now)
    owner = Caller("key", 0, outlet, "owner", "test")
    added = client.post("/api/v1/users", json={"email": "ala@shop.example", "role": "agent",
                                               "password": "a long passphrase"})  # fmt: skip
    assert added.status_code == 201, added.text
    add_member(engine, outlet, "ala@shop.example", "viewer", name="Ala", password=None,
               caller=owner, now=now)  # fmt: skip
    in_shop = _session(anonymous.app, "ala@shop.example", "a long passphrase", workspace.id)
    in_outlet = _session(anonymous.app, "ala@shop.example", "a long passphrase", outlet.id)
    assert in_shop.get("/api/v1/contacts").status_code == 200
    assert client.delete(f"/api/v1/users/{added.json()['id']}").status_code == 204
    assert problem_of(in_shop.get("/api/v1/contacts"), 401)["code"] == "unknown_session"
    assert in_outlet.get("/api/v1/contacts").status_code == 200
    with engine.connect() as conn:
        where = user_sessions.c.workspace_id
        left = conn.execute(select(where, func.count()).group_by(where)).all()
    assert [tuple(row) for row in left] == [(outlet.id, 1)]
