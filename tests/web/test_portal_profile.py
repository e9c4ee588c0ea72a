"""The profile page through the real site on a real database: the name, the portal's
language kept with the account, the password change (the current one asked again,
other sessions ended), and signing out here or everywhere."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest
from fastapi.testclient import TestClient
from portal_site import PASSWORD, Clock, build_site, csrf_of, make_user, sign_in
from sqlalchemy import Engine

from smscast.config import Settings
from smscast.engine.accounts.workspaces import WorkspaceRef

AGENT = "adam@shop.test"
NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def site(settings: Settings, engine: Engine, now: datetime) -> TestClient:
    return TestClient(build_site(settings, engine, Clock(now)), raise_server_exceptions=True)


@pytest.fixture
def agent(engine: Engine, workspace: WorkspaceRef, now: datetime, site: TestClient) -> TestClient:
    make_user(engine, [workspace], AGENT, role="agent", name="Adam", now=now)
    sign_in(site, AGENT)
    return site


def post(client: TestClient, path: str, **data: str) -> httpx.Response:
    token = csrf_of(client.get("/profile").text)
    answer: httpx.Response = client.post(
        path, data={**data, "csrf_token": token}, follow_redirects=False
    )
    return answer


def test_any_member_changes_their_name_and_language(agent: TestClient) -> None:
    page = agent.get("/profile")
    assert page.status_code == 200
    assert 'href="/profile"' in agent.get("/dashboard").text  # the user menu links here
    empty = post(agent, "/profile/name", name="  ")
    assert empty.status_code == 422 and "Enter your name." in empty.text
    renamed = post(agent, "/profile/name", name="Adam Agent")
    assert renamed.status_code == 303
    assert "Adam Agent" in agent.get("/profile?done=name").text
    spoken = post(agent, "/profile/language", language="pl")
    assert spoken.status_code == 303
    polish = agent.get("/profile?done=language", headers={"Accept-Language": "en"})
    assert 'lang="pl"' in polish.text and "Twój profil" in polish.text
    assert post(agent, "/profile/language", language="xx").status_code == 422


def test_the_password_changes_with_the_current_one_and_ends_other_sessions(
    agent: TestClient, site: TestClient
) -> None:
    other = TestClient(agent.app)
    sign_in(other, AGENT)
    assert other.get("/profile").status_code == 200
    wrong = post(agent, "/profile/password", current_password="nope nope nope",
                 new_password=NEW_PASSWORD)  # fmt: skip
    assert wrong.status_code == 422 and "The current password is wrong." in wrong.text
    weak = post(agent, "/profile/password", current_password=PASSWORD, new_password="short")
    assert weak.status_code == 422 and "at least 10 characters" in weak.text
    changed = post(agent, "/profile/password", current_password=PASSWORD,
                   new_password=NEW_PASSWORD)  # fmt: skip
    assert changed.status_code == 303
    assert "Your password is changed." in agent.get(changed.headers["location"]).text
    assert other.get("/profile", follow_redirects=False).status_code == 303  # signed out
    again = TestClient(agent.app)
    assert sign_in(again, AGENT, NEW_PASSWORD) == "/dashboard"


def test_sign_out_everywhere_ends_every_session(agent: TestClient) -> None:
    other = TestClient(agent.app)
    sign_in(other, AGENT)
    ended = post(agent, "/profile/sign-out-everywhere")
    assert ended.status_code == 303 and ended.headers["location"] == "/login"
    for client in (agent, other):
        answer = client.get("/profile", follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


def test_signed_out_the_profile_asks_to_sign_in(site: TestClient) -> None:
    answer = site.get("/profile", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login?next=/profile"
