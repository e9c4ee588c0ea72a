"""Every route × every caller, against the one permission table in `core/roles.py`.

The routes are read from the app itself, so a route added later is walked too: one
that declares no permission (and is not listed as public, with the reason) fails here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from smscast.api.app import create_app
from smscast.api.deps import PUBLIC_ROUTES, api_routes, route_permissions
from smscast.config import Settings
from smscast.core.roles import PERMISSIONS, Permission, Role, allows
from smscast.engine.accounts.api_keys import create_api_key, revoke_api_key
from smscast.engine.accounts.auth import Caller
from smscast.engine.accounts.workspaces import WorkspaceRef, create_workspace

KeyMaker = Callable[..., str]  # the `make_key` and `make_session` fixtures of conftest.py
SessionMaker = Callable[..., str]

WORKSPACE_ROLES = [Role.OWNER, Role.ADMIN, Role.MARKETER, Role.AGENT, Role.VIEWER]
UNAUTHENTICATED = ["anonymous", "revoked key", "expired key", "expired session"]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    permission: Permission
    has_body: bool

    def url(self, ids: dict[str, str]) -> str:
        return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: ids.get(m.group(1), "1"), self.path)

    @property
    def names_an_object(self) -> bool:
        return "{" in self.path


@pytest.fixture
def walked_app(api_settings: Settings, engine: Engine) -> FastAPI:
    # No rate limit: one key makes a request per route.
    return create_app(api_settings.model_copy(update={"api_rate_limit": 0}), engine)


def checked_routes(app: FastAPI) -> list[Route]:
    table = route_permissions(app)
    bodies = {
        (method, route.path): route.body_field is not None
        for route in api_routes(app)
        for method in route.methods or ()
    }
    return [
        Route(method, path, permission, bodies[(method, path)])
        for (method, path), permission in sorted(table.items())
        if permission is not None
    ]


def test_every_route_names_exactly_one_permission_or_is_public_with_a_reason(
    walked_app: FastAPI,
) -> None:
    table = route_permissions(walked_app)
    undeclared = sorted(
        f"{method} {path}"
        for (method, path), permission in table.items()
        if permission is None and (method, path) not in PUBLIC_ROUTES
    )
    assert not undeclared, f"routes without a permission: {undeclared}"
    stale = sorted(f"{m} {p}" for m, p in PUBLIC_ROUTES if (m, p) not in table)
    assert not stale, f"PUBLIC_ROUTES lists routes that do not exist: {stale}"
    guarded_public = sorted(f"{m} {p}" for (m, p) in PUBLIC_ROUTES if table.get((m, p)))
    assert not guarded_public, f"public routes that declare a permission: {guarded_public}"
    assert len(checked_routes(walked_app)) > 60


def test_every_permission_is_used_by_a_route_and_held_as_the_table_says(
    walked_app: FastAPI,
) -> None:
    used = {route.permission for route in checked_routes(walked_app)}
    assert used - {Permission.OWNERSHIP} == set(Permission) - {Permission.OWNERSHIP}
    assert not any(Permission.WORKSPACES_CREATE in held for held in PERMISSIONS.values())
    assert allows("agent", Permission.CONSENT_OPT_OUT)
    assert not allows("agent", Permission.CONSENT_OPT_IN)
    assert allows("marketer", Permission.CONSENT_OPT_IN)


@pytest.fixture
def seeded_ids(walked_app: FastAPI, make_key: KeyMaker) -> dict[str, str]:
    """Objects of the walked workspace, so that ids in paths name something that exists."""
    owner = TestClient(walked_app, raise_server_exceptions=False)
    owner.headers["Authorization"] = f"Bearer {make_key('owner')}"
    made: dict[str, str] = {}
    for name, path, body in (
        ("contact_id", "/api/v1/contacts", {"phone": "+48601234567"}),
        ("key_id", "/api/v1/api-keys", {"name": "walked", "role": "viewer"}),
        (
            "user_id",
            "/api/v1/users",
            {"email": "walked@shop.test", "role": "viewer", "password": "long enough pass"},
        ),
        ("number_id", "/api/v1/numbers", {"number": "+48500100200"}),
        (
            "rule_id",
            "/api/v1/keyword-rules",
            {
                "keyword": "PROMO",
                "number": "+48500100200",
                "actions": [{"type": "reply", "text": "Hi"}],
            },
        ),
        ("name", "/api/v1/segments", {"name": "vip", "expression": 'tags contains "vip"'}),
        (
            "campaign_id",
            "/api/v1/campaigns",
            {"name": "Walk", "body": "Hi", "segment": 'tags contains "vip"'},
        ),
        ("message_id", "/api/v1/messages", {"to": "+48601234567", "body": "Shipped"}),
    ):
        answer = owner.post(path, json=body)
        assert answer.status_code in (201, 202), (path, answer.text)
        made[name] = str(answer.json()["name" if name == "name" else "id"])
    return made


def test_every_route_answers_every_caller_as_the_table_says(
    walked_app: FastAPI,
    engine: Engine,
    workspace: WorkspaceRef,
    make_key: KeyMaker,
    make_session: SessionMaker,
    seeded_ids: dict[str, str],
    now,
) -> None:
    """Allowed: neither 401 nor 403. Refused: 403. No valid credential: 401.

    Another workspace's owner naming an object of this one gets 404, as if it did not
    exist. Bodies are empty: the walk asks who may, not whether the input is good, and
    the permission is checked before the body is.
    """
    routes = checked_routes(walked_app)
    other = create_workspace(engine, "Other shop", "PL", "Europe/Warsaw", actor="t", now=now)
    revoked = create_api_key(
        engine, workspace, "revoked", "owner", expires_at=None, actor="t", now=now
    )
    revoke_api_key(
        engine,
        workspace,
        revoked.key["id"],
        caller=Caller("key", 0, workspace, "owner", "test"),
        now=now,
    )
    expired = create_api_key(
        engine,
        workspace,
        "expired",
        "owner",
        expires_at=now - timedelta(days=1),
        actor="t",
        now=now - timedelta(days=2),
    )
    callers: dict[str, str | None] = {
        "another workspace's owner": make_key("owner", in_workspace=other),
        **{role.value: make_key(role.value) for role in reversed(WORKSPACE_ROLES)},
        "anonymous": None,
        "revoked key": revoked.token,
        "expired key": expired.token,
        "expired session": make_session("owner", expired=True),
    }
    wrong: list[str] = []
    for who, token in callers.items():
        client = TestClient(walked_app, raise_server_exceptions=False)
        if token is not None:
            client.headers["Authorization"] = f"Bearer {token}"
        for route in routes:
            body = {"json": {}} if route.has_body else {}
            answer = client.request(route.method, route.url(seeded_ids), **body)  # type: ignore[arg-type]
            status = answer.status_code
            if who in UNAUTHENTICATED:
                expected = "401"
                ok = status == 401
            elif who == "another workspace's owner":
                allowed = allows("owner", route.permission)
                if not allowed:
                    expected, ok = "403", status == 403
                elif route.names_an_object:
                    expected = "404 (422 for a body the route refuses first)"
                    ok = status == 404 or (status == 422 and route.has_body)
                else:
                    expected, ok = "not 401/403", status not in (401, 403)
            elif allows(who, route.permission):
                expected, ok = "not 401/403", status not in (401, 403)
            else:
                expected, ok = "403", status == 403
            if status >= 500 or not ok:
                wrong.append(
                    f"{who:>26}  {route.method} {route.path} [{route.permission}]: "
                    f"{status} (expected {expected}) {answer.text[:160]}"
                )
    assert not wrong, "\n".join(wrong)


def test_a_session_user_who_is_no_instance_administrator_cannot_create_a_workspace(
    walked_app: FastAPI, make_session: SessionMaker
) -> None:
    body = {"name": "Shop DE", "country": "DE", "timezone": "Europe/Berlin"}
    for role in WORKSPACE_ROLES:
        client = TestClient(walked_app, raise_server_exceptions=False)
        client.headers["Authorization"] = f"Bearer {make_session(role.value)}"
        refused = client.post("/api/v1/workspaces", json=body)
        assert refused.status_code == 403, (role, refused.text)
        assert refused.json()["code"] == "forbidden"
        assert "instance administrators" in refused.json()["detail"]
        assert client.get("/api/v1/auth/me").json()["instance_admin"] is False
    admin = TestClient(walked_app, raise_server_exceptions=False)
    admin.headers["Authorization"] = f"Bearer {make_session('viewer', instance_admin=True)}"
    assert admin.get("/api/v1/auth/me").json()["instance_admin"] is True
    made = admin.post("/api/v1/workspaces", json=body)
    assert made.status_code == 201, made.text
    assert made.json()["role"] == "owner"


def test_an_agent_records_an_opt_out_but_not_an_opt_in(
    walked_app: FastAPI, make_key: KeyMaker
) -> None:
    marketer = TestClient(walked_app, raise_server_exceptions=False)
    marketer.headers["Authorization"] = f"Bearer {make_key('marketer')}"
    started = marketer.post(
        "/api/v1/consent/opt-in", json={"phone": "+48601234567", "evidence": "form v3"}
    )
    assert started.status_code == 200, started.text
    agent = TestClient(walked_app, raise_server_exceptions=False)
    agent.headers["Authorization"] = f"Bearer {make_key('agent')}"
    refused = agent.post(
        "/api/v1/consent/opt-in", json={"phone": "+48601234567", "evidence": "said so on a call"}
    )
    assert refused.status_code == 403, refused.text
    assert "consent.opt_in" in refused.json()["detail"]
    stopped = agent.post("/api/v1/consent/opt-out", json={"phone": "+48601234567"})
    assert stopped.status_code == 200, stopped.text
    assert {s["status"] for s in stopped.json()["state"]} == {"opted_out"}


def test_readme_states_the_table_as_it_is() -> None:
    """README's "Roles and permissions" table is the one the API enforces, row by row."""
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    rows = {
        match.group(1): [cell.strip() for cell in match.group(2).split("|")]
        for match in re.finditer(r"^\| `([a-z._]+)` \| [^|]+ \|(.+)\|$", readme, re.MULTILINE)
    }
    for permission in Permission:
        assert permission.value in rows, f"README's roles table has no row for {permission}"
        cells = zip(WORKSPACE_ROLES, rows[permission.value], strict=True)
        marks = [role.value for role, cell in cells if cell]
        held = [role.value for role in WORKSPACE_ROLES if permission in PERMISSIONS[role]]
        assert marks == held, f"README says {permission} is for {marks}; the table: {held}"
