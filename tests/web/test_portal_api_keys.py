"""The API keys page through the real site on a real database: the list, a new key's
token shown once and working against the API, roles no higher than one's own, an
expiry day, revoking, and who may open the page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from portal_site import Clock, build_site, csrf_of, make_user, sign_in
from sqlalchemy import Engine

from smscast.config import Settings
from smscast.engine.accounts.api_keys import create_api_key, list_api_keys
from smscast.engine.accounts.workspaces import WorkspaceRef

OWNER = "olga@shop.test"
ADMIN = "adam@shop.test"
MARKETER = "marta@shop.test"


@pytest.fixture
def clock(now: datetime) -> Clock:
    return Clock(now)


@pytest.fixture
def app(settings: Settings, engine: Engine, clock: Clock) -> FastAPI:
    return build_site(settings, engine, clock)


@pytest.fixture
def site(app: FastAPI) -> TestClient:
    return TestClient(app, raise_server_exceptions=True)


def signed_in(site: TestClient, engine: Engine, workspace: WorkspaceRef, email: str, role: str,
              now: datetime) -> TestClient:  # fmt: skip
    make_user(engine, [workspace], email, role=role, now=now)
    sign_in(site, email)
    return site


def post_form(client: TestClient, path: str, form_page: str, **data: str) -> httpx.Response:
    token = csrf_of(client.get(form_page).text)
    answer: httpx.Response = client.post(
        path, data={**data, "csrf_token": token}, follow_redirects=False
    )
    return answer


def text_of(fragment: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", fragment).split())


def key_rows(html: str) -> list[str]:
    return [text_of(row) for row in re.findall(r'<tr data-testid="key-row".*?</tr>', html, re.S)]


def shown_token(html: str) -> str:
    found = re.search(r'data-testid="secret-value">', html) and re.search(
        r'value="(smc_[^"]+)"', html
    )
    assert found, "the page shows no token"
    return found.group(1)


def test_a_key_is_created_shown_once_works_and_stops_after_revoking(
    app: FastAPI, site: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    owner = signed_in(site, engine, workspace, OWNER, "owner", now)
    assert "This workspace has no API keys yet." in owner.get("/settings/api-keys").text

    made = post_form(owner, "/settings/api-keys", "/settings/api-keys",
                     name="Shop backend", role="marketer", expires_on="")  # fmt: skip
    assert made.status_code == 201
    token = shown_token(made.text)
    assert "It does not expire." in made.text
    assert 'data-copy="secret-value"' in made.text  # the copy button

    listed = owner.get("/settings/api-keys").text
    assert token not in listed  # never again
    [row] = key_rows(listed)
    prefix = token.split("_")[1]
    assert "Shop backend" in row and "marketer" in row and prefix in row and "active" in row
    assert "never" in row  # not used yet, no expiry

    api = TestClient(app)  # no portal cookies: the key alone
    assert api.get("/api/v1/contacts", headers={"Authorization": f"Bearer {token}"}).status_code \
        == 200  # fmt: skip

    [key] = list_api_keys(engine, workspace, after=0, limit=10)
    confirm = owner.get(f"/settings/api-keys/{key['id']}/revoke")
    assert "Revoke the API key “Shop backend”?" in confirm.text
    revoked = post_form(owner, f"/settings/api-keys/{key['id']}/revoke",
                        f"/settings/api-keys/{key['id']}/revoke")  # fmt: skip
    assert revoked.status_code == 303
    after = owner.get(revoked.headers["location"]).text
    assert "The key “Shop backend” is revoked" in after
    assert "revoked" in key_rows(after)[0]
    assert f"/settings/api-keys/{key['id']}/revoke" not in after  # nothing left to revoke
    assert api.get("/api/v1/contacts", headers={"Authorization": f"Bearer {token}"}).status_code \
        == 401  # fmt: skip


def test_nobody_gives_a_key_more_than_they_hold(
    site: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    admin = signed_in(site, engine, workspace, ADMIN, "admin", now)
    form = admin.get("/settings/api-keys").text
    assert '<option value="admin"' in form and '<option value="owner"' not in form

    refused = post_form(admin, "/settings/api-keys", "/settings/api-keys",
                        name="Too strong", role="owner", expires_on="")  # fmt: skip
    assert refused.status_code == 422
    assert 'id="role-error"' in refused.text
    assert "Choose one of the roles you may give." in refused.text
    assert 'value="Too strong"' in refused.text  # what was typed is kept
    assert list_api_keys(engine, workspace, after=0, limit=10) == []


def test_a_bad_name_or_a_past_day_is_refused_beside_its_field(
    site: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    owner = signed_in(site, engine, workspace, OWNER, "owner", now)
    refused = post_form(owner, "/settings/api-keys", "/settings/api-keys",
                        name="  ", role="viewer", expires_on="2026-11-24")  # fmt: skip
    assert refused.status_code == 422
    assert 'id="name-error"' in refused.text and 'id="expires_on-error"' in refused.text
    assert "The last day has passed" in refused.text
    garbled = post_form(owner, "/settings/api-keys", "/settings/api-keys",
                        name="Nightly export", role="viewer", expires_on="31.01.2027")  # fmt: skip
    assert "Enter the last day as a date" in garbled.text
    assert list_api_keys(engine, workspace, after=0, limit=10) == []


def test_the_last_day_is_a_whole_day_in_the_workspaces_time_zone(
    site: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    owner = signed_in(site, engine, workspace, OWNER, "owner", now)
    made = post_form(owner, "/settings/api-keys", "/settings/api-keys",
                     name="Today only", role="viewer", expires_on="2026-11-25")  # fmt: skip
    assert made.status_code == 201
    [key] = list_api_keys(engine, workspace, after=0, limit=10)
    # Warsaw is UTC+1 in November: the day ends at 23:00 UTC.
    assert key["expires_at"] == datetime(2026, 11, 25, 23, 0, tzinfo=UTC)
    assert "It works until" in made.text


def test_expired_keys_read_as_expired(
    clock: Clock, site: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    create_api_key(engine, workspace, "Old import", "viewer",
                   expires_at=now + timedelta(hours=1), actor="test",
                   now=now - timedelta(days=30))  # fmt: skip
    owner = signed_in(site, engine, workspace, OWNER, "owner", now)
    assert "active" in key_rows(owner.get("/settings/api-keys").text)[0]
    clock.now = now + timedelta(hours=2)
    assert "expired" in key_rows(owner.get("/settings/api-keys").text)[0]


def test_a_marketer_may_not_open_or_use_the_page(
    site: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    marketer = signed_in(site, engine, workspace, MARKETER, "marketer", now)
    assert marketer.get("/settings/api-keys").status_code == 403
    refused = marketer.post("/settings/api-keys", data={
        "name": "x", "role": "viewer", "csrf_token": csrf_of(marketer.get("/dashboard").text),
    })  # fmt: skip
    assert refused.status_code == 403
    assert list_api_keys(engine, workspace, after=0, limit=10) == []


def test_an_unknown_key_is_a_404_page(
    site: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    owner = signed_in(site, engine, workspace, OWNER, "owner", now)
    assert owner.get("/settings/api-keys/999/revoke").status_code == 404
