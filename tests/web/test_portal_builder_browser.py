"""The campaign builder in Chromium against a real `smscast serve`: a marketer builds a
campaign step by step, watches the encoding switch to UCS-2 and back as they type,
launches it and lands on its report; a viewer sees no way in."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.browser

CITY = "Builderville"
"""Only this test's contacts live here: the server is shared by every browser test."""


@pytest.fixture(scope="module")
def builder_contacts(portal_server: Any) -> None:
    """Three contacts who opted in, imported through the CLI as a marketer would."""
    source = Path(portal_server.workdir) / "builder-contacts.csv"
    source.write_text(
        "phone,first_name,city,consent\n"
        f"+48600900100,Anna,{CITY},yes\n"
        f"+48600900101,Piotr,{CITY},yes\n"
        f"+48600900102,Ewa,{CITY},yes\n"
    )
    portal_server.smscast("contacts", "import", str(source), "--consent-source", "form")


def test_build_and_launch_a_campaign_through_the_builder(
    signed_in_page: Page, builder_contacts: None, save_screenshot: Callable[..., Path]
) -> None:
    page = signed_in_page
    page.goto("/campaigns/new")
    page.get_by_label("Campaign name").fill("Builder weekend")
    page.get_by_role("button", name="Start building").click()
    expect(page.get_by_role("heading", name="Audience")).to_be_visible()
    page.wait_for_load_state()  # the count follows what is typed once htmx has loaded

    page.get_by_label("Expression", exact=True).fill(f'city = "{CITY}"')
    expect(page.get_by_test_id("recipient-count")).to_have_text("3")
    page.get_by_role("button", name="Save and continue").click()

    expect(page.get_by_role("heading", name="Message")).to_be_visible()
    page.wait_for_load_state()  # htmx counts what is typed once the page has loaded
    text = page.get_by_label("Text", exact=True)
    text.fill("Hi {{ first_name }}, our weekend sale starts now!")
    expect(page.get_by_test_id("encoding")).to_have_text("GSM-7")
    expect(page.get_by_test_id("parts-count")).to_have_text("1")
    expect(page.get_by_test_id("preview-text").first).to_have_text(
        "Hi Anna, our weekend sale starts now!"
    )
    text.press("End")
    text.press_sequentially(" Zażółć")
    expect(page.get_by_test_id("encoding")).to_have_text("UCS-2")
    expect(page.get_by_test_id("ucs2-characters")).to_contain_text("ż")
    save_screenshot(page, "campaign-builder")
    for _ in range(len(" Zażółć")):
        text.press("Backspace")
    expect(page.get_by_test_id("encoding")).to_have_text("GSM-7")
    page.get_by_role("button", name="Save and continue").click()

    for heading in ("A/B variants", "Timing", "Sender and purpose"):
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
        page.get_by_role("button", name="Save and continue").click()

    expect(page.get_by_role("heading", name="Review and launch")).to_be_visible()
    expect(page.get_by_test_id("review-recipients")).to_have_text("3")
    page.get_by_role("button", name="Launch").click()
    page.wait_for_url(re.compile(r"/campaigns/\d+$"))
    expect(page.get_by_text("Builder weekend").first).to_be_visible()


def test_a_viewer_cannot_launch(
    browser: Browser, portal_url: str, add_member: Callable[[str, str], Any],
    sign_in_as: Callable[[Page, Any], None],
) -> None:  # fmt: skip
    viewer = add_member("builder-viewer@portal.test", "viewer")
    context = browser.new_context(base_url=portal_url)
    try:
        page = context.new_page()
        sign_in_as(page, viewer)
        page.goto("/campaigns")
        expect(page.get_by_role("heading").first).to_be_visible()
        expect(page.get_by_test_id("new-campaign")).to_have_count(0)
        expect(page.get_by_role("link", name="New campaign")).to_have_count(0)
        answer = page.goto("/campaigns/new")
        assert answer is not None and answer.status == 403
        expect(page.get_by_role("button", name="Launch")).to_have_count(0)
    finally:
        context.close()
