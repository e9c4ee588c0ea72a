"""Signing in to the portal, its session cookie, CSRF, security headers and permissions,
through the real site (API and portal on one app) on a real database."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse
from fastapi.testclient import TestClient
from portal_site import PASSWORD, Clock, build_site, csrf_of, make_user, sign_in
from sqlalchemy import Engine

from smscast.config import Settings
from smscast.core.errors import UserError
from smscast.core.roles import Permission
from smscast.engine.accounts.auth import Caller
from smscast.engine.accounts.portal_preferences import Profile
from smscast.engine.accounts.workspaces import WorkspaceRef, create_workspace
from smscast.web.auth import Page, Viewer, page_for

EMAIL = "ola@shop.test"


def probe_pages() -> APIRouter:
    """Two pages as a page module would write them: one any member reads, one that
    needs the right to launch campaigns."""
    router = APIRouter()

    @router.get("/probe")
    def probe(page: Page = Depends(page_for(Permission.READ))) -> PlainTextResponse:
        return PlainTextResponse(f"probe for {page.caller.name} in {page.workspace.name}")

    @router.get("/probe/launch")
    def launch(page: Page = Depends(page_for(Permission.CAMPAIGNS_WRITE))) -> PlainTextResponse:
        return PlainTextResponse("launch")

    @router.get("/probe/number/{number}")
    def number(number: int, page: Page = Depends(page_for(Permission.READ))) -> PlainTextResponse:
        return PlainTextResponse(str(number))

    @router.get("/probe/refused")
    def refused(page: Page = Depends(page_for(Permission.READ))) -> PlainTextResponse:
        raise UserError.of("bad_setting", "part_price must be a number ≥ 0", field="part_price")

    @router.get("/probe/crash")
    def crash(page: Page = Depends(page_for(Permission.READ))) -> PlainTextResponse:
        raise RuntimeError("a bug")

    return router


@pytest.fixture
def clock(now: datetime) -> Clock:
    return Clock(now)


@pytest.fixture
def site(settings: Settings, engine: Engine, clock: Clock) -> TestClient:
    app = build_site(settings, engine, clock)
    app.include_router(probe_pages())
    return TestClient(app, raise_server_exceptions=True)


@pytest.fixture
def owner(engine: Engine, workspace: WorkspaceRef, now: datetime) -> int:
    return make_user(engine, [workspace], EMAIL, name="Ola", now=now)


def test_signed_out_page_goes_to_sign_in_and_back(site: TestClient, owner: int) -> None:
    answer = site.get("/probe?range=7d", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/probe%3Frange%3D7d"

    login = site.get(answer.headers["location"])
    assert login.status_code == 200  # the API's unknown-query check leaves ?next= alone
    assert 'name="next" value="/probe?range=7d"' in login.text

    assert sign_in(site, EMAIL, next_="/probe?range=7d") == "/probe?range=7d"
    assert site.get("/probe").text == f"probe for {EMAIL} in Shop"


def test_root_goes_to_the_dashboard(site: TestClient) -> None:
    answer = site.get("/", follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, "/dashboard")


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:x"]
)
def test_sign_in_never_sends_to_another_site(site: TestClient, owner: int, target: str) -> None:
    assert sign_in(site, EMAIL, next_=target) == "/dashboard"


def test_wrong_password_keeps_the_email_and_says_so(site: TestClient, owner: int) -> None:
    page = site.get("/login")
    answer = site.post(
        "/login",
        data={"email": EMAIL, "password": "not it", "csrf_token": csrf_of(page.text)},
    )
    assert answer.status_code == 422
    assert "Wrong email or password." in answer.text
    assert f'value="{EMAIL}"' in answer.text
    assert 'href="#email"' in answer.text  # the error summary links to the field
    assert "smscast_session" not in site.cookies


def test_an_empty_form_names_both_fields(site: TestClient) -> None:
    page = site.get("/login")
    answer = site.post("/login", data={"csrf_token": csrf_of(page.text)})
    assert answer.status_code == 422
    assert "Enter your email address." in answer.text
    assert "Enter your password." in answer.text


def test_throttled_sign_in_is_a_message_on_the_form(site: TestClient, owner: int) -> None:
    token = csrf_of(site.get("/login").text)
    for _ in range(5):
        wrong = {"email": EMAIL, "password": "guess", "csrf_token": token}
        assert site.post("/login", data=wrong).status_code == 422
    answer = site.post("/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 429
    assert answer.headers["retry-after"] == "1"
    assert "Too many failed sign-ins. Wait 1 seconds and try again." in answer.text
    assert f'value="{EMAIL}"' in answer.text


def test_locked_account_says_until_when(site: TestClient, owner: int, clock: Clock) -> None:
    token = csrf_of(site.get("/login").text)
    for _ in range(10):
        site.post("/login", data={"email": EMAIL, "password": "guess", "csrf_token": token})
        clock.now += timedelta(minutes=6)  # past each delay, within the hour that counts
    answer = site.post("/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 423
    assert "This account is locked after too many failed sign-ins" in answer.text


def _session_cookie(answer_headers: list[str]) -> str:
    return next(h for h in answer_headers if h.startswith("smscast_session="))


def test_session_cookie_flags(site: TestClient, owner: int) -> None:
    token = csrf_of(site.get("/login").text)
    answer = site.post(
        "/login",
        data={"email": EMAIL, "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    cookie = _session_cookie(answer.headers.get_list("set-cookie"))
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http (the development server)


def test_session_cookie_is_secure_over_https(
    settings: Settings, engine: Engine, clock: Clock, owner: int
) -> None:
    site = TestClient(build_site(settings, engine, clock), base_url="https://portal.test")
    token = csrf_of(site.get("/login").text)
    answer = site.post(
        "/login",
        data={"email": EMAIL, "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert "Secure" in _session_cookie(answer.headers.get_list("set-cookie"))


def test_post_without_csrf_token_is_refused(site: TestClient, owner: int) -> None:
    sign_in(site, EMAIL)
    refused = site.post("/logout", follow_redirects=False)
    assert refused.status_code == 403
    assert "did not come from this site" in refused.text
    assert site.get("/probe").status_code == 200  # still signed in

    forged = site.post("/logout", data={"csrf_token": "0" * 64}, follow_redirects=False)
    assert forged.status_code == 403

    token = csrf_of(site.get("/nowhere").text)  # any page of the portal, signed in
    done = site.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert (done.status_code, done.headers["location"]) == (303, "/login")
    assert site.get("/probe", follow_redirects=False).status_code == 303


def test_sign_in_form_needs_its_token(site: TestClient, owner: int) -> None:
    site.get("/login")
    answer = site.post("/login", data={"email": EMAIL, "password": PASSWORD})
    assert answer.status_code == 403
    assert "smscast_session" not in site.cookies


def test_htmx_requests_carry_the_token_as_a_header(site: TestClient, owner: int) -> None:
    sign_in(site, EMAIL)
    token = csrf_of(site.get("/nowhere").text)
    answer = site.post(
        "/language",
        data={"language": "pl", "next": "/probe"},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
        follow_redirects=False,
    )
    assert (answer.status_code, answer.headers["location"]) == (303, "/probe")


def test_a_token_from_another_browser_is_refused(
    site: TestClient, settings: Settings, engine: Engine, clock: Clock, owner: int
) -> None:
    other = TestClient(build_site(settings, engine, clock))
    stolen = csrf_of(other.get("/login").text)
    site.get("/login")
    answer = site.post("/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": stolen})
    assert answer.status_code == 403


def test_security_headers_on_portal_pages_only(site: TestClient) -> None:
    page = site.get("/login")
    policy = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    script_src = next(p for p in policy.split(";") if p.strip().startswith("script-src"))
    assert script_src.strip() == "script-src 'self'"
    assert "unsafe-inline" not in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "same-origin"
    assert "<script>" not in page.text and "style=" not in page.text  # nothing inline

    api = site.get("/healthz")
    assert api.json()["status"] == "ok"
    assert "content-security-policy" not in api.headers  # the API docs page keeps working


def test_a_users_name_is_shown_as_text(
    site: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    make_user(engine, [workspace], "x@shop.test", name="<script>alert(1)</script>", now=now)
    sign_in(site, "x@shop.test")
    page = site.get("/login?next=/probe", follow_redirects=False)
    assert page.status_code == 303  # signed in: the sign-in page sends on
    shown = site.get("/nowhere")
    assert shown.status_code == 404
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown.text
    assert "<script>alert(1)" not in shown.text


def test_a_role_without_the_permission_gets_the_403_page(
    site: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    make_user(engine, [workspace], "viewer@shop.test", role="viewer", now=now)
    sign_in(site, "viewer@shop.test")
    assert site.get("/probe").status_code == 200
    refused = site.get("/probe/launch")
    assert refused.status_code == 403
    assert "Your role in this workspace does not allow this page." in refused.text


def test_unknown_pages_and_api_paths_keep_their_own_answers(site: TestClient, owner: int) -> None:
    sign_in(site, EMAIL)
    page = site.get("/no/such/page")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Page not found" in page.text
    api = site.get("/api/v1/no-such-thing")
    assert api.status_code == 404
    assert api.headers["content-type"] == "application/problem+json"


def test_switching_workspace(
    site: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    other = create_workspace(engine, "Bakery", "PL", "Europe/Warsaw", actor="test", now=now)
    make_user(engine, [workspace, other], "both@shop.test", now=now)
    sign_in(site, "both@shop.test")
    page = site.get("/nowhere")
    assert 'name="workspace_id"' in page.text and "Bakery" in page.text
    answer = site.post(
        "/workspace",
        data={"workspace_id": str(other.id), "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert (answer.status_code, answer.headers["location"]) == (303, "/dashboard")
    assert site.get("/probe").text == "probe for both@shop.test in Bakery"


def test_switching_to_a_workspace_of_someone_else_is_refused(
    site: TestClient, engine: Engine, owner: int, now: datetime
) -> None:
    other = create_workspace(engine, "Bakery", "PL", "Europe/Warsaw", actor="test", now=now)
    sign_in(site, EMAIL)
    token = csrf_of(site.get("/nowhere").text)
    answer = site.post("/workspace", data={"workspace_id": str(other.id), "csrf_token": token})
    assert answer.status_code == 404
    assert site.get("/probe").text == f"probe for {EMAIL} in Shop"


@pytest.mark.parametrize(
    ("role", "launches", "manages_people"),
    [
        ("viewer", False, False),
        ("agent", False, False),
        ("marketer", True, False),
        ("admin", True, True),
    ],
)
def test_can_follows_the_permission_table(
    workspace: WorkspaceRef, role: str, launches: bool, manages_people: bool
) -> None:
    viewer = Viewer(
        Caller("user", 1, workspace, role, "x@shop.test"),
        Profile(1, "x@shop.test", "", None, instance_admin=False),
        [],
    )
    assert viewer.can("campaigns.write") is launches
    assert viewer.can("users.manage") is manages_people
    with pytest.raises(ValueError, match=r"campaigns\.launch"):
        viewer.can("campaigns.launch")  # a misspelt permission is a bug, not a hidden button


def test_errors_on_pages_are_pages(settings: Settings, engine: Engine, clock: Clock,
                                   owner: int) -> None:  # fmt: skip
    app = build_site(settings, engine, clock)
    app.include_router(probe_pages())
    site = TestClient(app, raise_server_exceptions=False)
    sign_in(site, EMAIL)
    for path, status, words in [
        ("/probe/number/seven", 422, "This page cannot read a value in the address or the form."),
        ("/probe/refused", 422, "part_price must be a number ≥ 0"),
        ("/probe/crash", 500, "Something went wrong on the server; the error is in its log."),
    ]:
        page = site.get(path)
        assert page.status_code == status, path
        assert page.headers["content-type"].startswith("text/html"), path
        assert words in page.text, path
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"], path
    assert site.get("/api/v1/contacts/seven").headers["content-type"] == (
        "application/problem+json"
    )


def test_an_upload_form_carries_its_token_too(site: TestClient, owner: int) -> None:
    sign_in(site, EMAIL)
    token = csrf_of(site.get("/nowhere").text)
    upload = {"file": ("contacts.csv", b"phone\n+48600100200\n", "text/csv")}
    refused = site.post("/language", data={"language": "pl"}, files=upload)
    assert refused.status_code == 403
    answer = site.post(
        "/language",
        data={"language": "pl", "next": "/probe", "csrf_token": token},
        files=upload,
        follow_redirects=False,
    )
    assert (answer.status_code, answer.headers["location"]) == (303, "/probe")


def test_an_htmx_request_after_the_session_ended_loads_the_sign_in_page(site: TestClient) -> None:
    answer = site.get("/probe?range=7d", headers={"HX-Request": "true"}, follow_redirects=False)
    assert answer.status_code == 204  # nothing swapped into the page: htmx goes to sign in
    assert answer.headers["hx-redirect"] == "/login?next=/probe%3Frange%3D7d"
