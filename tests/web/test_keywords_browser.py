"""The keyword editor in a real browser: a rule made in the portal answers a text injected
with `smscast simulator send-mo`, the match preview names the rule as the sample is
typed (no reload), and the reply's parts counter switches from GSM-7 to UCS-2.

The server is shared with other tests: each keyword here is unique, and no default rule
or automatic reply is set on the simulator's number (its unmatched texts are tickets
for the inbox tests)."""

from __future__ import annotations

import secrets

import pytest
from playwright.sync_api import Page, expect

from conftest import PortalServer, Screenshot
from smscast.engine.sending.connectors import SIMULATOR_NUMBER

pytestmark = pytest.mark.browser


def unique_keyword() -> str:
    return "KW" + secrets.token_hex(3).upper()


def add_rule(page: Page, keyword: str, reply: str) -> None:
    """Adds a rule to the simulator's number through the editor, as a person would."""
    page.goto("/keywords")
    page.get_by_label("Number", exact=True).select_option(label=SIMULATOR_NUMBER)
    page.get_by_test_id("new-rule").click()
    page.get_by_label("Keyword", exact=True).fill(keyword)
    page.get_by_label("Reply (optional)").fill(reply)
    page.get_by_label("Tags (optional)").fill("browser-test")
    page.get_by_role("button", name="Save the rule").click()
    expect(page.get_by_test_id("notice")).to_have_text(
        f"The rule for “{keyword.upper()}” is saved."
    )


def test_a_keyword_rule_created_in_the_portal_answers_a_text_from_the_simulator(
    signed_in_page: Page, portal_server: PortalServer, save_screenshot: Screenshot
) -> None:
    page = signed_in_page
    keyword = unique_keyword()
    add_rule(page, keyword, "Thanks! Your code for {{ rest | default('today') }}: PIZZA10")
    row = page.get_by_test_id("rule-row").filter(has_text=keyword)
    expect(row).to_contain_text("Tag: browser-test")

    # The preview follows typing: no button, no reload.
    page.wait_for_load_state()  # its scripts listen: what follows is theirs
    page.evaluate("window.notReloaded = true")
    page.get_by_label("Sample text").press_sequentially(f"{keyword.lower()} friday", delay=20)
    expect(page.get_by_test_id("preview-route")).to_have_text("Keyword rule")
    expect(page.get_by_test_id("preview-rule")).to_contain_text(keyword)
    expect(page.get_by_test_id("preview-reason")).to_contain_text(
        f"The text begins with the keyword “{keyword}”."
    )
    expect(page.get_by_test_id("preview-reply")).to_contain_text(
        "Thanks! Your code for friday: PIZZA10"
    )
    page.get_by_label("Sample text").fill("stop")
    expect(page.get_by_test_id("preview-route")).to_have_text("Opt-out (compliance word)")
    assert page.evaluate("window.notReloaded === true")

    page.get_by_label("Sample text").fill(f"{keyword} friday")
    expect(page.get_by_test_id("preview-rule")).to_contain_text(keyword)
    page.set_viewport_size({"width": 1280, "height": 1180})
    page.evaluate("window.scrollTo(0, 0)")
    save_screenshot(page, "keywords")

    portal_server.wait_until_bound()
    sender = "+48603" + "".join(secrets.choice("0123456789") for _ in range(6))
    said = portal_server.smscast("simulator", "send-mo", "--from", sender, "--to",
                                 SIMULATOR_NUMBER, "--wait", "20", f"{keyword} friday")  # fmt: skip
    said = " ".join(said.split())
    assert f"keyword {keyword.lower()} (rule #" in said, said
    assert "1 automatic reply queued" in said, said


def test_the_preview_works_with_the_button_and_without_javascript(
    signed_in_page: Page,
) -> None:
    page = signed_in_page
    keyword = unique_keyword()
    add_rule(page, keyword, "Hello")
    page.context.set_extra_http_headers({})
    page.route("**/static/vendor/htmx.min.js", lambda route: route.abort())
    page.reload()
    page.get_by_label("Sample text").fill(keyword)
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_test_id("preview-route")).to_have_text("Keyword rule")
    expect(page.get_by_test_id("preview-reason")).to_have_text(
        f"The whole text is the keyword “{keyword}”."
    )
    assert f"text={keyword}" in page.url


def test_the_replys_parts_counter_switches_from_gsm7_to_ucs2(signed_in_page: Page) -> None:
    page = signed_in_page
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto("/keywords")
    page.get_by_label("Number", exact=True).select_option(label=SIMULATOR_NUMBER)
    page.get_by_test_id("new-rule").click()
    # Typed only once the form's page has loaded: htmx (deferred) listens for the typing
    # from then on, and a text typed before would never be counted.
    page.wait_for_url("**/keywords/new*")
    reply = page.get_by_label("Reply (optional)")
    reply.fill("Your table is booked for 7pm. See you!")
    expect(page.get_by_test_id("encoding")).to_have_text("GSM-7")
    expect(page.get_by_test_id("parts-count")).to_have_text("1")
    reply.fill("Stolik zarezerwowany na 19:00. Do zobaczenia, dziękujemy! " * 2)
    expect(page.get_by_test_id("encoding")).to_have_text("UCS-2")
    expect(page.get_by_test_id("parts-count")).to_have_text("2")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
