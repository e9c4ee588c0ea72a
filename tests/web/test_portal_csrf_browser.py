"""CSRF in a real browser, and the public sign-up page on a phone-sized screen, against a
real `smscast serve`.

A form whose token was removed or altered in the page (as a forged cross-site post
would arrive) is refused with the 403 page and changes nothing; the same form with its
token intact goes through, so the refusal was the token's doing.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

if TYPE_CHECKING:  # the harness's types (tests/web/conftest.py)
    from conftest import PortalServer

pytestmark = pytest.mark.browser

SIGN_UP_TEXT = (
    "I agree to receive promotional texts from the browser shop, up to 4 a month.\n"
    "Reply STOP to opt out."
)
TOKEN_INPUT = "form.segment-editor__form input[name=csrf_token]"


def fill_new_segment(page: Page, name: str) -> None:
    page.goto("/segments/new")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Expression", exact=True).fill('country = "PL"')


def expect_csrf_refusal(page: Page) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text("You may not do this")
    refusal = page.get_by_text("This form has expired or did not come from this site.")
    expect(refusal).to_be_visible()


def test_a_form_without_its_token_or_with_another_is_refused_and_saves_nothing(
    signed_in_page: Page,
) -> None:
    page = signed_in_page

    fill_new_segment(page, "CSRF missing token")
    page.evaluate(f"document.querySelector('{TOKEN_INPUT}').remove()")
    page.get_by_role("button", name="Save segment").click()
    expect_csrf_refusal(page)

    fill_new_segment(page, "CSRF altered token")
    page.evaluate(f"document.querySelector('{TOKEN_INPUT}').value = '0'.repeat(64)")
    page.get_by_role("button", name="Save segment").click()
    expect_csrf_refusal(page)

    page.goto("/segments")
    expect(page.get_by_role("row", name="CSRF missing token")).to_have_count(0)
    expect(page.get_by_role("row", name="CSRF altered token")).to_have_count(0)

    fill_new_segment(page, "CSRF intact token")
    page.get_by_role("button", name="Save segment").click()
    expect(page.get_by_role("status")).to_have_text("Segment “CSRF intact token” saved.")
    expect(page.get_by_role("row", name="CSRF intact token")).to_have_count(1)


def open_sign_up_form(portal_server: PortalServer, slug: str) -> None:
    """Opens the first workspace's form (its confirmation comes from the simulator's
    number, which `smscast serve` gave that workspace at start)."""
    first = min(json.loads(portal_server.smscast("workspace", "list", "--json")),
                key=lambda workspace: workspace["id"])  # fmt: skip
    portal_server.smscast(
        "workspace", "settings", "--workspace", str(first["id"]),
        "--set", f"sign_up_text={SIGN_UP_TEXT}", "--set", f"sign_up_slug={slug}",
        "--set", "sign_up_open=true",
    )  # fmt: skip


def test_the_sign_up_page_works_on_a_375_pixel_wide_phone(
    page: Page, portal_server: PortalServer
) -> None:
    open_sign_up_form(portal_server, "browser-shop")
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto("/join/browser-shop")

    expect(page.get_by_role("heading", level=1)).to_contain_text("Sign up for texts from")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # nothing overflows
    agree = page.get_by_role("checkbox", name="I agree to receive promotional texts")
    phone = page.get_by_label("Mobile phone number")
    button = page.get_by_role("button", name="Sign up")
    for control in (phone, agree, button):
        box = control.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375

    phone.fill("+48 600 900 375")
    button.click()  # the box is not ticked yet
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("link", name="Tick the box to agree to the text.")).to_be_visible()
    expect(phone).to_have_value("+48 600 900 375")

    page.get_by_text("Reply STOP to opt out.").click()  # the text is the box's label
    expect(agree).to_be_checked()
    button.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your phone")
    expect(page.get_by_role("status")).to_contain_text(
        "We've sent a text to +48600900375. Reply YES to confirm."
    )
    assert urlsplit(page.url).path == "/join/browser-shop"
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
