"""The dashboard in a real browser against a real `smscast serve`: a campaign launched
from the command line is sent by the server's dispatcher and delivered by its SMSC
simulator, and the dashboard's numbers follow without a reload."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import Page, expect

if TYPE_CHECKING:  # the harness's types (tests/web/conftest.py)
    from conftest import PortalServer, Screenshot

pytestmark = pytest.mark.browser

RECIPIENTS = 6


def small_campaign(portal_server: PortalServer) -> int:
    """Six opted-in contacts and a draft informational campaign to them; its id."""
    csv = portal_server.workdir / "dashboard-contacts.csv"
    csv.write_text("phone,first_name,tags,consent\n" + "".join(
        f"+4860090{i:04d},Ania {i},dash,yes\n" for i in range(RECIPIENTS)))  # fmt: skip
    portal_server.smscast("contacts", "import", str(csv), "--consent-source",
                          "browser test: signed paper form")  # fmt: skip
    created = portal_server.smscast(
        "campaigns", "create", "--name", "Dashboard live", "--segment", 'tags contains "dash"',
        "--body", "Your order is ready", "--purpose", "informational", "--json",
    )  # fmt: skip
    return int(json.loads(created)["id"])


def every_report_in(portal_server: PortalServer, campaign_id: int) -> dict[str, Any]:
    """The campaign's report once no delivery report is awaited (the simulator answers
    within about a second of each send); each look is a CLI run, so no pause between."""
    deadline = time.monotonic() + 30
    while True:
        report: dict[str, Any] = json.loads(
            portal_server.smscast("campaigns", "report", str(campaign_id), "--json")
        )
        if report["sent"] == RECIPIENTS and report["reports_awaited"] == 0:
            return report
        assert time.monotonic() < deadline, f"reports still awaited after 30 s: {report}"


@pytest.fixture
def informational_any_hour(portal_server: PortalServer) -> Iterator[None]:
    """Quiet hours that do not hold informational texts (so the test does not depend on
    the hour it runs at), set back as they were afterwards for the other tests."""
    before = json.loads(portal_server.smscast("workspace", "settings", "--json"))
    portal_server.smscast("workspace", "settings", "--set", "quiet_hours_informational=false")
    yield
    was = "true" if before["quiet_hours_informational"] else "false"
    portal_server.smscast("workspace", "settings", "--set", f"quiet_hours_informational={was}")


def test_numbers_follow_a_sending_campaign_without_a_reload(
    signed_in_page: Page,
    portal_server: PortalServer,
    save_screenshot: Screenshot,
    informational_any_hour: None,
) -> None:
    page = signed_in_page
    campaign_id = small_campaign(portal_server)
    page.goto(f"/dashboard?campaign={campaign_id}")
    delivered = page.get_by_test_id("kpi-delivered").locator("[data-kpi-value]")
    expect(delivered).to_have_text("0")
    expect(page.locator("[data-live]")).to_be_visible()  # the stream is open
    page.wait_for_load_state()  # its scripts listen: what follows is theirs
    page.evaluate("window.notReloaded = true")

    portal_server.smscast("campaigns", "launch", str(campaign_id))

    expect(page.get_by_test_id("kpi-sent").locator("[data-kpi-value]")).to_have_text(
        str(RECIPIENTS), timeout=30_000
    )
    # The simulator reports most texts delivered and a few not, at random, like a
    # carrier: the dashboard must show what the server counted once every report is in.
    final = every_report_in(portal_server, campaign_id)
    assert final["delivered"] > 0
    expect(delivered).to_have_text(str(final["delivered"]), timeout=30_000)
    expect(page.get_by_test_id("kpi-delivery-rate")).to_contain_text(
        f"{final['delivered']} of {RECIPIENTS}"
    )
    assert page.evaluate("window.notReloaded === true")  # no navigation happened

    page.reload()  # the charts and tables are drawn with the page: now with the texts
    expect(page.locator('[data-chart="traffic"] canvas')).to_have_count(1)  # uPlot drew
    expect(page.get_by_test_id("table-connectors")).to_contain_text("simulator")
    save_screenshot(page, "dashboard", full_page=True)

    page.get_by_label("Language").select_option("pl")
    expect(page.locator("html")).to_have_attribute("lang", "pl")
    expect(page.get_by_test_id("kpi-delivered").get_by_role("heading")).to_have_text("Doręczone")
    assert f"campaign={campaign_id}" in page.url  # the same dashboard, the same filters
    page.wait_for_load_state()  # portal.js sends the menu on change once it has loaded
    page.get_by_label("Język").select_option("en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_test_id("kpi-delivered").get_by_role("heading")).to_have_text("Delivered")


def test_tiles_are_rearranged_by_keyboard(signed_in_page: Page) -> None:
    page = signed_in_page
    page.goto("/dashboard")
    tiles = page.locator("section[data-testid]")
    first = tiles.first.get_attribute("data-testid")
    second = tiles.nth(1).get_attribute("data-testid")
    tools = page.get_by_test_id(str(second)).locator("summary", has_text="Arrange")
    tools.focus()
    page.keyboard.press("Enter")
    page.get_by_test_id(str(second)).get_by_role("button", name="Earlier").focus()
    page.keyboard.press("Enter")
    expect(tiles.first).to_have_attribute("data-testid", str(second))
    expect(tiles.nth(1)).to_have_attribute("data-testid", str(first))
    page.reload()  # saved, not only shown
    expect(tiles.first).to_have_attribute("data-testid", str(second))

    # A refused name comes back on the page, said at the top, without leaving it.
    page.wait_for_load_state()  # its scripts listen: what follows is theirs
    page.evaluate("window.notReloaded = true")
    page.get_by_label("New dashboard").fill(page.get_by_test_id("dashboard-name").inner_text())
    page.get_by_role("button", name="Create").click()
    expect(page.locator(".error-summary")).to_contain_text(
        "You already have a dashboard with that name."
    )
    expect(page.locator(".error-summary")).to_be_focused()
    assert page.evaluate("window.notReloaded === true")  # swapped in by htmx


def test_the_filter_bar_keeps_its_choices_in_the_address(signed_in_page: Page) -> None:
    page = signed_in_page
    page.goto("/dashboard")
    page.get_by_label("Time range", exact=True).select_option("today")
    page.get_by_label("Purpose").select_option("informational")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"range=today.*purpose=informational"))
    shared_link = page.url
    page.goto("/")
    page.goto(shared_link)  # as a colleague who was sent the link would open it
    expect(page.get_by_label("Time range", exact=True)).to_have_value("today")
    expect(page.get_by_label("Purpose")).to_have_value("informational")
