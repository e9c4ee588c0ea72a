"""The numbers pages through the real site on a real database: the list with each
number's connector, rules, campaigns and automatic reply, adding a number, setting the
automatic reply (refused templates shown at the box), one number's recent texts and its
response figures (the API report's), and who may change what."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from html import unescape

import httpx
import pytest
from fastapi.testclient import TestClient
from portal_site import Clock, build_site, csrf_of, make_user, sign_in
from sqlalchemy import Engine, insert

from smscast.channels.base import InboundMessage
from smscast.config import Settings
from smscast.engine.accounts.workspaces import WorkspaceRef, create_workspace
from smscast.engine.inbound.keyword_rules import add_keyword_rule
from smscast.engine.inbound.numbers import add_number, list_numbers
from smscast.engine.inbound.receive import handle_inbound
from smscast.engine.inbound.response_report import number_report
from smscast.engine.sending.connectors import add_connector
from smscast.store.messaging_models import Campaign
from smscast.store.models import table_of

OWNER = "ola@shop.test"
PHONE = "+48600100200"


@pytest.fixture
def site(settings: Settings, engine: Engine, now: datetime) -> TestClient:
    return TestClient(build_site(settings, engine, Clock(now)), raise_server_exceptions=True)


@pytest.fixture
def connector_id(engine: Engine, workspace: WorkspaceRef, now: datetime) -> int:
    row = add_connector(engine, workspace, name="sim", kind="smpp", actor="t", now=now,
                        settings={"host": "127.0.0.1", "port": 2775, "system_id": "smscast"},
                        rate_per_s=0.0, window=10)  # fmt: skip
    return int(row.id)


@pytest.fixture
def owner(engine: Engine, workspace: WorkspaceRef, now: datetime, site: TestClient) -> TestClient:
    make_user(engine, [workspace], OWNER, now=now)
    sign_in(site, OWNER)
    return site


def member(site: TestClient, engine: Engine, workspace: WorkspaceRef, role: str,
           now: datetime) -> TestClient:  # fmt: skip
    email = f"{role}@shop.test"
    make_user(engine, [workspace], email, role=role, now=now)
    sign_in(site, email)
    return site


def post_form(client: TestClient, path: str, form_page: str, **data: str) -> httpx.Response:
    """Posts a form as the browser would after loading `form_page`."""
    token = csrf_of(client.get(form_page).text)
    answer: httpx.Response = client.post(
        path, data={**data, "csrf_token": token}, follow_redirects=False
    )
    return answer


def text_of(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def rows(html: str, testid: str) -> list[str]:
    return [
        text_of(row) for row in re.findall(rf'<tr data-testid="{testid}">(.*?)</tr>', html, re.S)
    ]


def shown_at(html: str, name: str) -> str:
    found = re.search(rf'data-testid="{name}"[^>]*>(.*?)</', html, re.S)
    assert found, f"no {name} on the page"
    return text_of(found.group(1))


def error_of(html: str, field: str) -> str:
    found = re.search(rf'<p class="field__error" id="{field}-error">(.*?)</p>', html, re.S)
    assert found, f"no error at {field}"
    return text_of(found.group(1)).removeprefix("Error: ")


def inbound(engine: Engine, settings: Settings, connector_id: int, body: str,
            at: datetime, sender: str = PHONE, to: str = "7391") -> None:  # fmt: skip
    handle_inbound(engine, settings, connector_id, InboundMessage(sender, to, body, at))


def test_a_number_added_in_the_portal_is_listed_with_its_connector_and_kind(
    owner: TestClient, engine: Engine, workspace: WorkspaceRef, connector_id: int
) -> None:
    empty = owner.get("/numbers")
    assert "The workspace has no number yet." in empty.text
    assert 'data-testid="add-number"' in empty.text
    assert '<option value="sim" selected>' in empty.text  # the only connector, chosen

    added = post_form(owner, "/numbers", "/numbers", number="7391", connector="sim",
                      country="PL")  # fmt: skip

    [number] = list_numbers(engine, workspace)
    assert added.status_code == 303
    assert added.headers["location"] == f"/numbers/{number['id']}?added=1"
    assert "The number was added." in owner.get(added.headers["location"]).text
    assert (number["number"], number["kind"], number["connector"]) == ("7391", "short", "sim")
    [row] = rows(owner.get("/numbers").text, "number-row")
    assert row.startswith("7391 short code sim PL no keyword")
    assert row.endswith("none Set the automatic reply of 7391")


def test_a_wrong_number_is_refused_beside_its_field_with_what_was_typed_kept(
    owner: TestClient, engine: Engine, workspace: WorkspaceRef, connector_id: int, now: datetime
) -> None:
    add_number(engine, workspace, "7391", connector="sim", actor="t", now=now)

    wrong = post_form(owner, "/numbers", "/numbers", number="12ab", connector="sim", country="PL")
    assert wrong.status_code == 422
    assert error_of(wrong.text, "number") == (
        "Enter a phone number of the country below, or a short code of 3 to 8 digits."
    )
    assert 'value="12ab"' in wrong.text

    taken = post_form(owner, "/numbers", "/numbers", number="7391", connector="sim", country="PL")
    assert error_of(taken.text, "number") == "This number is already registered."

    country = post_form(owner, "/numbers", "/numbers", number="+48500100200", connector="sim",
                        country="Poland")  # fmt: skip
    assert error_of(country.text, "country") == "Enter a two-letter country code, such as PL."
    assert 'value="+48500100200"' in country.text and 'value="Poland"' in country.text

    connector = post_form(owner, "/numbers", "/numbers", number="7392", connector="gone",
                          country="PL")  # fmt: skip
    assert error_of(connector.text, "connector") == (
        "There is no such connector: choose one from the list."
    )
    assert [n["number"] for n in list_numbers(engine, workspace)] == ["7391"]


def test_the_automatic_reply_set_in_the_portal_answers_a_text_that_matches_no_keyword(
    owner: TestClient, engine: Engine, settings: Settings, workspace: WorkspaceRef,
    connector_id: int, now: datetime,
) -> None:  # fmt: skip
    number = add_number(engine, workspace, "7391", connector="sim", actor="t", now=now)
    page = f"/numbers/{number.id}"
    form = owner.get(page).text
    assert 'data-testid="parts-count">0<' in form and 'data-testid="encoding">GSM-7<' in form

    saved = post_form(
        owner, f"{page}/auto-reply", page, reply="Thanks {{ phone }}, we answer soon."
    )

    assert saved.status_code == 303
    assert saved.headers["location"] == f"{page}?reply=saved#auto-reply"
    shown = owner.get(saved.headers["location"]).text
    assert "The automatic reply was saved" in shown
    assert ">Thanks {{ phone }}, we answer soon.</textarea>" in shown
    assert shown_at(owner.get("/numbers").text, "number-auto-reply").startswith(
        "Thanks {{ phone }}, we answer soon."
    )

    inbound(engine, settings, connector_id, "Is the shop open on Sunday?", now)

    shown = owner.get(page).text
    [row] = rows(shown, "inbound-row")
    assert PHONE in row and "Is the shop open on Sunday?" in row
    assert f"The number's reply Thanks {PHONE}, we answer soon. · queued" in row
    assert shown_at(shown, "figure-inbound") == "1"
    assert shown_at(shown, "figure-responses") == "1"

    off = post_form(owner, f"{page}/auto-reply", page, reply="", action="off")
    assert off.headers["location"] == f"{page}?reply=off#auto-reply"
    assert shown_at(owner.get("/numbers").text, "number-auto-reply").startswith("none")


def test_a_broken_reply_is_refused_at_its_line_and_column_and_kept(
    owner: TestClient, engine: Engine, workspace: WorkspaceRef, connector_id: int, now: datetime
) -> None:
    number = add_number(engine, workspace, "7391", connector="sim", actor="t", now=now)
    page = f"/numbers/{number.id}"

    unknown = post_form(owner, f"{page}/auto-reply", page, reply="Hi {{ frist_name }}!")
    assert unknown.status_code == 422
    assert error_of(unknown.text, "reply") == (
        "Line 1, column 7: an automatic reply has no value named “frist_name”. It may use:"
        " first_name, keyword, last_name, phone, rest, sender, text."
    )
    coupon = post_form(owner, f"{page}/auto-reply", page, reply="Your code: {{ coupon }}")
    assert error_of(coupon.text, "reply") == (
        "Line 1, column 15: an automatic reply has no such value. (an automatic answer has no"
        " coupon code to give)"
    )
    assert ">Hi {{ frist_name }}!</textarea>" in unknown.text
    assert 'href="#reply"' in unknown.text  # the summary at the top links to the box

    empty = post_form(owner, f"{page}/auto-reply", page, reply="  ")
    assert error_of(empty.text, "reply") == "Write the automatic reply, or turn it off."
    assert list_numbers(engine, workspace)[0]["auto_reply"] is None


def test_one_number_shows_its_rules_campaigns_tickets_and_the_reports_figures(
    owner: TestClient, engine: Engine, settings: Settings, workspace: WorkspaceRef,
    connector_id: int, now: datetime,
) -> None:  # fmt: skip
    number = add_number(engine, workspace, "7391", connector="sim", actor="t", now=now)
    campaigns = table_of(Campaign)
    with engine.begin() as conn:
        pizza_week = conn.execute(insert(campaigns).values(
            workspace_id=workspace.id, name="Pizza week", status="running", purpose="promotional",
            segment_expression="", number_id=number.id, schedule={}, options={}, excluded={},
            created_by="t", created_at=now,
        ).returning(campaigns.c.id)).scalar_one()  # fmt: skip
    add_keyword_rule(engine, workspace, "7391", "pizza", [{"type": "reply", "text": "Yum"}],
                     campaign_id=pizza_week, actor="t", now=now)  # fmt: skip
    inbound(engine, settings, connector_id, "pizza please", now)
    inbound(engine, settings, connector_id, "My order is late", now + timedelta(minutes=1),
            sender="+48600100300")  # fmt: skip
    inbound(engine, settings, connector_id, "STOP", now + timedelta(minutes=2))

    html = owner.get(f"/numbers/{number.id}").text

    assert f'href="/keywords?number={number.id}"' in html
    assert f'href="/analytics/responses?number={number.id}"' in html
    assert f'<a href="/campaigns/{pizza_week}">Pizza week</a>' in html
    stop, ticket, keyword = rows(html, "inbound-row")
    assert "STOP Opt-out (compliance word) stop" in stop
    assert "My order is late Ticket for an agent Ticket #" in ticket
    assert re.search(r'href="/inbox/\d+" data-testid="inbound-ticket"', html)
    assert "pizza please Keyword rule pizza Pizza week Yum" in keyword
    report = number_report(engine, workspace, number.id)
    assert (report["inbound"], report["responses"], report["unique_senders"]) == (3, 2, 2)
    assert shown_at(html, "figure-inbound") == str(report["inbound"])
    assert shown_at(html, "figure-responses") == str(report["responses"])
    assert shown_at(html, "figure-senders") == str(report["unique_senders"])
    assert shown_at(html, "figure-opt-outs") == str(report["opt_outs"]) == "1"
    assert shown_at(html, "figure-opt-out-rate") == "50.0%"
    assert shown_at(html, "figure-tickets") == str(report["tickets_opened"]) == "1"
    assert shown_at(html, "figure-first-answer") == "–"
    by_route = rows(html.replace("<tr><th", '<tr data-testid="r"><th'), "r")
    assert {"Keyword rule 1", "Opt-out (compliance word) 1", "Ticket for an agent 1"} <= set(
        by_route
    )

    listed = rows(owner.get("/numbers").text, "number-row")
    assert "pizza" in listed[0] and "Pizza week · Sending · keyword pizza" in listed[0]


@pytest.mark.parametrize("role", ["viewer", "agent"])
def test_readers_see_numbers_but_neither_form_and_their_posts_are_refused(
    site: TestClient, engine: Engine, workspace: WorkspaceRef, connector_id: int, now: datetime,
    role: str,
) -> None:  # fmt: skip
    number = add_number(engine, workspace, "7391", connector="sim", actor="t", now=now)
    reader = member(site, engine, workspace, role, now)

    listed = reader.get("/numbers")
    shown = reader.get(f"/numbers/{number.id}")

    assert listed.status_code == shown.status_code == 200
    assert "7391" in listed.text and "Add number" not in listed.text
    assert 'data-testid="auto-reply-form"' not in shown.text
    assert shown_at(shown.text, "number-auto-reply") == "None is set."
    added = post_form(reader, "/numbers", "/numbers", number="7392", connector="sim",
                      country="PL")  # fmt: skip
    reply = post_form(reader, f"/numbers/{number.id}/auto-reply", "/numbers", reply="Hi")
    assert added.status_code == reply.status_code == 403
    assert [(n["number"], n["auto_reply"]) for n in list_numbers(engine, workspace)] == [
        ("7391", None)
    ]


def test_another_workspaces_number_is_not_found(
    owner: TestClient, engine: Engine, now: datetime
) -> None:
    elsewhere = create_workspace(engine, "Other", "PL", "Europe/Warsaw", actor="t", now=now)
    theirs = add_number(engine, elsewhere, "7391", connector=None, actor="t", now=now)

    assert owner.get(f"/numbers/{theirs.id}").status_code == 404
    refused = post_form(owner, f"/numbers/{theirs.id}/auto-reply", "/numbers", reply="Hi")
    assert refused.status_code == 404
    assert list_numbers(engine, elsewhere)[0]["auto_reply"] is None


def test_the_pages_speak_polish(
    owner: TestClient, engine: Engine, settings: Settings, workspace: WorkspaceRef,
    connector_id: int, now: datetime,
) -> None:  # fmt: skip
    number = add_number(engine, workspace, "7391", connector="sim", actor="t", now=now)
    inbound(engine, settings, connector_id, "Hello?", now)
    headers = {"Accept-Language": "pl"}
    owner.cookies.set("smscast_lang", "pl")

    listed = owner.get("/numbers", headers=headers).text
    shown = owner.get(f"/numbers/{number.id}", headers=headers).text

    assert "<h1>Numery</h1>" in listed and "Dodaj numer" in listed and "numer skrócony" in listed
    assert "Automatyczna odpowiedź" in shown and "Ostatnie wiadomości" in shown
    assert "Zgłoszenie dla konsultanta" in shown_at(shown, "inbound-route")
