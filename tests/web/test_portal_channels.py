"""The portal's channels beside SMS, through the real site on a real database: connector
forms for the new kinds (generated from their settings, secrets write-only, callback
addresses), the SMTP connection test against a real SMTP server, the builder's channel
choice (what was typed kept on a refusal), per-channel figures on a campaign's page, the
inbox's channel filter and badges, and the dashboard's channel filter."""

from __future__ import annotations

import asyncio
import queue
import re
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from dashboard_data import make_traffic
from fastapi.testclient import TestClient
from portal_site import Clock, build_site, csrf_of, make_user, sign_in
from sqlalchemy import Engine, insert, select, update

from smscast.channels.base import InboundMessage
from smscast.config import Settings
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.campaigns.lifecycle import CampaignDraft, create_campaign, messages
from smscast.engine.contacts.importing import ImportRequest, import_contacts
from smscast.engine.inbound.numbers import add_number
from smscast.engine.inbound.receive import handle_inbound
from smscast.engine.sending.connectors import add_connector, connectors
from smscast.store.inbound_models import Ticket
from smscast.store.models import Contact, table_of

tickets = table_of(Ticket)
contacts_table = table_of(Contact)

OWNER = "ola@shop.test"
SMTP_PASSWORD = "mail-pass-that-must-not-show"
ACCESS_TOKEN = "EAAG-whatsapp-token-that-must-not-show"


@pytest.fixture
def site(settings: Settings, engine: Engine, now: datetime) -> TestClient:
    return TestClient(build_site(settings, engine, Clock(now)), raise_server_exceptions=True)


@pytest.fixture
def owner(engine: Engine, workspace: WorkspaceRef, now: datetime, site: TestClient) -> TestClient:
    make_user(engine, [workspace], OWNER, now=now)
    sign_in(site, OWNER)
    return site


def post_form(client: TestClient, path: str, form_page: str, **data: str) -> httpx.Response:
    token = csrf_of(client.get(form_page).text)
    answer: httpx.Response = client.post(
        path, data={**data, "csrf_token": token}, follow_redirects=False
    )
    return answer


def stored_settings(engine: Engine, name: str) -> dict[str, object]:
    with engine.connect() as conn:
        found = conn.execute(select(connectors.c.settings).where(connectors.c.name == name))
        return dict(found.scalar_one())


# -- connectors ---------------------------------------------------------------------------


def test_the_kind_picker_offers_every_kind_grouped_by_channel(owner: TestClient) -> None:
    page = owner.get("/connectors/new")

    assert page.status_code == 200
    groups = re.findall(r'data-channel="(\w*)"(.*?)</section>', page.text, re.S)
    kinds = {channel: re.findall(r'data-kind="(\w+)"', body) for channel, body in groups}
    assert kinds["sms"][:1] == ["smpp"] and "simulator" in kinds["sms"]
    assert kinds["email"] == ["smtp"]
    assert set(kinds["whatsapp"]) == {"whatsapp_cloud", "infobip_whatsapp"}
    assert kinds["push"] == ["webpush"]
    assert set(kinds["voice"]) == {"infobip_voice", "twilio_voice"}


def test_an_smtp_connector_is_added_and_edited_with_its_password_write_only(
    owner: TestClient, engine: Engine
) -> None:
    form = owner.get("/connectors/new?kind=smtp")
    assert form.status_code == 200
    for label in ("Host", "Port", "From address", "Password", "Encryption"):
        assert f">{label}</label>" in form.text, label
    assert 'name="password" type="password"' in form.text

    refused = post_form(owner, "/connectors/new", "/connectors/new?kind=smtp", kind="smtp",
                        name="mail", host="", port="x", username="shop", password=SMTP_PASSWORD,
                        tls="starttls", rate_per_s="50", window="2")  # fmt: skip
    assert refused.status_code == 422
    assert 'href="#host"' in refused.text and 'href="#port"' in refused.text
    assert 'value="shop"' in refused.text  # what was typed is kept …
    assert SMTP_PASSWORD not in refused.text  # … but never a secret

    added = post_form(owner, "/connectors/new", "/connectors/new?kind=smtp", kind="smtp",
                      name="mail", host="127.0.0.1", port="2525", username="shop",
                      password=SMTP_PASSWORD, tls="none", rate_per_s="50", window="2",
                      **{"from": "shop@example.com"})  # fmt: skip
    assert added.status_code == 303, added.text
    detail = owner.get(added.headers["location"])
    assert SMTP_PASSWORD not in detail.text
    assert "Channel: <strong>Email</strong>" in detail.text
    assert re.search(r"<dt>Password</dt>\s*<dd>set</dd>", detail.text)
    assert stored_settings(engine, "mail")["password"] == SMTP_PASSWORD

    connector_id = added.headers["location"].split("/")[2].split("?")[0]
    edit = owner.get(f"/connectors/{connector_id}/edit")
    assert SMTP_PASSWORD not in edit.text
    assert "Set: leave empty to keep it." in edit.text
    changed = post_form(owner, f"/connectors/{connector_id}/edit",
                        f"/connectors/{connector_id}/edit", host="127.0.0.1", port="2526",
                        username="shop", password="", tls="none", rate_per_s="50", window="2",
                        **{"from": "news@example.com"})  # fmt: skip
    assert changed.status_code == 303, changed.text
    stored = stored_settings(engine, "mail")
    assert (stored["port"], stored["from"]) == (2526, "news@example.com")
    assert stored["password"] == SMTP_PASSWORD  # left empty: kept


def test_a_whatsapp_cloud_connector_shows_the_addresses_meta_must_be_told(
    owner: TestClient, engine: Engine
) -> None:
    form = owner.get("/connectors/new?kind=whatsapp_cloud")
    assert ">Phone number ID</label>" in form.text and ">Access token</label>" in form.text

    added = post_form(owner, "/connectors/new", "/connectors/new?kind=whatsapp_cloud",
                      kind="whatsapp_cloud", name="wa", phone_number_id="1055",
                      access_token=ACCESS_TOKEN, app_secret="meta-app-secret",
                      verify_token="verify-me", rate_per_s="20", window="4")  # fmt: skip
    assert added.status_code == 303, added.text
    connector_id = added.headers["location"].split("/")[2].split("?")[0]
    detail = owner.get(f"/connectors/{connector_id}")
    assert ACCESS_TOKEN not in detail.text and "meta-app-secret" not in detail.text
    assert "Channel: <strong>WhatsApp</strong>" in detail.text
    callbacks = re.findall(r"<li><code>([^<]+)</code></li>", detail.text)
    assert f"http://127.0.0.1:8000/hooks/whatsapp_cloud/{connector_id}" in callbacks

    edit = owner.get(f"/connectors/{connector_id}/edit")
    assert ACCESS_TOKEN not in edit.text
    changed = post_form(owner, f"/connectors/{connector_id}/edit",
                        f"/connectors/{connector_id}/edit", phone_number_id="2077",
                        access_token="", app_secret="", verify_token="", rate_per_s="20",
                        window="4")  # fmt: skip
    assert changed.status_code == 303, changed.text
    stored = stored_settings(engine, "wa")
    assert (stored["phone_number_id"], stored["access_token"]) == ("2077", ACCESS_TOKEN)


@pytest.fixture
def smtp_server() -> Iterator[int]:
    """A real SMTP server on loopback that wants user "shop" with SMTP_PASSWORD; its port."""
    from smscast.channels.simulator.smtp_sink import start_smtp_sink

    ports: queue.Queue[int] = queue.Queue()
    stop = threading.Event()

    async def serve() -> None:
        sink = await start_smtp_sink(auth={"shop": SMTP_PASSWORD})
        ports.put(sink.port)
        while not stop.is_set():
            await asyncio.sleep(0.02)
        await sink.close()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    yield ports.get(timeout=10)
    stop.set()
    thread.join(timeout=5)


def test_the_smtp_connection_test_signs_in_and_names_a_wrong_password(
    owner: TestClient, smtp_server: int
) -> None:
    fields = {"kind": "smtp", "name": "mail", "host": "127.0.0.1", "port": str(smtp_server),
              "username": "shop", "tls": "none", "rate_per_s": "10", "window": "1",
              "from": "shop@example.com", "action": "test"}  # fmt: skip

    right = post_form(owner, "/connectors/new", "/connectors/new?kind=smtp", **fields,
                      password=SMTP_PASSWORD)  # fmt: skip
    wrong = post_form(owner, "/connectors/new", "/connectors/new?kind=smtp", **fields,
                      password="not-it")  # fmt: skip

    assert 'data-outcome="connected"' in right.text, right.text
    assert 'data-outcome="wrong_credentials"' in wrong.text, wrong.text
    assert SMTP_PASSWORD not in right.text + wrong.text


def test_a_kind_that_cannot_be_tested_without_sending_says_so(owner: TestClient) -> None:
    answer = post_form(owner, "/connectors/new", "/connectors/new?kind=whatsapp_cloud",
                       kind="whatsapp_cloud", name="wa", phone_number_id="1055",
                       access_token=ACCESS_TOKEN, rate_per_s="20", window="4",
                       action="test")  # fmt: skip

    assert 'data-outcome="not_testable"' in answer.text
    assert "cannot be tested without sending a message" in answer.text
    assert 'data-outcome="connected"' not in answer.text


# -- the campaign builder -----------------------------------------------------------------


@pytest.fixture
def contacts(engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime,
             tmp_path: Path) -> None:  # fmt: skip
    source = tmp_path / "contacts.csv"
    source.write_text("phone,first_name,consent\n+48600100200,Anna,yes\n")
    import_contacts(engine, settings, ImportRequest(source, workspace, "form", "test", now))


def start_draft(client: TestClient) -> int:
    page = client.get("/campaigns/new")
    answer = client.post("/campaigns/new", data={"name": "Spring",
                                                 "csrf_token": csrf_of(page.text)},
                         follow_redirects=False)  # fmt: skip
    found = re.fullmatch(r"/campaigns/new/(\d+)/audience", answer.headers["location"])
    assert found, answer.headers["location"]
    return int(found.group(1))


def post_step(client: TestClient, draft: int, step: str, **fields: str) -> httpx.Response:
    page = client.get(f"/campaigns/new/{draft}/{step}")
    data = {"action": "next", **fields, "csrf_token": csrf_of(page.text)}
    answer: httpx.Response = client.post(
        f"/campaigns/new/{draft}/{step}", data=data, follow_redirects=False
    )
    return answer


def selected(html: str, name: str) -> str:
    found = re.search(rf'<select[^>]*name="{name}".*?</select>', html, re.S)
    assert found, f"no select {name}"
    option = re.search(r'<option value="([^"]*)" selected', found.group(0))
    return option.group(1) if option else ""


def test_the_channel_choice_keeps_what_was_typed_on_a_refusal(
    owner: TestClient, contacts: None
) -> None:
    draft = start_draft(owner)
    post_step(owner, draft, "audience", audience="expression", expression="")

    refused = post_step(owner, draft, "message", body="Hi {{ first_name }}", channel_1="email",
                        channel_2="sms", fallback_after="2 weeks",
                        email_subject="")  # fmt: skip

    assert refused.status_code == 422
    assert 'href="#fallback_after"' in refused.text or 'href="#email_subject"' in refused.text
    assert selected(refused.text, "channel_1") == "email"
    assert selected(refused.text, "channel_2") == "sms"
    assert 'value="2 weeks"' in refused.text
    assert 'name="email_subject"' in refused.text  # the email's own fields are on the page

    refused = post_step(owner, draft, "message", body="Hi {{ first_name }}", channel_1="email",
                        channel_2="sms", fallback_after="2h", email_subject="",
                        email_html="<p>Hi</p>")  # fmt: skip
    assert refused.status_code == 422
    assert 'href="#email_subject"' in refused.text
    assert "&lt;p&gt;Hi&lt;/p&gt;</textarea>" in refused.text

    again = owner.get(f"/campaigns/new/{draft}/message")  # the draft kept it all
    assert selected(again.text, "channel_1") == "email"
    assert 'value="2h"' in again.text

    moved = post_step(
        owner,
        draft,
        "message",
        body="Hi {{ first_name }}",
        channel_1="email",
        channel_2="sms",
        fallback_after="2h",
        email_subject="Spring for you",
    )
    assert moved.status_code == 303, moved.text
    assert moved.headers["location"] == f"/campaigns/new/{draft}/variants"


def test_parts_are_counted_only_when_sms_is_in_the_chain(owner: TestClient, contacts: None) -> None:
    draft = start_draft(owner)
    post_step(owner, draft, "audience", audience="expression", expression="")

    sms = post_step(owner, draft, "message", body="Hi", channel_1="sms", action="check")
    push = post_step(owner, draft, "message", body="Hi", channel_1="push", push_title="Sale",
                     action="check")  # fmt: skip

    assert 'data-testid="parts-count"' in sms.text
    assert 'data-testid="parts-count"' not in push.text
    assert 'data-testid="no-parts"' in push.text


# -- a campaign's page --------------------------------------------------------------------


def test_a_chain_campaigns_page_shows_each_channels_figures(
    owner: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime, contacts: None,
    settings: Settings, tmp_path: Path,
) -> None:  # fmt: skip
    draft = CampaignDraft(name="Chain", body="Hi {{ first_name }}", channels=("whatsapp", "sms"),
                          fallback_after=timedelta(minutes=10),
                          content={"whatsapp": {"template": "spring_offer"}})  # fmt: skip
    campaign_id = create_campaign(engine, workspace, draft, actor="test", now=now)
    with engine.begin() as conn:
        anna = conn.execute(select(contacts_table.c.id)).scalar_one()
        row = {"workspace_id": workspace.id, "direction": "out", "kind": "campaign",
               "purpose": "promotional", "phone": "+48600100200", "campaign_id": campaign_id,
               "body": "Hi Anna", "created_at": now}  # fmt: skip
        conn.execute(insert(messages), [
            {**row, "contact_id": anna, "channel": "whatsapp", "chain_step": 0,
             "status": "failed", "address": "+48600100200", "cost": 0.01},
            {**row, "contact_id": anna, "channel": "sms", "chain_step": 1,
             "status": "delivered", "address": None, "cost": 0.05},
        ])  # fmt: skip

    page = owner.get(f"/campaigns/{campaign_id}")

    assert page.status_code == 200
    assert "WhatsApp → SMS" in page.text
    assert "the next after 10 minutes undelivered" in page.text
    table = re.search(r'data-testid="channel-figures".*?</table>', page.text, re.S)
    assert table, "no per-channel figures"
    rows = re.findall(r'<tr data-channel="(\w+)">(.*?)</tr>', table.group(0), re.S)
    figures = {c: dict(re.findall(r'data-figure="(\w+)">([^<]*)<', b)) for c, b in rows}
    assert list(figures) == ["whatsapp", "sms"]
    assert (figures["whatsapp"]["messages"], figures["whatsapp"]["failed"],
            figures["whatsapp"]["fell_back"]) == ("1", "1", "1")  # fmt: skip
    assert (figures["sms"]["messages"], figures["sms"]["delivered"],
            figures["sms"]["fell_back"]) == ("1", "1", "0")  # fmt: skip


def test_an_sms_campaigns_page_has_no_per_channel_table(
    owner: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    campaign_id = create_campaign(engine, workspace, CampaignDraft(name="Plain", body="Hi"),
                                  actor="test", now=now)  # fmt: skip
    page = owner.get(f"/campaigns/{campaign_id}")
    assert page.status_code == 200
    assert 'data-testid="channel-figures"' not in page.text
    assert '<dd data-testid="campaign-channels">SMS</dd>' in page.text


# -- the inbox ----------------------------------------------------------------------------


@pytest.fixture
def two_tickets(engine: Engine, settings: Settings, workspace: WorkspaceRef,
                now: datetime) -> tuple[int, int]:  # fmt: skip
    """An SMS ticket from Anna and one that Bolek wrote by email (as ann@…); their ids."""
    add_connector(engine, workspace, name="sim", kind="smpp",
                  settings={"host": "127.0.0.1", "port": 2775, "system_id": "t"},
                  rate_per_s=10.0, window=10, actor="t", now=now)  # fmt: skip
    add_connector(engine, workspace, name="mail", kind="smtp",  # where emails come and go
                  settings={"host": "127.0.0.1", "from": "shop@example.com"},
                  rate_per_s=10.0, window=1, actor="t", now=now)  # fmt: skip
    add_number(engine, workspace, "4000", connector="sim", actor="t", now=now)
    connector_id = int(stored_id(engine, "sim"))
    found = []
    for phone, at in (("+48600100201", now), ("+48600100202", now + timedelta(minutes=1))):
        result = handle_inbound(
            engine, settings, connector_id, InboundMessage(phone, "4000", "Where is my parcel?", at)
        )
        assert result.ticket_id is not None
        found.append(result.ticket_id)
    with engine.begin() as conn:  # the second came by email: as the email listener files it
        conn.execute(update(tickets).where(tickets.c.id == found[1]).values(channel="email"))
        conn.execute(update(messages).where(messages.c.ticket_id == found[1])
                     .values(channel="email", address="bolek@example.com"))  # fmt: skip
    return found[0], found[1]


def stored_id(engine: Engine, name: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(connectors.c.id).where(connectors.c.name == name))
                   .scalar_one())  # fmt: skip


def test_the_inbox_filters_by_channel_and_badges_each_row(
    owner: TestClient, two_tickets: tuple[int, int]
) -> None:
    sms, email = two_tickets

    every = owner.get("/inbox")
    by_email = owner.get("/inbox?channel=email")
    by_sms = owner.get("/inbox?channel=sms")
    wrong = owner.get("/inbox?channel=fax")

    def shown(html: str) -> list[tuple[str, str]]:
        return re.findall(r'data-ticket-id="(\d+)".*?data-testid="ticket-channel" '
                          r'data-channel="(\w+)"', html, re.S)  # fmt: skip

    assert shown(every.text) == [(str(email), "email"), (str(sms), "sms")]
    assert shown(by_email.text) == [(str(email), "email")]
    assert "bolek@example.com" in by_email.text
    assert shown(by_sms.text) == [(str(sms), "sms")]
    assert selected(by_email.text, "channel") == "email"
    assert "channel=email" in by_email.text  # the live stream counts what the page shows
    assert wrong.status_code == 422 and 'href="#channel"' in wrong.text


def test_the_reply_box_says_on_which_channel_the_reply_goes(
    owner: TestClient, two_tickets: tuple[int, int]
) -> None:
    sms, email = two_tickets

    by_email = owner.get(f"/inbox/{email}")
    by_sms = owner.get(f"/inbox/{sms}")

    assert "Reply by email to bolek@example.com" in by_email.text
    assert 'data-testid="message-channel" data-channel="email"' in by_email.text
    assert "data-meter" not in by_email.text.split('id="reply-box"')[1]  # no SMS parts
    assert "Reply by SMS to +48600100201" in by_sms.text
    assert 'data-testid="message-channel" data-channel="sms"' in by_sms.text


# -- the dashboard ------------------------------------------------------------------------


def test_the_dashboard_filters_by_channel_through_the_connectors_kinds(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    traffic = make_traffic(engine, settings, workspace, now)  # "red" 3 texts, "blue" 2
    with engine.begin() as conn:  # blue becomes a mail server: its texts are emails
        conn.execute(update(connectors).where(connectors.c.id == traffic.blue)
                     .values(kind="smtp"))  # fmt: skip
    site = TestClient(build_site(settings, engine, Clock(now + timedelta(hours=2))))
    make_user(engine, [workspace], OWNER, now=now)
    sign_in(site, OWNER)

    def sent_shown(query: str) -> str:
        page = site.get(f"/dashboard?{query}")
        assert page.status_code == 200, page.text
        tile = re.search(r'<section [^>]*data-testid="kpi-sent".*?</section>', page.text, re.S)
        assert tile, "no sent tile"
        found = re.search(r"data-kpi-value>([^<]*)<", tile.group(0))
        assert found
        return found.group(1)

    assert sent_shown("") == "5"
    assert sent_shown("channel=email") == "2"
    assert sent_shown("channel=sms") == "3"
    assert sent_shown("channel=whatsapp") == "0"
    assert selected(site.get("/dashboard?channel=email").text, "channel") == "email"
    wrong = site.get("/dashboard?channel=fax")
    assert 'href="#channel"' in wrong.text
