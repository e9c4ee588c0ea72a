"""The browser harness itself: a real `smscast serve`, Chromium, and nothing off the machine.

The portal must work with the network unplugged: every request a page makes goes to the
loopback server that served it (third-party JavaScript and CSS are vendored from npm at
install time, never fetched from a CDN).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

if TYPE_CHECKING:  # the harness's types (tests/web/conftest.py), for readers and checkers
    from conftest import AddMember, Credentials, Requests, SignIn

pytestmark = pytest.mark.browser

VENDORED = ("htmx.min.js", "sse.js", "uPlot.iife.min.js", "uPlot.min.css")


def test_the_sign_in_page_loads_only_from_the_server(
    page: Page, unplugged: Requests, portal_url: str
) -> None:
    page.goto("/login")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()

    assert unplugged.off_machine == []
    assert any(url.startswith(f"{portal_url}/static/") for url in unplugged.seen)


def test_the_vendored_htmx_and_uplot_are_served(page: Page) -> None:
    for name in VENDORED:
        response = page.request.get(f"/static/vendor/{name}")
        assert response.status == 200, f"/static/vendor/{name}: {response.status}"
        assert len(response.body()) > 1000, f"/static/vendor/{name} is nearly empty"

    page.goto("/login")
    assert page.evaluate("typeof htmx === 'object' && typeof htmx.version === 'string'")
    assert page.evaluate("htmx.version.startsWith('2.')")


def test_signing_in_through_the_form_lands_signed_in(
    signed_in_page: Page, admin_credentials: Credentials
) -> None:
    page = signed_in_page

    assert urlsplit(page.url).path != "/login"
    menu = page.get_by_test_id("user-menu")
    menu.click()
    expect(page.get_by_text(admin_credentials.email)).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    page.goto("/")
    assert urlsplit(page.url).path != "/login"


def test_a_member_added_as_viewer_signs_in_as_a_viewer(
    page: Page, add_member: AddMember, sign_in_as: SignIn
) -> None:
    viewer = add_member("viewer@portal.test", "viewer")

    sign_in_as(page, viewer)

    menu = page.get_by_test_id("user-menu")
    expect(menu).to_have_text("viewer@portal.test")
    menu.click()
    expect(page.get_by_text("role: viewer")).to_be_visible()
