"""The response analysis in a real browser: a text injected into the simulator's number
with `smscast simulator send-mo` is counted on /analytics/responses for that number,
and the chart is drawn. The server is shared with other tests, so the figures are read
before and after the text: they rise by it."""

from __future__ import annotations

import secrets
import time

import pytest
from playwright.sync_api import Page, expect

from conftest import PortalServer
from smscast.engine.sending.connectors import SIMULATOR_NUMBER

pytestmark = pytest.mark.browser


def figures_after_reload(page: Page, until: dict[str, int]) -> dict[str, int]:
    """The tiles' figures once they reach `until` (the text is routed in the server's
    own time: a connector still binding holds it for a moment), reloading meanwhile."""
    deadline = time.monotonic() + 30
    while True:
        page.reload()
        found = {name: figure(page, name) for name in until}
        if found == until or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def figure(page: Page, testid: str) -> int:
    value = page.get_by_test_id(testid).locator(".tile__value").inner_text()
    return int(value.replace(",", ""))


def test_the_response_analysis_shows_the_reply(
    signed_in_page: Page, portal_server: PortalServer
) -> None:
    page = signed_in_page
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto("/analytics/responses")
    page.get_by_label("Number", exact=True).select_option(label=SIMULATOR_NUMBER)
    page.get_by_label("Period", exact=True).select_option(label="Last 7 days")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("heading", name="Response analysis")).to_be_visible()
    assert "number=" in page.url and "period=7d" in page.url
    chart = page.get_by_test_id("responses-chart")
    expect(chart.locator(".uplot canvas")).to_have_count(1)  # drawn by uPlot
    before = {name: figure(page, name) for name in ("figure-responses", "figure-unique-senders",
                                                    "figure-tickets")}  # fmt: skip
    today = page.get_by_test_id("day-row").first
    today_before = int(today.get_by_test_id("cell-responses").inner_text().replace(",", ""))

    sender = "+48601" + "".join(secrets.choice("0123456789") for _ in range(6))
    portal_server.smscast("simulator", "send-mo", "--from", sender, "--to", SIMULATOR_NUMBER,
                          "--wait", "20", f"Where is my order {secrets.token_hex(3)}?")  # fmt: skip

    expected = {name: count + 1 for name, count in before.items()}
    assert figures_after_reload(page, expected) == expected
    today = page.get_by_test_id("day-row").first
    expect(today.get_by_test_id("cell-responses")).to_have_text(str(today_before + 1))
    expect(chart.locator(".uplot canvas")).to_have_count(1)
    # At a phone's width the page does not scroll sideways: wide tables scroll in place.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
