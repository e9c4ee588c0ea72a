"""API keys and webhooks in a real browser against a real `smscast serve`: a key created
in the portal works against the API once copied, and stops after revoking; a webhook's
test delivery, sent by the server's own worker to a receiver on loopback, shows in its
log without a reload."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

sys.path.insert(0, str(Path(__file__).parent.parent / "api"))
from webhook_receiver import Receiver, webhook_receiver

if TYPE_CHECKING:  # the harness's types (tests/web/conftest.py)
    from conftest import Screenshot

pytestmark = pytest.mark.browser


def test_an_api_key_created_in_the_portal_works_once_copied_and_stops_after_revoking(
    signed_in_page: Page, portal_url: str, context: BrowserContext
) -> None:
    page = signed_in_page
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=portal_url)
    name = f"Shop backend {uuid.uuid4().hex[:6]}"
    page.goto("/settings/api-keys")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Role").select_option("viewer")
    page.get_by_role("button", name="Create key").click()

    expect(page.get_by_role("heading", name="Your new API key")).to_be_visible()
    page.bring_to_front()  # the clipboard is the focused page's
    page.wait_for_load_state("load")  # the copy button's script listens from here on
    page.get_by_test_id("copy-secret").click()
    status = page.get_by_test_id("copy-status")
    expect(status).not_to_have_text("", timeout=15_000)
    if status.inner_text() == "Copied to the clipboard.":
        token = page.evaluate("navigator.clipboard.readText()")
    else:  # the browser refused the clipboard: the page selected the key to copy by hand
        expect(status).to_contain_text("Ctrl+C")
        token = page.evaluate("window.getSelection().toString() || document.activeElement.value")
    assert token == page.get_by_test_id("secret-value").input_value()
    assert token.startswith("smc_")

    bearer = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{portal_url}/api/v1/contacts", headers=bearer).status_code == 200

    page.get_by_role("link", name="I have stored the key").click()
    row = page.get_by_test_id("key-row").filter(has_text=name)
    expect(row.get_by_test_id("key-state")).to_have_text("active")
    expect(row).not_to_contain_text(token.split("_")[2])  # the secret is never shown again
    row.get_by_role("link", name=f"Revoke key {name}").click()
    page.get_by_role("button", name="Revoke key").click()
    expect(page.get_by_test_id("key-revoked")).to_contain_text(name)
    expect(row.get_by_test_id("key-state")).to_contain_text("revoked")
    assert httpx.get(f"{portal_url}/api/v1/contacts", headers=bearer).status_code == 401


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as found:
        yield found


def test_a_webhooks_test_delivery_shows_in_its_log(
    signed_in_page: Page, portal_url: str, receiver: Receiver, save_screenshot: Screenshot
) -> None:
    """The harness's server lets webhooks reach loopback (SMSCAST_WEBHOOK_ALLOW_PRIVATE),
    where the receiver listens; the refusal of private addresses is the page tests'."""
    page, site = signed_in_page, portal_url

    url = f"{receiver.url}/{uuid.uuid4().hex[:8]}"
    page.goto(f"{site}/settings/webhooks/new")
    page.get_by_label("Address").fill(url)
    page.get_by_label("a text was delivered").check()
    page.get_by_role("button", name="Add webhook").click()
    expect(page.get_by_role("heading", name="Webhook added")).to_be_visible()
    assert page.get_by_test_id("secret-value").input_value().startswith("whsec_")
    page.get_by_role("link", name="I have stored the secret").click()

    expect(page.get_by_test_id("no-deliveries")).to_be_visible()
    page.get_by_test_id("send-test").click()
    expect(page.get_by_test_id("test-queued")).to_be_visible()
    page.wait_for_load_state()  # its scripts listen: what follows is theirs
    page.evaluate("window.notReloaded = true")
    row = page.get_by_test_id("delivery-row").first
    expect(row.get_by_test_id("delivery-state")).to_have_text("succeeded", timeout=20_000)
    expect(row.get_by_test_id("status-code")).to_have_text("HTTP 200")
    expect(row).to_contain_text("webhook.test")
    assert page.evaluate("window.notReloaded === true")  # htmx brought it in
    [(headers, _)] = receiver.posts
    assert headers["Smscast-Event"] == "webhook.test"
    save_screenshot(page, "settings-webhook-log")
