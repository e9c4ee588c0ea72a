"""The connectors pages in a real browser against a real `smscast serve`: the built-in
simulator's connector shows as sending, and a connector added with a wrong password is
told apart by "Test connection" — the SMSC's refusal named — then edited until it binds."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Page, expect
from test_portal_connectors import SMSC_PASSWORD, smsc  # noqa: F401 (the fixture)

pytestmark = pytest.mark.browser


def test_the_simulator_connector_is_shown_sending(signed_in_page: Page) -> None:
    page = signed_in_page
    page.goto("/connectors")
    row = page.locator('[data-testid="connector-row"][data-connector="simulator"]')
    # The server's worker binds to its simulator within moments of starting; the block
    # refreshes itself, so the page is not reloaded to see it.
    expect(row.get_by_test_id("connector-state")).to_have_text("Sending texts", timeout=20_000)

    row.get_by_role("link", name="simulator").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("simulator")
    expect(page.get_by_test_id("connector-detail")).to_contain_text("bound")
    expect(page.get_by_test_id("held-by")).to_contain_text("lease until")


def test_a_wrong_password_is_refused_by_name_and_the_connector_is_edited(
    signed_in_page: Page,
    smsc: int,  # noqa: F811 (the fixture imported above)
) -> None:
    page = signed_in_page
    name = f"carrier-{time.time_ns() % 10**9}"
    page.goto("/connectors")
    page.get_by_test_id("new-connector").click()
    page.get_by_role("link", name="SMPP").click()

    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Host", exact=True).fill("127.0.0.1")
    page.get_by_label("Port", exact=True).fill(str(smsc))
    page.get_by_label("System ID", exact=True).fill("shop")
    page.get_by_label("Password", exact=True).fill("wrong")
    page.wait_for_load_state()  # its scripts listen: what follows is theirs
    page.evaluate("window.notReloaded = true")
    page.get_by_test_id("test-connection").click()

    result = page.get_by_test_id("test-result")
    expect(result).to_contain_text("Bind refused: wrong credentials.")
    expect(result).to_contain_text("The SMSC says the password is wrong (ESME_RINVPASWD).")
    assert page.evaluate("window.notReloaded === true")  # the form, password kept, stays
    expect(page.get_by_label("Password", exact=True)).to_have_value("wrong")

    page.get_by_test_id("save-connector").click()
    expect(page.get_by_test_id("saved")).to_be_visible()
    expect(page.get_by_test_id("connector-settings")).to_contain_text("set")
    assert "wrong" not in page.content()

    page.get_by_test_id("edit-connector").click()
    expect(page.get_by_text("Set: leave empty to keep it.")).to_be_visible()
    page.get_by_test_id("test-connection").click()  # the stored (wrong) password, kept
    expect(page.get_by_test_id("test-result")).to_contain_text("ESME_RINVPASWD")
    page.get_by_label("Password", exact=True).fill(SMSC_PASSWORD)
    page.get_by_test_id("test-connection").click()
    expect(page.get_by_test_id("test-result")).to_contain_text("Connected in")
    expect(page.get_by_test_id("test-result")).to_contain_text("Nothing was sent.")
    page.get_by_label("Window", exact=True).fill("20")
    page.get_by_test_id("save-connector").click()
    expect(page.get_by_test_id("saved")).to_be_visible()
    expect(page.get_by_test_id("connector-live")).to_contain_text("of 20")

    page.get_by_test_id("test-connection").click()
    expect(page.get_by_test_id("test-result")).to_contain_text("Connected in")
    page.get_by_test_id("pause-connector").click()  # the test's SMSC goes away after it
    expect(page.get_by_test_id("connector-state")).to_have_text("Paused")
