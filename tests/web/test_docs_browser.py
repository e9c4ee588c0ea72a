"""The API docs as a reader opens them: Chromium renders /docs from the real server with
the network unplugged, and the operations are there to read."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Page, expect

if TYPE_CHECKING:  # the harness's types (tests/web/conftest.py), for readers and checkers
    from conftest import Requests

pytestmark = pytest.mark.browser


def test_the_api_docs_render_their_operations_offline(
    page: Page, unplugged: Requests, portal_url: str
) -> None:
    page.goto("/docs")

    campaigns = page.locator("#operations-tag-campaigns")
    expect(campaigns).to_be_visible()
    expect(page.get_by_text("Create a draft campaign")).to_be_visible()
    expect(page.get_by_text("Unable to render this definition")).to_have_count(0)
    assert page.evaluate("window.versions.swaggerUI.version").startswith("5.")

    assert unplugged.off_machine == []
    assert f"{portal_url}/openapi.json" in unplugged.seen
    assert f"{portal_url}/docs/static/swagger-ui-bundle.js" in unplugged.seen
