"""The public sign-up page `/join/<slug>` through the real site on a real database: what a
person sees, each outcome of the form, the throttle, the page's language, and the
evidence the consent ledger keeps once they reply YES."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from portal_site import Clock, build_site, csrf_of
from sqlalchemy import Engine, insert, select

from smscast.channels.base import InboundMessage
from smscast.config import Settings
from smscast.engine.accounts.auth import Caller
from smscast.engine.accounts.workspace_settings import update_workspace
from smscast.engine.accounts.workspaces import WorkspaceRef, create_workspace, resolve_workspace
from smscast.engine.contacts.consent import consent_history
from smscast.engine.inbound.numbers import add_number
from smscast.engine.inbound.receive import handle_inbound
from smscast.store.messaging_models import Connector, Message
from smscast.store.models import table_of

PHONE = "+48600100200"
TEXT = "I agree to receive promotional texts from Shop, up to 4 a month.\nReply STOP to opt out."
BROWSER = "Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/131.0 Mobile"


@pytest.fixture
def clock(now: datetime) -> Clock:
    return Clock(now)


@pytest.fixture
def site(settings: Settings, engine: Engine, clock: Clock) -> TestClient:
    return TestClient(build_site(settings, engine, clock), raise_server_exceptions=True)


def open_form(
    engine: Engine, workspace: WorkspaceRef, now: datetime, *, slug: str = "shop",
    number: str = "4000", text: str = TEXT, brand: str | None = None,
) -> int:  # fmt: skip
    """Gives the workspace a connector and a number, and opens its form as its owner
    would; returns the connector's id (where the person's YES arrives)."""
    connectors = table_of(Connector)
    with engine.begin() as conn:
        connector_id = int(conn.execute(insert(connectors).values(
            workspace_id=workspace.id, name="sim", kind="smpp", settings={}, rate_per_s=100.0,
            window=10, enabled=True, created_at=now,
        ).returning(connectors.c.id)).scalar_one())  # fmt: skip
    add_number(engine, workspace, number, connector="sim", actor="test", now=now,
               settings={"brand": brand} if brand else None)  # fmt: skip
    configure(engine, workspace, now, sign_up_text=text, sign_up_open=True, sign_up_slug=slug,
              sign_up_number=number)  # fmt: skip
    return connector_id


def configure(engine: Engine, workspace: WorkspaceRef, now: datetime, **form: Any) -> None:
    with engine.connect() as conn:
        current = resolve_workspace(conn, str(workspace.id))
    caller = Caller("user", 1, current, "owner", "owner@example.com")
    update_workspace(engine, current, {"settings": form}, caller=caller, now=now)


@pytest.fixture
def shop(engine: Engine, workspace: WorkspaceRef, now: datetime) -> int:
    return open_form(engine, workspace, now)


def sign_up(
    client: TestClient, slug: str = "shop", *, phone: str = "600 100 200", agreed: bool = True,
    text: str | None = None, headers: dict[str, str] | None = None,
) -> httpx.Response:  # fmt: skip
    """Fills in and sends the form as a browser does: the page first, then its fields."""
    page = client.get(f"/join/{slug}", headers=headers)
    assert page.status_code == 200, page.text
    found = re.search(r'name="consent_text" value="([^"]*)"', page.text)
    assert found is not None, "the page carries no consent text"
    shown = html.unescape(found[1])
    data = {"csrf_token": csrf_of(page.text), "phone": phone,
            "consent_text": shown if text is None else text}  # fmt: skip
    if agreed:
        data["agreed"] = "1"
    answer: httpx.Response = client.post(f"/join/{slug}", data=data, headers=headers)
    return answer


def queued(engine: Engine, **where: Any) -> list[Any]:
    messages = table_of(Message)
    query = select(messages).where(messages.c.direction == "out").order_by(messages.c.id)
    for column, value in where.items():
        query = query.where(messages.c[column] == value)
    with engine.connect() as conn:
        return list(conn.execute(query))


def text_of(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_the_page_shows_the_brand_a_phone_field_and_the_text_as_the_boxs_label(
    site: TestClient, shop: int
) -> None:
    page = site.get("/join/shop")
    assert page.status_code == 200
    assert 'data-testid="brand">Shop<' in page.text
    assert '<label class="field__label" for="phone">Mobile phone number</label>' in page.text
    assert 'type="tel"' in page.text and 'autocomplete="tel"' in page.text
    assert '<input id="agreed" name="agreed" type="checkbox" value="1">' in page.text
    label = re.search(r'<label for="agreed"[^>]*>(.*?)</label>', page.text, re.S)
    assert label is not None and html.unescape(label[1]) == TEXT
    assert 'name="csrf_token"' in page.text
    assert "smscast_csrf=" in page.headers["set-cookie"]  # the token's pre-session cookie
    assert 'href="/login"' not in page.text  # the public sees the brand, not the portal


def test_a_sign_up_queues_the_confirmation_and_says_so(
    site: TestClient, engine: Engine, shop: int
) -> None:
    answer = sign_up(site)
    assert answer.status_code == 200
    assert f"We've sent a text to {PHONE}. Reply YES to confirm." in text_of(answer.text)
    assert "within 24 hours" in text_of(answer.text)
    [prompt] = queued(engine)
    assert (prompt.phone, prompt.kind, prompt.status) == (PHONE, "confirm", "queued")
    assert prompt.body.startswith("Shop:") and "reply YES" in prompt.body


def test_a_wrong_phone_is_shown_at_its_field_with_what_was_typed(
    site: TestClient, engine: Engine, shop: int
) -> None:
    answer = sign_up(site, phone="12 34")
    assert answer.status_code == 422
    assert '<a href="#phone">This is not a mobile phone number we can text.' in answer.text
    assert 'id="phone-error"' in answer.text and 'value="12 34"' in answer.text
    assert ' checked' in answer.text  # the box stays ticked
    empty = sign_up(site, phone="")
    assert "Enter your mobile phone number." in empty.text
    assert queued(engine) == []


def test_an_unticked_box_is_refused_at_the_box(
    site: TestClient, engine: Engine, shop: int
) -> None:
    answer = sign_up(site, agreed=False)
    assert answer.status_code == 422
    assert '<a href="#agreed">Tick the box to agree to the text.</a>' in answer.text
    assert 'aria-describedby="agreed-error"' in answer.text
    assert 'value="600 100 200"' in answer.text
    assert queued(engine) == []


def test_a_page_opened_before_the_text_changed_shows_the_new_text_unticked(
    site: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime, shop: int
) -> None:
    page = site.get("/join/shop")
    new_text = TEXT.replace("up to 4 a month", "up to 8 a month")
    configure(engine, workspace, now, sign_up_text=new_text)
    answer = site.post("/join/shop", data={"csrf_token": csrf_of(page.text), "phone": PHONE,
                                           "agreed": "1", "consent_text": TEXT})  # fmt: skip
    assert answer.status_code == 422
    assert "The text to agree to has changed since you opened this page." in answer.text
    assert "up to 8 a month" in answer.text
    assert '<input id="agreed" name="agreed" type="checkbox" value="1" aria-invalid' in answer.text
    assert queued(engine) == []
    assert sign_up(site).status_code == 200  # read anew and ticked: taken


def test_a_closed_or_unknown_form_is_not_found(
    site: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime, shop: int
) -> None:
    page = site.get("/join/shop")
    configure(engine, workspace, now, sign_up_open=False)
    closed = site.get("/join/shop")
    assert closed.status_code == 404
    assert "Sign-up is closed" in closed.text and 'data-testid="brand">Shop<' in closed.text
    late = site.post("/join/shop", data={"csrf_token": csrf_of(page.text), "phone": PHONE,
                                         "agreed": "1", "consent_text": TEXT})  # fmt: skip
    assert late.status_code == 404 and "Sign-up is closed" in late.text
    assert queued(engine) == []

    unknown = site.get("/join/no-such-shop", follow_redirects=False)
    assert unknown.status_code == 404  # not sent to sign in: the page is public
    assert "There is no sign-up form at this address." in unknown.text


def test_a_phone_is_throttled_per_workspace(
    site: TestClient, engine: Engine, clock: Clock, now: datetime, shop: int
) -> None:
    for minute in range(3):
        clock.now = now + timedelta(minutes=minute)
        assert sign_up(site).status_code == 200
    clock.now = now + timedelta(minutes=10)
    throttled = sign_up(site)
    assert throttled.status_code == 429
    assert throttled.headers["retry-after"] == str(50 * 60)
    assert ("Too many sign-ups for this phone number in the last hour. Try again in 50 "
            "minutes.") in throttled.text  # fmt: skip
    assert 'value="600 100 200"' in throttled.text
    assert len(queued(engine, phone=PHONE)) == 3

    # Another shop on the same instance: its own count for the same phone.
    other = create_workspace(engine, "Bakery", "PL", "Europe/Warsaw", actor="t", now=now)
    open_form(engine, other, now, slug="bakery", number="4001")
    answer = sign_up(site, "bakery")
    assert answer.status_code == 200, answer.text
    assert len(queued(engine, phone=PHONE, workspace_id=other.id)) == 1


def test_the_brand_and_the_text_are_shown_as_text(
    site: TestClient, engine: Engine, now: datetime
) -> None:
    name = '<script>alert("shop")</script>'
    other = create_workspace(engine, name, "PL", "Europe/Warsaw", actor="t", now=now)
    open_form(engine, other, now, slug="xss", text="I agree <img src=x onerror=alert(1)> & more")
    page = site.get("/join/xss")
    assert page.status_code == 200
    assert "<script>alert" not in page.text and "<img src=x" not in page.text
    assert "&lt;script&gt;alert(&#34;shop&#34;)&lt;/script&gt;" in page.text
    assert "I agree &lt;img src=x onerror=alert(1)&gt; &amp; more" in page.text


def test_the_page_speaks_polish_and_so_does_the_confirmation(
    site: TestClient, engine: Engine, shop: int
) -> None:
    polish = {"Accept-Language": "pl-PL,pl;q=0.9"}
    page = site.get("/join/shop", headers=polish)
    assert '<html lang="pl">' in page.text
    assert "Zapisz się na SMS-y od Shop" in page.text
    assert "Numer telefonu komórkowego" in page.text
    answer = sign_up(site, headers=polish)
    assert "Wysłaliśmy SMS na numer +48600100200. Odpisz TAK, aby potwierdzić." in text_of(
        answer.text
    )
    assert "w ciągu 24 godzin" in text_of(answer.text)
    [prompt] = queued(engine)
    assert "odpisz TAK" in prompt.body
    refused = sign_up(site, phone="12", headers=polish)
    assert "To nie jest numer telefonu komórkowego" in refused.text


def test_the_yes_records_the_forms_evidence_and_a_second_sign_up_is_told_so(
    site: TestClient, engine: Engine, settings: Settings, workspace: WorkspaceRef,
    now: datetime, shop: int,
) -> None:  # fmt: skip
    # A client's own X-Forwarded-For is not believed: only a proxy uvicorn is told to
    # trust may name another address (here the test client is its own peer).
    forged = {"User-Agent": BROWSER, "X-Forwarded-For": "198.51.100.99"}
    assert sign_up(site, headers=forged).status_code == 200
    assert consent_history(engine, workspace, PHONE)["events"] == []  # nothing before YES

    yes = InboundMessage(PHONE, "4000", "YES", now + timedelta(minutes=2))
    assert handle_inbound(engine, settings, shop, yes).route == "confirm_opt_in"
    [event] = consent_history(engine, workspace, PHONE)["events"]
    assert (event["action"], event["source"]) == ("opt_in", "web_form")
    for part in (f'"{TEXT}"', "/join/shop", "2026-11-25 10:00:00Z", "testclient", BROWSER,
                 '"YES"'):  # fmt: skip
        assert part in event["evidence"], part
    assert "198.51.100.99" not in event["evidence"]

    again = sign_up(site)
    assert again.status_code == 200
    assert f"{PHONE} already gets texts from Shop." in text_of(again.text)


def test_a_post_without_the_forms_token_is_refused(
    site: TestClient, engine: Engine, shop: int
) -> None:
    site.get("/join/shop")
    answer = site.post("/join/shop", data={"phone": PHONE, "agreed": "1", "consent_text": TEXT})
    assert answer.status_code == 403
    assert "This form has expired or did not come from this site." in answer.text
    assert queued(engine) == []
