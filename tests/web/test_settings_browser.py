"""The settings, members, invitation and profile pages in a real browser against a
real `smscast serve`: the role check on the server, the quiet-hours clock following the
times as they are typed, an invitation from link to first sign-in, and a member
changing their own language and password."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.browser


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@portal.test"


def test_an_agent_gets_the_403_page_even_by_typing_the_address(
    page: Page, add_member: Any, sign_in_as: Any
) -> None:
    agent = add_member(unique("agent"), "agent")
    sign_in_as(page, agent)
    expect(page.get_by_role("navigation", name="Main menu")).to_be_visible()
    expect(page.get_by_role("link", name="Settings")).to_have_count(0)
    answer = page.goto("/settings")
    assert answer is not None and answer.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("You may not do this")
    answer = page.goto("/settings/members")
    assert answer is not None and answer.status == 403


def test_the_quiet_clock_follows_the_hours_and_they_are_saved(signed_in_page: Page) -> None:
    page = signed_in_page
    page.goto("/settings")
    page.wait_for_load_state()  # its scripts listen: what follows is theirs
    page.evaluate("window.notReloaded = true")
    caption = page.get_by_test_id("quiet-clock-caption")
    expect(caption).to_contain_text("from 21:00 to 08:00")
    arc_before = page.get_by_test_id("quiet-arc").get_attribute("d")

    page.get_by_label("From", exact=True).fill("22:30")
    page.get_by_label("Until", exact=True).fill("06:00")
    expect(caption).to_contain_text("from 22:30 to 06:00")
    expect(caption).to_contain_text("7 h 30 min a day")
    assert page.get_by_test_id("quiet-arc").get_attribute("d") != arc_before
    page.get_by_label("No quiet hours", exact=True).check()
    expect(caption).to_have_text(re.compile("No quiet hours"))
    expect(page.get_by_test_id("quiet-arc")).to_have_count(0)
    page.get_by_label("No quiet hours", exact=True).uncheck()
    expect(caption).to_contain_text("from 22:30 to 06:00")
    assert page.evaluate("window.notReloaded === true")

    page.get_by_test_id("save-settings").click()
    expect(page.get_by_test_id("settings-saved")).to_be_visible()
    expect(page.get_by_label("From", exact=True)).to_have_value("22:30")
    # Back to the defaults the other browser tests expect.
    page.get_by_label("From", exact=True).fill("21:00")
    page.get_by_label("Until", exact=True).fill("08:00")
    page.get_by_test_id("save-settings").click()
    expect(page.get_by_test_id("settings-saved")).to_be_visible()
    expect(caption).to_contain_text("from 21:00 to 08:00")


def test_an_invited_person_opens_the_link_sets_a_password_and_signs_in(
    signed_in_page: Page, browser: Browser, portal_url: str, sign_in_as: Any
) -> None:
    from conftest import Credentials

    page = signed_in_page
    email = unique("invited")
    page.goto("/settings/members")
    page.get_by_test_id("invite-form").get_by_label("Email").fill(email)
    page.get_by_test_id("invite-form").get_by_label("Role").select_option("agent")
    page.get_by_role("button", name="Create the invitation").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Invitation created")
    expect(page.get_by_test_id("invite-not-mailed")).to_be_visible()
    link = page.get_by_test_id("secret-value").input_value()
    assert link.startswith(portal_url + "/invite/")
    page.wait_for_load_state("load")  # the copy button's script listens from here on
    page.get_by_test_id("copy-secret").click()
    expect(page.get_by_test_id("copy-status")).not_to_be_empty()
    page.get_by_test_id("invite-done").click()
    expect(page.get_by_test_id("invitation-row").filter(has_text=email)).to_have_count(1)

    fresh = browser.new_context(base_url=portal_url)
    try:
        guest = fresh.new_page()
        guest.goto(link)
        expect(guest.get_by_role("heading", level=1)).to_contain_text("Join")
        guest.get_by_label("Your name").fill("Ivy Invited")
        guest.get_by_label("Choose a password").fill("short")
        guest.get_by_role("button", name="Join the workspace").click()
        expect(guest.locator("#password-error")).to_contain_text("at least 10 characters")
        expect(guest.get_by_label("Your name")).to_have_value("Ivy Invited")
        guest.get_by_label("Choose a password").fill("ivy's own passphrase")
        guest.get_by_role("button", name="Join the workspace").click()
        guest.wait_for_url(re.compile(r"/dashboard"))
        expect(guest.get_by_test_id("user-menu")).to_have_text("Ivy Invited")
        guest.get_by_test_id("user-menu").click()
        guest.get_by_role("button", name="Sign out").click()
        guest.wait_for_url(re.compile(r"/login"))
        sign_in_as(guest, Credentials(email, "ivy's own passphrase"))
        expect(guest.get_by_test_id("user-menu")).to_have_text("Ivy Invited")
        used = guest.goto(link)
        assert used is not None and used.status == 410
    finally:
        fresh.close()
    page.goto("/settings/members")
    expect(page.get_by_test_id("member-row").filter(has_text=email)).to_contain_text("agent")


def test_a_member_changes_their_language_and_password_on_the_profile(
    page: Page, browser: Browser, portal_url: str, add_member: Any, sign_in_as: Any
) -> None:
    from conftest import Credentials

    member = add_member(unique("marketer"), "marketer")
    sign_in_as(page, member)
    page.get_by_test_id("user-menu").click()
    page.get_by_role("link", name="Your profile").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your profile")

    page.get_by_label("Current password").fill(member.password)
    page.get_by_label("New password").fill("a new marketer passphrase")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_test_id("profile-notice")).to_contain_text("Your password is changed.")

    page.get_by_label("Language of the portal").select_option("pl")
    page.get_by_role("button", name="Save language").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Twój profil")
    expect(page.locator("html")).to_have_attribute("lang", "pl")

    fresh = browser.new_context(base_url=portal_url)
    try:
        other = fresh.new_page()
        other.goto("/login")
        other.get_by_label("Email").fill(member.email)
        other.get_by_label("Password").fill(member.password)
        other.get_by_role("button", name="Sign in").click()
        expect(other.locator("#email-error")).to_contain_text("Wrong email or password.")
        sign_in_as(other, Credentials(member.email, "a new marketer passphrase"))
        expect(other.locator("html")).to_have_attribute("lang", "pl")  # kept with the account
    finally:
        fresh.close()
