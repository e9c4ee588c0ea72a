"""A contact's page on every channel, through the real site on a real database: each
channel's address (the WhatsApp number or the phone), push subscriptions with their
browser and date, a suppressed address with its reason, consent per channel and purpose,
the edit of email and WhatsApp, an opt-out of one channel and of everything, the import
mapping offering the new columns — in English and in Polish."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from html import unescape

import pytest
from fastapi.testclient import TestClient
from portal_site import Clock, build_site, csrf_of, make_user, sign_in
from sqlalchemy import Engine, insert

from smscast.config import Settings
from smscast.core.consent import Action, Source
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.contacts.consent import ConsentChange, consent_history, record_consent
from smscast.engine.contacts.edits import ContactFields, create_contact, get_contact
from smscast.store.channel_models import PushSubscription, SuppressedAddress
from smscast.store.models import table_of

OWNER = "ola@shop.test"
PHONE = "+48601000001"
CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)


@pytest.fixture
def site(settings: Settings, engine: Engine, workspace: WorkspaceRef, now: datetime) -> TestClient:
    """Signed in as an owner of `workspace`."""
    client = TestClient(build_site(settings, engine, Clock(now)), raise_server_exceptions=True)
    make_user(engine, [workspace], OWNER, now=now)
    sign_in(client, OWNER)
    return client


@pytest.fixture
def ala(engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime) -> int:
    made = create_contact(engine, settings, workspace, ContactFields(
        phone=PHONE, attributes={"first_name": "Ala"}, email="ala@example.com",
    ), actor="t", now=now)  # fmt: skip
    contact_id = int(made["id"])
    with engine.begin() as conn:
        conn.execute(insert(table_of(PushSubscription)).values(
            workspace_id=workspace.id, contact_id=contact_id,
            endpoint="https://push.example/sub/1", p256dh="key", auth="secret",
            user_agent=CHROME_WINDOWS, created_at=now - timedelta(days=3),
        ))  # fmt: skip
        conn.execute(insert(table_of(SuppressedAddress)).values(
            workspace_id=workspace.id, channel="email", address="ala@example.com",
            reason="bounce", detail="550 5.1.1 mailbox unknown", at=now,
        ))  # fmt: skip
    record_consent(engine, settings, workspace, PHONE, ConsentChange(
        "email", "promotional", Action.OPT_IN, Source.WEB_FORM, "newsletter box", "form", now,
    ))  # fmt: skip
    return contact_id


def section(html: str, testid: str) -> str:
    return unescape(html.split(f'data-testid="{testid}"')[1].split("</table>")[0])


def row_of(table: str, channel: str) -> str:
    found = re.search(rf'data-channel="{channel}">(.*?)</tr>', table, re.S)
    assert found, f"no row for {channel}"
    return re.sub(r"<[^>]+>", " ", found.group(1))


def test_the_page_shows_every_channel_its_suppression_and_push_subscriptions(
    site: TestClient, ala: int
) -> None:
    page = site.get(f"/contacts/{ala}").text

    channels = section(page, "contact-channels")
    assert "ala@example.com" in channels
    assert "suppressed: bounced" in channels and "550 5.1.1 mailbox unknown" in channels
    # Without a WhatsApp number of their own, WhatsApp reaches the phone.
    assert re.search(r"WhatsApp</th>\s*<td>\+48601000001 <span[^>]*>\(the phone number\)", channels)
    push = unescape(page.split('data-testid="push-subscriptions"')[1].split("</ul>")[0])
    assert "Chrome on Windows" in push
    consent = section(page, "consent-state")
    assert "opted in" in row_of(consent, "email") and "not recorded" in row_of(consent, "sms")
    for channel in ("sms", "email", "whatsapp", "push", "voice"):
        row_of(consent, channel)
    assert 'name="channel"' in page and 'value="all" selected' in page


def test_edit_keeps_whatsapp_normalised_and_names_a_bad_one(
    site: TestClient, ala: int, engine: Engine, workspace: WorkspaceRef
) -> None:
    page = site.get(f"/contacts/{ala}").text
    form = {
        "csrf_token": csrf_of(page), "first_name": "Ala", "last_name": "", "language": "",
        "timezone": "Europe/Warsaw", "email": "Ala@Example.COM", "whatsapp": "602 000 111",
        "tags": "", "attributes": "",
    }  # fmt: skip

    saved = site.post(f"/contacts/{ala}/edit", data=form, follow_redirects=False)

    assert saved.status_code == 303
    stored = get_contact(engine, workspace, ala)
    assert (stored["email"], stored["whatsapp"]) == ("Ala@example.com", "+48602000111")
    shown = section(site.get(f"/contacts/{ala}").text, "contact-channels")
    assert "+48602000111" in shown and "(the phone number)" not in shown

    wrong = site.post(f"/contacts/{ala}/edit", data={**form, "whatsapp": "+48 12"})
    assert wrong.status_code == 422
    assert "Enter a WhatsApp number, such as +48 601 234 567." in unescape(wrong.text)
    assert 'href="#whatsapp"' in wrong.text


def test_opt_out_of_one_channel_then_of_everything(
    site: TestClient, ala: int, engine: Engine, workspace: WorkspaceRef
) -> None:
    token = csrf_of(site.get(f"/contacts/{ala}").text)

    email_only = site.post(f"/contacts/{ala}/opt-out", data={
        "csrf_token": token, "channel": "email", "purpose": "all", "evidence": "by phone",
    }, follow_redirects=False)  # fmt: skip
    assert email_only.status_code == 303
    consent = section(site.get(f"/contacts/{ala}").text, "consent-state")
    assert "opted out" in row_of(consent, "email") and "opted out" not in row_of(consent, "sms")

    everything = site.post(f"/contacts/{ala}/opt-out", data={
        "csrf_token": token, "channel": "all", "purpose": "all", "evidence": "stop everything",
    }, follow_redirects=False)  # fmt: skip
    assert everything.status_code == 303
    page = site.get(f"/contacts/{ala}").text
    consent = section(page, "consent-state")
    for channel in ("sms", "email", "whatsapp", "push", "voice"):
        assert row_of(consent, channel).count("opted out") == 2
    history = section(page, "consent-history")
    assert "All channels" in history and "stop everything" in history
    last = consent_history(engine, workspace, PHONE)["events"][-1]
    assert (last["channel"], last["action"], last["source"]) == ("all", "opt_out", "ui")

    unknown = site.post(f"/contacts/{ala}/opt-out",
                        data={"csrf_token": token, "channel": "fax", "purpose": "all"})  # fmt: skip
    assert unknown.status_code == 422
    assert "Choose the channel they no longer want messages on." in unescape(unknown.text)


def test_the_import_mapping_offers_the_new_columns(site: TestClient) -> None:
    token = csrf_of(site.get("/contacts/import").text)
    data = (b"phone,email,whatsapp,consent_email,consent_whatsapp\n"
            b"601000009,a@b.pl,601000010,tak,nie\n")  # fmt: skip

    mapping = site.post("/contacts/import", data={"csrf_token": token, "consent_source": ""},
                        files={"file": ("c.csv", data, "text/csv")}).text  # fmt: skip

    menus = re.findall(r'<select[^>]*name="column-(\d+)">(.*?)</select>', mapping, re.S)
    guessed = [re.search(r'value="([^"]+)" selected', body).group(1) for _, body in menus]  # type: ignore[union-attr]
    assert guessed == ["phone", "email", "whatsapp", "consent_email", "consent_whatsapp"]
    assert "WhatsApp consent (yes/no)" in mapping

    # A consent column of any channel needs to say where the consent was collected.
    upload_name = re.search(r'name="upload" value="([^"]+)"', mapping).group(1)  # type: ignore[union-attr]
    form = {"csrf_token": csrf_of(mapping), "upload": upload_name, "consent_source": ""}
    form.update({f"column-{n}": target for n, target in enumerate(guessed)})
    refused = site.post("/contacts/import/start", data=form)
    assert refused.status_code == 422
    assert "consent_email" in unescape(refused.text)


def test_the_page_in_polish(site: TestClient, ala: int) -> None:
    page = site.get(f"/contacts/{ala}").text
    site.post("/language", data={"csrf_token": csrf_of(page), "language": "pl",
                                 "next": f"/contacts/{ala}"})  # fmt: skip

    polish = unescape(site.get(f"/contacts/{ala}").text)

    assert "Kanały" in polish and "zablokowany: odbite" in polish
    assert (
        "Chrome na Windows" in polish and "Wszystkie kanały (rezygnacja ze wszystkiego)" in polish
    )
    assert "brak zapisu" in polish
