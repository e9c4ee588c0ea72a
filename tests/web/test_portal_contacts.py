"""The contacts pages through the real site on a real database: search, the segment
filter and its errors, export, one contact's page with its consent evidence and
messages, edit, opt-out, erase (confirmed, refused for a viewer), escaping, plurals."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from html import unescape

import pytest
from fastapi.testclient import TestClient
from portal_site import Clock, build_site, csrf_of, make_user, sign_in
from sqlalchemy import Engine

from smscast.config import Settings
from smscast.core.consent import Action, Source
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.contacts.consent import ConsentChange, consent_history, record_consent
from smscast.engine.contacts.edits import ContactFields, create_contact, get_contact
from smscast.engine.contacts.records import count_contacts
from smscast.engine.inbound.numbers import add_number
from smscast.engine.sending.connectors import add_connector
from smscast.engine.sending.single_messages import send_message

OWNER = "ola@shop.test"
VIEWER = "vic@shop.test"
SIGN_UP_TEXT = "Yes, text me offers from Shop (form at shop.test/join, from 203.0.113.7)"


@pytest.fixture
def site(settings: Settings, engine: Engine, now: datetime) -> TestClient:
    return TestClient(build_site(settings, engine, Clock(now)), raise_server_exceptions=True)


@pytest.fixture
def owner(engine: Engine, workspace: WorkspaceRef, now: datetime) -> int:
    return make_user(engine, [workspace], OWNER, now=now)


@pytest.fixture
def viewer(engine: Engine, workspace: WorkspaceRef, now: datetime) -> int:
    return make_user(engine, [workspace], VIEWER, role="viewer", now=now)


def add(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime, phone: str,
    **attributes: str,
) -> int:  # fmt: skip
    fields = ContactFields(phone=phone, attributes=attributes)
    return int(create_contact(engine, settings, workspace, fields, actor="t", now=now)["id"])


@pytest.fixture
def people(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> dict[str, int]:
    return {
        "ala": add(engine, settings, workspace, now, "+48601000001", first_name="Ala",
                   last_name="Nowak", city="Kraków"),
        "bartek": add(engine, settings, workspace, now, "+48601000002", first_name="Bartek",
                      city="Gdańsk"),
        "celina": add(engine, settings, workspace, now, "+48602000003", first_name="Celina",
                      city="Kraków", plan="gold"),
    }  # fmt: skip


def listed_phones(html: str) -> list[str]:
    return re.findall(r'<a href="/contacts/\d+">(\+\d+)</a>', html)


def test_search_finds_by_phone_name_and_attribute_value(
    site: TestClient, owner: int, people: dict[str, int]
) -> None:
    sign_in(site, OWNER)

    assert listed_phones(site.get("/contacts", params={"q": "601 000 002"}).text) == [
        "+48601000002"
    ]
    assert listed_phones(site.get("/contacts", params={"q": "nowak"}).text) == ["+48601000001"]
    assert listed_phones(site.get("/contacts", params={"q": "kraków"}).text) == [
        "+48601000001", "+48602000003",
    ]  # fmt: skip
    # An attribute's name is not its value: nobody is found by "city".
    assert listed_phones(site.get("/contacts", params={"q": "city"}).text) == []
    everyone = site.get("/contacts").text
    assert len(listed_phones(everyone)) == 3
    assert 'data-testid="contact-count">3 contacts<' in everyone


def test_segment_filter_narrows_and_a_wrong_one_names_line_and_column(
    site: TestClient, owner: int, people: dict[str, int]
) -> None:
    sign_in(site, OWNER)

    found = site.get("/contacts", params={"segment": 'city = "Kraków"', "q": "celina"})
    assert listed_phones(found.text) == ["+48602000003"]

    wrong = site.get("/contacts", params={"segment": 'city = "Kraków"\nand and plan'})
    assert wrong.status_code == 422
    text = unescape(wrong.text)
    assert "The segment expression is wrong at line 2, column" in text
    assert 'class="error-summary"' in wrong.text
    assert 'href="#segment"' in wrong.text


def test_export_downloads_the_contacts_the_search_found(
    site: TestClient, owner: int, people: dict[str, int]
) -> None:
    sign_in(site, OWNER)

    answer = site.get("/contacts/export.csv", params={"q": "kraków"})

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [(row["phone"], row["first_name"], row["city"]) for row in rows] == [
        ("+48601000001", "Ala", "Kraków"), ("+48602000003", "Celina", "Kraków"),
    ]  # fmt: skip
    assert rows[1]["plan"] == "gold"


def test_contact_page_shows_consent_evidence_and_messages(
    site: TestClient, owner: int, people: dict[str, int], engine: Engine, settings: Settings,
    workspace: WorkspaceRef, now: datetime,
) -> None:  # fmt: skip
    record_consent(engine, settings, workspace, "+48601000001", ConsentChange(
        "sms", "promotional", Action.OPT_IN, Source.WEB_FORM, SIGN_UP_TEXT, "sign-up page", now,
    ))  # fmt: skip
    add_connector(engine, workspace, name="sim", kind="smpp", actor="t", now=now,
                  settings={"host": "127.0.0.1", "port": 2775, "system_id": "smscast"},
                  rate_per_s=0.0, window=10)  # fmt: skip
    add_number(engine, workspace, "4000", connector="sim", actor="t", now=now)
    send_message(engine, workspace, "+48601000001", "Your parcel is on its way", sender=None,
                 purpose="informational", valid_until=None, actor="t", now=now)  # fmt: skip
    sign_in(site, OWNER)

    page = site.get(f"/contacts/{people['ala']}")

    assert page.status_code == 200
    history = unescape(page.text.split('data-testid="consent-history"')[1].split("</table>")[0])
    assert SIGN_UP_TEXT in history
    assert "sign-up page" in history and "opted in" in history
    messages = page.text.split('data-testid="contact-messages"')[1].split("</table>")[0]
    assert "Your parcel is on its way" in messages and "queued" in messages
    assert "Kraków" in page.text


def test_edit_changes_name_attributes_and_time_zone(
    site: TestClient, owner: int, people: dict[str, int], engine: Engine,
    workspace: WorkspaceRef,
) -> None:  # fmt: skip
    sign_in(site, OWNER)
    page = site.get(f"/contacts/{people['celina']}")
    form = {
        "csrf_token": csrf_of(page.text), "first_name": "Celina", "last_name": "Wiśniewska",
        "language": "pl", "timezone": "Europe/London", "email": "celina@example.com",
        "tags": "vip, newsletter", "attributes": "city = Poznań",
    }  # fmt: skip

    answer = site.post(f"/contacts/{people['celina']}/edit", data=form, follow_redirects=False)

    assert answer.status_code == 303
    stored = get_contact(engine, workspace, people["celina"])
    # "plan" went with its line.
    assert stored["attributes"] == {"first_name": "Celina", "last_name": "Wiśniewska",
                                    "city": "Poznań"}  # fmt: skip
    assert (stored["timezone"], stored["language"], stored["tags"]) == (
        "Europe/London", "pl", ["vip", "newsletter"],
    )  # fmt: skip

    wrong = site.post(f"/contacts/{people['celina']}/edit",
                      data={**form, "timezone": "Mars/Olympus"})  # fmt: skip
    assert wrong.status_code == 422
    assert "Enter a time zone, such as Europe/Warsaw." in wrong.text
    assert 'value="Mars/Olympus"' in wrong.text


def test_opt_out_from_the_page_is_in_the_ledger(
    site: TestClient, owner: int, people: dict[str, int], engine: Engine,
    workspace: WorkspaceRef,
) -> None:  # fmt: skip
    sign_in(site, OWNER)
    page = site.get(f"/contacts/{people['bartek']}")

    answer = site.post(f"/contacts/{people['bartek']}/opt-out", data={
        "csrf_token": csrf_of(page.text), "purpose": "all", "evidence": "asked on the phone",
    }, follow_redirects=False)  # fmt: skip

    assert answer.status_code == 303
    [event] = consent_history(engine, workspace, "+48601000002")["events"]
    assert (event["action"], event["source"], event["evidence"], event["actor"]) == (
        "opt_out", "ui", "asked on the phone", f"user:{OWNER}",
    )  # fmt: skip
    shown = site.get(f"/contacts/{people['bartek']}").text
    assert "asked on the phone" in shown


def test_erase_asks_first_then_erases(
    site: TestClient, owner: int, people: dict[str, int], engine: Engine,
    workspace: WorkspaceRef,
) -> None:  # fmt: skip
    sign_in(site, OWNER)
    confirm = site.get(f"/contacts/{people['ala']}/erase")
    assert confirm.status_code == 200
    assert "This cannot be undone." in confirm.text
    token = csrf_of(confirm.text)

    unticked = site.post(f"/contacts/{people['ala']}/erase", data={"csrf_token": token})
    assert unticked.status_code == 422
    assert count_contacts(engine, workspace)["contacts"] == 3

    confirmed = {"csrf_token": token, "confirm": "yes"}
    done = site.post(f"/contacts/{people['ala']}/erase", data=confirmed, follow_redirects=False)
    assert (done.status_code, done.headers["location"]) == (303, "/contacts?erased=1")
    assert count_contacts(engine, workspace)["contacts"] == 2
    assert site.get(f"/contacts/{people['ala']}").status_code == 404


def test_a_viewer_sees_no_buttons_and_is_refused_the_erasure(
    site: TestClient, viewer: int, people: dict[str, int], engine: Engine,
    workspace: WorkspaceRef,
) -> None:  # fmt: skip
    sign_in(site, VIEWER)
    page = site.get(f"/contacts/{people['ala']}")
    assert page.status_code == 200
    assert "Erase this contact" not in page.text
    assert "/opt-out" not in page.text and "/edit" not in page.text
    assert "Import a CSV file" not in site.get("/contacts").text

    assert site.get(f"/contacts/{people['ala']}/erase").status_code == 403
    refused = site.post(f"/contacts/{people['ala']}/erase",
                        data={"csrf_token": csrf_of(page.text), "confirm": "yes"})  # fmt: skip
    assert refused.status_code == 403
    assert count_contacts(engine, workspace)["contacts"] == 3


def test_a_write_without_the_csrf_token_is_refused(
    site: TestClient, owner: int, people: dict[str, int], engine: Engine,
    workspace: WorkspaceRef,
) -> None:  # fmt: skip
    sign_in(site, OWNER)

    answer = site.post(f"/contacts/{people['ala']}/erase", data={"confirm": "yes"})

    assert answer.status_code == 403
    assert count_contacts(engine, workspace)["contacts"] == 3


def test_a_script_in_a_name_shows_as_text(
    site: TestClient, owner: int, engine: Engine, settings: Settings, workspace: WorkspaceRef,
    now: datetime,
) -> None:  # fmt: skip
    contact_id = add(engine, settings, workspace, now, "+48603000004",
                     first_name="<script>alert(1)</script>")  # fmt: skip
    sign_in(site, OWNER)

    for path in ("/contacts", f"/contacts/{contact_id}"):
        html = site.get(path).text
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_counts_use_polish_plural_forms(
    site: TestClient, owner: int, engine: Engine, settings: Settings, workspace: WorkspaceRef,
    now: datetime,
) -> None:  # fmt: skip
    sign_in(site, OWNER)
    page = site.get("/contacts")
    site.post("/language", data={"csrf_token": csrf_of(page.text), "language": "pl",
                                 "next": "/contacts"})  # fmt: skip

    def count() -> str:
        found = re.search(r'data-testid="contact-count">([^<]+)<', site.get("/contacts").text)
        assert found
        return found.group(1)

    seen = []
    for added in (["+48604000001"], ["+48604000002"], [f"+4860400000{n}" for n in range(3, 6)]):
        for phone in added:
            add(engine, settings, workspace, now, phone)
        seen.append(count())
    assert seen == ["1 kontakt", "2 kontakty", "5 kontaktów"]
