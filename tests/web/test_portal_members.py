"""The members page through the real site on a real database: the list with roles,
inviting by email (the link shown once, mailed when a relay is set), creating an
account with a one-time password, changing roles within what the viewer may grant,
removing, revoking an invitation, and the invitation page `/invite/<token>`."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from portal_site import PASSWORD, Clock, build_site, csrf_of, make_user, sign_in
from sqlalchemy import Engine

from smscast.config import Settings
from smscast.engine.accounts.invitations import list_invitations
from smscast.engine.accounts.users import list_members
from smscast.engine.accounts.workspaces import WorkspaceRef

OWNER = "olga@shop.test"
ADMIN = "ada@shop.test"
NEW = "nina@shop.test"


@pytest.fixture
def clock(now: datetime) -> Clock:
    return Clock(now)


@pytest.fixture
def site(settings: Settings, engine: Engine, clock: Clock) -> TestClient:
    return TestClient(build_site(settings, engine, clock), raise_server_exceptions=True)


@pytest.fixture
def owner(engine: Engine, workspace: WorkspaceRef, now: datetime, site: TestClient) -> TestClient:
    make_user(engine, [workspace], OWNER, name="Olga Owner", now=now)
    sign_in(site, OWNER)
    return site


def post(client: TestClient, path: str, **data: str) -> httpx.Response:
    token = csrf_of(client.get("/settings/members").text)
    answer: httpx.Response = client.post(
        path, data={**data, "csrf_token": token}, follow_redirects=False
    )
    return answer


def members(engine: Engine, workspace: WorkspaceRef) -> dict[str, str]:
    rows = list_members(engine, workspace, after=0, limit=100)
    return {row["email"]: row["role"] for row in rows}


def secret_of(html: str) -> str:
    found = re.search(r'data-testid="secret-value"', html)
    assert found, "no secret on the page"
    value = re.search(r'id="secret-value" type="text" value="([^"]+)"', html)
    assert value
    return value.group(1)


def test_an_invitation_link_is_shown_once_and_lets_the_person_join(
    owner: TestClient, engine: Engine, workspace: WorkspaceRef, settings: Settings, now: datetime
) -> None:
    page = owner.get("/settings/members")
    assert page.status_code == 200
    assert "Olga Owner" in page.text and "No invitation is waiting." in page.text
    invited = post(owner, "/settings/members/invitations", invite_email=" Nina@Shop.test ",
                   invite_role="marketer")  # fmt: skip
    assert invited.status_code == 200, invited.text
    link = secret_of(invited.text)
    assert link.startswith("http://testserver/invite/")
    assert "This server sends no mail" in invited.text
    listed = owner.get("/settings/members").text
    assert re.search(r'data-testid="invitation-row">\s*<td>nina@shop.test</td>', listed)
    assert link.rsplit("/", 1)[1] not in listed  # the link is never shown again

    guest = TestClient(owner.app)
    path = link.removeprefix("http://testserver")
    form = guest.get(path)
    assert form.status_code == 200
    assert "Join" in form.text and "marketer" in form.text
    token = csrf_of(form.text)
    weak = guest.post(path, data={"name": "Nina", "password": "short", "csrf_token": token})
    assert weak.status_code == 422 and "at least 10 characters" in weak.text
    assert 'value="Nina"' in weak.text  # the name typed is kept
    joined = guest.post(path, data={"name": "Nina New", "password": "a long new password",
                                    "csrf_token": token}, follow_redirects=False)  # fmt: skip
    assert joined.status_code == 303 and joined.headers["location"] == "/dashboard"
    assert "Nina New" in guest.get("/dashboard").text  # signed in, in the header
    assert members(engine, workspace)[NEW] == "marketer"
    assert list_invitations(engine, workspace, now=now) == []

    again = TestClient(owner.app).get(path)
    assert again.status_code == 410 and "already used" in again.text


def test_an_existing_account_joins_with_its_own_password(
    owner: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    from smscast.engine.accounts.workspaces import create_workspace

    elsewhere = create_workspace(engine, "Other", "PL", "Europe/Warsaw", actor="t", now=now)
    make_user(engine, [elsewhere], NEW, name="Nina", now=now)
    link = secret_of(post(owner, "/settings/members/invitations", invite_email=NEW,
                          invite_role="agent").text)  # fmt: skip
    guest = TestClient(owner.app)
    path = link.removeprefix("http://testserver")
    form = guest.get(path)
    assert "You already have an account" in form.text and 'name="name"' not in form.text
    wrong = guest.post(
        path, data={"password": "not the password", "csrf_token": csrf_of(form.text)}
    )
    assert wrong.status_code == 422 and "The password is wrong." in wrong.text
    joined = guest.post(path, data={"password": PASSWORD, "csrf_token": csrf_of(form.text)},
                        follow_redirects=False)  # fmt: skip
    assert joined.status_code == 303
    assert members(engine, workspace)[NEW] == "agent"


def test_revoked_expired_and_unknown_links_say_so(
    owner: TestClient, engine: Engine, workspace: WorkspaceRef, clock: Clock
) -> None:
    first = secret_of(post(owner, "/settings/members/invitations", invite_email="a@shop.test",
                           invite_role="agent").text)  # fmt: skip
    second = secret_of(post(owner, "/settings/members/invitations", invite_email="b@shop.test",
                            invite_role="viewer").text)  # fmt: skip
    listed = owner.get("/settings/members").text
    ids = re.findall(r"/settings/members/invitations/(\d+)/revoke", listed)
    assert len(ids) == 2
    revoked = post(owner, f"/settings/members/invitations/{ids[-1]}/revoke")
    assert revoked.status_code == 303
    assert "its link no longer works" in owner.get(revoked.headers["location"]).text
    guest = TestClient(owner.app)
    answer = guest.get(first.removeprefix("http://testserver"))
    assert answer.status_code == 410 and "revoked" in answer.text
    clock.now += timedelta(days=8)
    expired = guest.get(second.removeprefix("http://testserver"))
    assert expired.status_code == 410 and "expired" in expired.text
    unknown = guest.get("/invite/not-a-token")
    assert unknown.status_code == 404 and "not valid" in unknown.text


def test_an_account_with_a_one_time_password_is_created_and_signs_in(
    owner: TestClient, engine: Engine, workspace: WorkspaceRef
) -> None:
    missing = post(owner, "/settings/members", create_email="nope", create_name="",
                   create_role="agent")  # fmt: skip
    assert missing.status_code == 422
    assert "Enter an email address" in missing.text and "Enter the person" in missing.text
    assert 'value="nope"' in missing.text
    created = post(owner, "/settings/members", create_email=NEW, create_name="Nina",
                   create_role="agent")  # fmt: skip
    assert created.status_code == 200
    password = secret_of(created.text)
    assert members(engine, workspace)[NEW] == "agent"
    guest = TestClient(owner.app)
    assert sign_in(guest, NEW, password) == "/dashboard"
    # Someone else saw that password: every page leads to choosing one's own first.
    held = guest.get("/dashboard", follow_redirects=False)
    assert (held.status_code, held.headers["location"]) == (
        303, "/profile?done=one-time#password-title")  # fmt: skip
    assert guest.get("/inbox", follow_redirects=False).status_code == 303
    profile = guest.get(held.headers["location"])
    assert "You signed in with a one-time password" in profile.text
    changed = guest.post("/profile/password", follow_redirects=False, data={
        "current_password": password, "new_password": "Nina's own passphrase",
        "csrf_token": csrf_of(profile.text)})  # fmt: skip
    assert changed.status_code == 303, changed.text
    assert guest.get("/dashboard", follow_redirects=False).status_code == 200
    taken = post(owner, "/settings/members", create_email=NEW, create_name="Nina",
                 create_role="agent")  # fmt: skip
    assert taken.status_code == 422 and "already a member" in taken.text


def test_roles_change_within_what_the_viewer_may_grant_and_members_are_removed(
    site: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    make_user(engine, [workspace], OWNER, now=now)
    make_user(engine, [workspace], ADMIN, role="admin", now=now)
    agent_id = make_user(engine, [workspace], NEW, role="agent", now=now)
    sign_in(site, ADMIN)
    page = site.get("/settings/members").text
    assert '<option value="owner"' not in page  # an admin makes no owners
    changed = post(site, f"/settings/members/{agent_id}/role", role="marketer")
    assert changed.status_code == 303
    assert members(engine, workspace)[NEW] == "marketer"
    forged = post(site, f"/settings/members/{agent_id}/role", role="owner")
    assert forged.status_code == 422 and "above your own" in forged.text
    refused = post(site, "/settings/members/invitations", invite_email="x@shop.test",
                   invite_role="owner")  # fmt: skip
    assert refused.status_code == 422 and "above your own" in refused.text
    confirm = site.get(f"/settings/members/{agent_id}/remove")
    assert confirm.status_code == 200 and NEW in confirm.text
    removed = post(site, f"/settings/members/{agent_id}/remove")
    assert removed.status_code == 303
    assert NEW not in members(engine, workspace)
    assert site.get(f"/settings/members/{agent_id}/remove").status_code == 404


def test_the_last_owner_stays_and_an_agent_cannot_open_the_page(
    owner: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    owner_id = next(
        row["id"] for row in list_members(engine, workspace, after=0, limit=10)
        if row["email"] == OWNER
    )  # fmt: skip
    kept = post(owner, f"/settings/members/{owner_id}/remove")
    assert kept.status_code == 422 and "at least one owner" in kept.text
    make_user(engine, [workspace], NEW, role="agent", now=now)
    agent = TestClient(owner.app)
    sign_in(agent, NEW)
    assert agent.get("/settings/members").status_code == 403
