"""The segment editor in a real browser: the count follows the expression as it is
typed (htmx, no reload), and a wrong expression points at its line and column."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_the_count_follows_typing_and_an_error_points_at_its_place(
    signed_in_page: Page,
) -> None:
    page = signed_in_page
    page.goto("/segments/new")
    page.wait_for_load_state()  # its scripts listen: what follows is theirs
    page.evaluate("window.notReloaded = true")
    expression = page.get_by_label("Expression", exact=True)

    expression.fill('phone = "+10000000000"')
    expect(page.get_by_test_id("segment-count")).to_have_text("0 contacts match now")

    expression.fill('phone = "+10000000000"\nand country =')
    problem = page.get_by_test_id("segment-problem")
    expect(problem).to_contain_text(
        "Line 2, column 14: the expression cannot be read on from here."
    )
    problem.get_by_role("button", name="Show in the expression").click()
    expect(expression).to_be_focused()
    # The cursor stands where the parser stopped: just after "and country =".
    assert page.evaluate("document.getElementById('expression').selectionStart") == len(
        'phone = "+10000000000"\nand country ='
    )
    assert page.evaluate("window.notReloaded === true")
