"""The agents' inbox in a real browser: a text that matches no keyword, injected with
`smscast simulator send-mo`, becomes a ticket that appears in an inbox already open,
without a reload, and the count in the page's title rises. The server is shared with
other tests: the count is read before the text, and the senders are new phones."""

from __future__ import annotations

import secrets

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from conftest import PortalServer, Screenshot
from smscast.engine.sending.connectors import SIMULATOR_NUMBER

pytestmark = pytest.mark.browser


def text_from_new_phone(portal_server: PortalServer, words: str) -> str:
    """A text from a phone never seen before to the simulator's number; its sender."""
    sender = "+48602" + "".join(secrets.choice("0123456789") for _ in range(6))
    said = portal_server.smscast("simulator", "send-mo", "--from", sender,
                                 "--to", SIMULATOR_NUMBER, "--wait", "20", words)  # fmt: skip
    assert "ticket #" in " ".join(said.split()), said
    return sender


def test_an_unknown_text_becomes_a_ticket_that_appears_in_an_open_inbox_without_reload(
    signed_in_page: Page, portal_server: PortalServer, context: BrowserContext,
    save_screenshot: Screenshot,
) -> None:  # fmt: skip
    page = signed_in_page
    context.grant_permissions(["notifications"], origin=portal_server.url)
    portal_server.wait_until_bound()
    page.goto("/inbox")
    expect(page.locator("[data-live]")).to_be_visible()  # the stream is open
    page.wait_for_load_state()  # its scripts listen: what follows is theirs
    page.evaluate("window.notReloaded = true")
    before = int(page.get_by_test_id("open-count").get_attribute("data-open-count") or "0")

    # The agent turns notifications on (the browser is asked on this click only).
    page.get_by_role("button", name="Turn on notifications").click()
    expect(page.get_by_role("button", name="Turn off notifications")).to_be_visible()

    words = f"My parcel {secrets.token_hex(2)} has not arrived, can you check?"
    sender = text_from_new_phone(portal_server, words)
    row = page.get_by_test_id("ticket-row").filter(has_text=sender)
    expect(row).to_be_visible(timeout=15_000)
    expect(row.get_by_test_id("ticket-preview")).to_have_text(words)
    expect(row.get_by_test_id("ticket-state")).to_have_text("open")
    expect(page).to_have_title(f"({before + 1}) Inbox · smscast")
    expect(page.get_by_test_id("open-count")).to_have_attribute("data-open-count", str(before + 1))
    assert page.evaluate("window.notReloaded === true")  # it came without a reload
    link = row.get_by_role("link")
    ticket = (link.get_attribute("href") or "").rsplit("/", 1)[-1]
    assert link.get_attribute("href") == f"/inbox/{ticket}" and ticket.isdigit()

    # A few more, for README's picture of the inbox.
    text_from_new_phone(portal_server, "Do you deliver on Sundays?")
    text_from_new_phone(portal_server, "Can I change the size of my order 4417?")
    expect(page).to_have_title(f"({before + 3}) Inbox · smscast")
    save_screenshot(page, "inbox")

    # At a phone's width each ticket is a card: nothing scrolls sideways.
    page.set_viewport_size({"width": 375, "height": 800})
    expect(row).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
