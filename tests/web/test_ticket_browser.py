"""One ticket in a real browser, against the real server and its simulator: an agent
answers with a saved reply and watches the delivery report arrive without a reload;
assigns, notes, solves and reopens; and two agents on one ticket see each other's
replies and a "someone is replying" mark. Tickets come from `smscast simulator send-mo`
from new phones (the server is shared with other tests)."""

from __future__ import annotations

import json
import secrets

import pytest
from playwright.sync_api import Browser, Page, expect

from conftest import ADMIN_EMAIL, AddMember, PortalServer, Screenshot, SignIn
from smscast.engine.sending.connectors import SIMULATOR_NUMBER

pytestmark = pytest.mark.browser


def new_ticket(portal_server: PortalServer, words: str) -> tuple[int, str]:
    """A text that matches no keyword, from a phone never seen: (its ticket, the phone)."""
    portal_server.wait_until_bound()
    sender = "+48603" + "".join(secrets.choice("0123456789") for _ in range(6))
    said = json.loads(portal_server.smscast(
        "simulator", "send-mo", "--from", sender, "--to", SIMULATOR_NUMBER, "--wait", "20",
        "--json", words,
    ))  # fmt: skip
    route = said["route"]
    assert route is not None and route["route"] == "ticket", said
    return int(route["ticket_id"]), sender


def test_an_agent_replies_and_sees_the_delivery_report(
    signed_in_page: Page, portal_server: PortalServer, save_screenshot: Screenshot
) -> None:
    page = signed_in_page
    title = f"Parcel on its way {secrets.token_hex(2)}"
    page.goto("/inbox/saved-replies")
    page.get_by_label("Title").fill(title)
    page.get_by_label("Text").fill("Hello! We got your text from {{ phone }}: it ships today.")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("The saved reply was saved.")).to_be_visible()

    ticket, phone = new_ticket(portal_server, "Where is my parcel? It is late.")
    page.goto(f"/inbox/{ticket}")
    expect(page.get_by_test_id("text-in")).to_contain_text("Where is my parcel? It is late.")
    expect(page.get_by_test_id("contact-card")).to_contain_text(phone)
    page.get_by_label("Saved reply").select_option(label=title)  # fills the box at once
    answer = f"Hello! We got your text from {phone}: it ships today."
    expect(page.get_by_label("Your reply")).to_have_value(answer)
    expect(page.get_by_test_id("parts-count")).to_have_text("1")
    expect(page.get_by_test_id("encoding")).to_have_text("GSM-7")

    page.get_by_role("button", name="Send the reply").click()
    expect(page.get_by_text("Your reply is queued")).to_be_visible()
    page.wait_for_load_state()  # its scripts listen: what follows is theirs
    page.evaluate("window.notReloaded = true")
    reply = page.get_by_test_id("text-out").filter(has_text=answer)
    expect(reply).to_be_visible()
    # The simulator accepts it and reports it delivered: the page follows, no reload.
    expect(reply.get_by_test_id("reply-status")).to_have_text("delivered", timeout=20_000)
    assert page.evaluate("window.notReloaded === true")
    expect(page.get_by_test_id("ticket-state")).to_have_text("pending")
    save_screenshot(page, "ticket")

    # At a phone's width the card goes under the conversation: nothing scrolls sideways.
    page.set_viewport_size({"width": 375, "height": 800})
    expect(reply).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_assign_note_solve_reopen(signed_in_page: Page, portal_server: PortalServer) -> None:
    page = signed_in_page
    ticket, _phone = new_ticket(portal_server, "Can I change my delivery address?")
    page.goto(f"/inbox/{ticket}")

    page.get_by_label("Assign to").select_option("me")
    page.get_by_role("button", name="Assign", exact=True).click()
    expect(page.get_by_text("The assignee was changed.")).to_be_visible()
    expect(page.get_by_test_id("ticket-assignee")).to_have_text(ADMIN_EMAIL)

    note = f"Checked with the courier {secrets.token_hex(2)}"
    page.get_by_label("Note for the team").fill(note)
    page.get_by_role("button", name="Add the note").click()
    expect(page.get_by_test_id("note").filter(has_text=note)).to_be_visible()

    page.get_by_role("button", name="Solve").click()
    expect(page.get_by_test_id("ticket-state")).to_have_text("solved")
    page.get_by_role("button", name="Reopen").click()
    expect(page.get_by_test_id("ticket-state")).to_have_text("open")
    expect(page.get_by_test_id("note").last).to_contain_text("Reopened by")

    page.get_by_label("Assign to").select_option("")
    page.get_by_role("button", name="Assign", exact=True).click()
    expect(page.get_by_test_id("ticket-assignee")).to_have_text("nobody")


def test_two_agents_on_one_ticket_see_each_others_replies_and_a_replying_mark(
    browser: Browser, portal_server: PortalServer, add_member: AddMember, sign_in_as: SignIn
) -> None:
    tag = secrets.token_hex(3)
    ola = add_member(f"ola-{tag}@portal.test", "agent")
    jan = add_member(f"jan-{tag}@portal.test", "agent")
    ticket, _phone = new_ticket(portal_server, "Do you deliver on Sundays?")
    pages = []
    for who in (ola, jan):
        context = browser.new_context(base_url=portal_server.url)
        page = context.new_page()
        sign_in_as(page, who)
        page.goto(f"/inbox/{ticket}")
        pages.append(page)
    ola_page, jan_page = pages
    jan_page.wait_for_load_state()  # its scripts listen: what follows is theirs
    jan_page.evaluate("window.notReloaded = true")
    mark = jan_page.get_by_test_id("replying")
    expect(mark).to_be_hidden()

    ola_page.get_by_label("Your reply").press_sequentially("Yes, we deliver on Sundays")
    expect(mark).to_have_text(f"{ola.email} is replying…", timeout=10_000)
    expect(ola_page.get_by_test_id("replying")).to_be_hidden()  # not told of herself

    ola_page.get_by_role("button", name="Send the reply").click()
    expect(ola_page.get_by_text("Your reply is queued")).to_be_visible()
    their_reply = jan_page.get_by_test_id("text-out").filter(has_text="we deliver on Sundays")
    expect(their_reply).to_be_visible(timeout=10_000)
    expect(mark).to_be_hidden()  # sent: no longer replying
    assert jan_page.evaluate("window.notReloaded === true")

    # Jan answers too; Ola sees it come in.
    jan_page.get_by_label("Your reply").fill("And on holidays until noon.")
    jan_page.get_by_role("button", name="Send the reply").click()
    expect(ola_page.get_by_test_id("text-out").filter(has_text="until noon")).to_be_visible(
        timeout=10_000
    )
    for page in pages:
        page.context.close()
