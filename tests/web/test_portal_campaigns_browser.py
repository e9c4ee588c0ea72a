"""A campaign's report in a real browser against a real `smscast serve`: while the
server's dispatcher sends a campaign spread over a minute, the report's progress moves
on without a reload; pause, resume and cancel work from its buttons."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest
from playwright.sync_api import Page, expect

if TYPE_CHECKING:  # the harness's types (tests/web/conftest.py)
    from conftest import Credentials, PortalServer, Screenshot

pytestmark = pytest.mark.browser

RECIPIENTS = 20


def create_spread_campaign(portal_server: PortalServer, admin: Credentials) -> int:
    """Twenty contacts and an informational campaign to them spread over a minute (one
    text every few seconds), launched through the server's API (quicker than starting
    the CLI four times); returns its id. Informational texts are exempted from quiet
    hours, so the test does not depend on the hour it runs at."""
    with httpx.Client(base_url=portal_server.url, timeout=30.0) as api:
        login = api.post("/api/v1/auth/login",
                         json={"email": admin.email, "password": admin.password})  # fmt: skip
        assert login.status_code == 200, login.text
        api.headers["Authorization"] = f"Bearer {login.json()['token']}"
        steps = [
            api.patch("/api/v1/workspace",
                      json={"settings": {"quiet_hours_informational": False}}),
            api.post("/api/v1/contacts/bulk", json={"contacts": [
                {"phone": f"+4860080{i:04d}", "tags": ["report"]} for i in range(RECIPIENTS)
            ]}),
            created := api.post("/api/v1/campaigns", json={
                "name": "Order updates <live>", "segment": 'tags contains "report"',
                "body": "Your order is on its way", "purpose": "informational",
                "spread_minutes": 1,
            }),
        ]  # fmt: skip
        for step in steps:
            assert step.status_code < 300, f"{step.request.url}: {step.text}"
        campaign_id = int(created.json()["id"])
        launched = api.post(f"/api/v1/campaigns/{campaign_id}/launch")
        assert launched.status_code < 300, launched.text
    return campaign_id


def sent_count(page: Page) -> int:
    return int(page.get_by_test_id("progress").get_attribute("data-sent") or "0")


def test_the_report_follows_a_sending_campaign_and_pauses_and_resumes_it(
    signed_in_page: Page,
    portal_server: PortalServer,
    admin_credentials: Credentials,
    save_screenshot: Screenshot,
) -> None:
    page = signed_in_page
    campaign_id = create_spread_campaign(portal_server, admin_credentials)

    page.goto(f"/campaigns/{campaign_id}")
    expect(page.get_by_test_id("campaign-name")).to_have_text("Order updates <live>")
    expect(page.get_by_test_id("campaign-status")).to_have_text("Sending")
    page.wait_for_load_state()  # its scripts listen: what follows is theirs
    page.evaluate("window.notReloaded = true")
    before = sent_count(page)

    page.wait_for_function(
        "n => Number(document.querySelector('[data-testid=progress]').dataset.sent) > n",
        arg=before,
        timeout=30_000,
    )
    assert page.evaluate("window.notReloaded === true")  # the poll moved it, not a reload
    assert sent_count(page) < RECIPIENTS  # still sending: the spread takes a minute
    expect(page.locator(".report-chart canvas")).to_have_count(1)  # uPlot drew the hours
    save_screenshot(page, "campaign-report")

    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_test_id("campaign-status")).to_have_text("Paused")
    expect(page.get_by_role("button", name="Pause")).to_have_count(0)

    page.get_by_role("button", name="Resume").click()
    expect(page.get_by_test_id("campaign-status")).to_have_text("Sending")

    page.get_by_role("link", name="Cancel campaign…").click()
    page.get_by_role("button", name="Yes, cancel the campaign").click()
    expect(page.get_by_test_id("campaign-status")).to_have_text("Cancelled")
    expect(page.get_by_role("button", name="Resume")).to_have_count(0)

    page.goto("/campaigns?status=cancelled")
    expect(page.get_by_test_id(f"campaign-{campaign_id}")).to_contain_text("Order updates <live>")
