"""The contacts pages in a real browser against a real `smscast serve`: a CSV imported
through the upload, mapping and progress steps; a contact found by search and its
consent history read; a name holding a script shown as text."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Dialog, FilePayload, Page, expect

if TYPE_CHECKING:  # the harness's types (tests/web/conftest.py)
    from conftest import PortalServer, Screenshot

pytestmark = pytest.mark.browser

ROWS = 3000
EVIDENCE = "browser test: ticked 'Text me offers' at the shop counter"


def test_import_a_csv_follows_its_progress_to_the_counters(
    signed_in_page: Page, save_screenshot: Screenshot
) -> None:
    page = signed_in_page
    # "Komórka" is no header the importer knows: the phone column is mapped by hand.
    lines = ["Komórka;Imię;Miasto"] + [f"+4860150{i:04d};Klient {i};Gdynia" for i in range(ROWS)]
    lines.append("not a phone;Zły;Gdynia")
    page.goto("/contacts/import")
    upload: FilePayload = {
        "name": "klienci.csv",
        "mimeType": "text/csv",
        "buffer": ("\n".join(lines) + "\n").encode(),
    }
    page.get_by_label("CSV file").set_input_files(files=upload)
    page.get_by_role("button", name="Upload and map the columns").click()

    komorka = page.get_by_label("Komórka")
    expect(komorka).to_have_value("attribute")
    expect(page.get_by_label("Imię")).to_have_value("first_name")
    komorka.select_option("phone")
    page.get_by_role("button", name="Import", exact=True).click()

    page.wait_for_url("**/contacts/import/*")
    page.wait_for_load_state()  # its scripts listen: what follows is theirs
    page.evaluate("window.notReloaded = true")
    progress = page.get_by_test_id("import-progress")
    expect(progress).to_have_attribute("data-status", "finished", timeout=60_000)
    bar = page.get_by_test_id("import-bar")
    expect(bar).to_have_attribute("value", str(ROWS + 1))
    expect(bar).to_have_attribute("max", str(ROWS + 1))
    expect(page.get_by_test_id("import-percent")).to_have_text("100%")
    expect(page.get_by_test_id("import-created")).to_have_text("3,000")
    expect(page.get_by_test_id("import-refused")).to_have_text("1")
    assert page.evaluate("window.notReloaded === true")  # htmx swapped the block in
    expect(page.get_by_test_id("import-refused-download")).to_be_visible()
    save_screenshot(page, "contacts-import")


def test_search_a_contact_and_read_its_consent_history(
    signed_in_page: Page, portal_server: PortalServer
) -> None:
    page = signed_in_page
    portal_server.smscast("consent", "opt-in", "+48601777001", "--channel", "sms",
                          "--evidence", EVIDENCE)  # fmt: skip

    page.goto("/contacts")
    page.get_by_label("Search").fill("601 777 001")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_test_id("contact-count")).to_have_text("1 contact")
    page.get_by_role("link", name="+48601777001").click()

    history = page.get_by_test_id("consent-history")
    expect(history).to_contain_text(EVIDENCE)
    expect(history).to_contain_text("opted in")
    expect(page.get_by_test_id("consent-state")).to_contain_text("opted in")


def test_a_script_in_a_name_is_shown_as_text(
    signed_in_page: Page, portal_server: PortalServer
) -> None:
    page = signed_in_page
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    name = "<script>alert(1)</script>"
    source = portal_server.workdir / "script-name.csv"
    source.write_text(f'phone,first_name\n+48601888001,"{name}"\n')
    portal_server.smscast("contacts", "import", str(source))

    page.goto("/contacts?q=601888001")
    expect(page.get_by_test_id("contact-name")).to_have_text(name)
    page.get_by_role("link", name="+48601888001").click()
    expect(page.get_by_test_id("contact-title")).to_have_text(name)

    assert dialogs == []
