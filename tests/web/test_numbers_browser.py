"""The numbers pages in a real browser against a real `smscast serve`: a number added in
the portal, its automatic reply typed with the live parts counter and saved, answers a
text injected with `smscast simulator send-mo`, and the number's recent texts show the
text, the route and the answer delivered; readers get neither form nor the right to post.

The server is shared with other browser tests, which rely on texts to the simulator's
own number (4000) becoming tickets: this test adds a short code of its own and never
touches 4000's rules."""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Page, expect

if TYPE_CHECKING:  # the harness's types (tests/web/conftest.py)
    from conftest import AddMember, PortalServer, SignIn

pytestmark = pytest.mark.browser

DELIVERY_WAIT_S = 20.0


def unique_digits(count: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(count))


def add_short_code(page: Page) -> str:
    """Adds a short code no other test uses on the simulator's connector, through the
    "Add number" form; returns it, with its page open."""
    code = f"739{unique_digits(5)}"
    page.goto("/numbers")
    form = page.get_by_test_id("add-number")
    form.get_by_label("Number", exact=True).fill(code)
    form.get_by_label("Connector").select_option("simulator")
    form.get_by_label("Country").fill("PL")
    form.get_by_role("button", name="Add number").click()
    expect(page.get_by_test_id("number-title")).to_contain_text(code)
    expect(page.get_by_role("status")).to_contain_text("The number was added.")
    return code


def test_a_number_level_reply_set_in_the_portal_answers(
    signed_in_page: Page, portal_server: PortalServer
) -> None:
    page = signed_in_page
    code = add_short_code(page)
    page.wait_for_load_state()  # htmx counts what is typed once the page has loaded
    reply = page.get_by_label("Reply", exact=True)

    reply.fill("Dzięki! Odpiszemy wkrótce.")  # "ę" is no GSM-7 character
    expect(page.get_by_test_id("encoding")).to_have_text("UCS-2")
    reply.fill("Thanks for your text! We answer within the hour.")
    expect(page.get_by_test_id("encoding")).to_have_text("GSM-7")
    expect(page.get_by_test_id("parts-count")).to_have_text("1")
    page.get_by_role("button", name="Save the reply").click()
    expect(page.get_by_role("status")).to_contain_text("The automatic reply was saved")

    sender = f"+48600{unique_digits(6)}"
    said = portal_server.smscast(
        "simulator", "send-mo", "Are you open on Sunday?", "--from", sender, "--to", code
    )
    assert "default rule" in said, said

    row = page.get_by_test_id("inbound-row").first
    deadline = time.monotonic() + DELIVERY_WAIT_S
    while True:  # the page is not live: read it again until the answer is delivered
        page.reload()
        answer = row.get_by_test_id("inbound-answer").inner_text()
        if "delivered" in answer or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    expect(row.get_by_test_id("inbound-text")).to_have_text("Are you open on Sunday?")
    expect(row.get_by_test_id("inbound-route")).to_have_text("The number's reply")
    expect(row).to_contain_text(sender)
    expect(row.get_by_test_id("inbound-answer")).to_contain_text(
        "Thanks for your text! We answer within the hour."
    )
    expect(row.get_by_test_id("inbound-answer")).to_contain_text("delivered")
    expect(page.get_by_test_id("figure-responses")).to_have_text("1")

    page.goto("/numbers")
    listed = page.get_by_test_id("number-row").filter(has_text=code)
    expect(listed.get_by_test_id("number-auto-reply")).to_contain_text(
        "Thanks for your text! We answer within the hour."
    )


def test_a_viewer_sees_numbers_but_cannot_add_or_answer(
    page: Page, add_member: AddMember, sign_in_as: SignIn
) -> None:
    viewer = add_member(f"viewer-{unique_digits(8)}@numbers.test", "viewer")
    sign_in_as(page, viewer)

    page.goto("/numbers")
    expect(page.get_by_role("heading", name="Numbers", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Add number")).to_have_count(0)
    page.get_by_role("link", name="4000", exact=True).click()
    expect(page.get_by_test_id("number-title")).to_contain_text("4000")
    expect(page.get_by_label("Reply", exact=True)).to_have_count(0)
    number_page = page.url

    # Even a well-formed POST, with the page's own CSRF token, is refused by role.
    statuses = page.evaluate(
        """async (paths) => {
            const token = document.querySelector('meta[name="csrf-token"]').content;
            const post = (path, body) => fetch(path, {method: "POST", body: body,
                headers: {"X-CSRF-Token": token,
                          "Content-Type": "application/x-www-form-urlencoded"}});
            return [(await post(paths[0], "reply=Hi")).status,
                    (await post(paths[1], "number=7390001&connector=simulator&country=PL")).status];
        }""",
        [f"{number_page}/auto-reply", "/numbers"],
    )
    assert statuses == [403, 403]
