"""The workspace settings page through the real site on a real database: every setting
shown as stored, changed through the form, a wrong value refused at its field with what
was typed kept, the quiet-hours clock, and who may open the page."""

from __future__ import annotations

import re
from datetime import datetime

import httpx
import pytest
from fastapi.testclient import TestClient
from portal_site import Clock, build_site, csrf_of, make_user, sign_in
from sqlalchemy import Engine

from smscast.config import Settings
from smscast.engine.accounts.audit import list_audit_events
from smscast.engine.accounts.workspaces import WorkspaceRef, create_workspace, resolve_workspace
from smscast.engine.inbound.numbers import add_number
from smscast.engine.sending.connectors import add_connector

OWNER = "olga@shop.test"
AGENT = "adam@shop.test"


@pytest.fixture
def site(settings: Settings, engine: Engine, now: datetime) -> TestClient:
    return TestClient(build_site(settings, engine, Clock(now)), raise_server_exceptions=True)


@pytest.fixture
def owner(engine: Engine, workspace: WorkspaceRef, now: datetime, site: TestClient) -> TestClient:
    make_user(engine, [workspace], OWNER, now=now)
    sign_in(site, OWNER)
    return site


@pytest.fixture
def sender(engine: Engine, workspace: WorkspaceRef, now: datetime) -> int:
    """A connector and a number on it: the sign-up page's confirmation comes from there."""
    add_connector(engine, workspace, name="sim", kind="smpp", actor="t", now=now,
                  settings={"host": "127.0.0.1", "port": 2775, "system_id": "smscast"},
                  rate_per_s=0.0, window=10)  # fmt: skip
    return add_number(engine, workspace, "4000", connector="sim", actor="t", now=now).id


def stored(engine: Engine, workspace: WorkspaceRef) -> WorkspaceRef:
    with engine.connect() as conn:
        return resolve_workspace(conn, str(workspace.id))


def form_of(html: str) -> dict[str, str | list[str]]:
    """The settings form's values as the browser would send them unchanged."""
    form = html[html.index('data-testid="settings-form"') :]
    data: dict[str, str | list[str]] = {}
    for tag in re.findall(r"<input[^>]*>", form):
        name = re.search(r'name="([^"]+)"', tag)
        if name is None:
            continue
        kind = re.search(r'type="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if kind and kind.group(1) == "checkbox":
            if " checked" in tag:
                previous = data.get(name.group(1))
                if name.group(1) == "languages":
                    data["languages"] = [*(previous or []), value.group(1) if value else "1"]  # type: ignore[list-item]
                else:
                    data[name.group(1)] = value.group(1) if value else "1"
            continue
        data[name.group(1)] = value.group(1) if value else ""
    for name, body in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', form, re.S):
        data[name] = body
    for name, options in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', options)
        data[name] = chosen.group(1) if chosen else ""
    return data


def save(client: TestClient, **changes: str | list[str] | None) -> httpx.Response:
    page = client.get("/settings")
    data = form_of(page.text)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    data["csrf_token"] = csrf_of(page.text)
    answer: httpx.Response = client.post("/settings", data=data, follow_redirects=False)
    return answer


def field_error(html: str, field: str) -> str:
    found = re.search(rf'<p class="field__error" id="{field}-error">(.*?)</p>', html, re.S)
    assert found, f"no error at {field}"
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


def test_the_page_shows_the_defaults_and_saving_unchanged_stores_nothing(
    owner: TestClient, engine: Engine, workspace: WorkspaceRef
) -> None:
    page = owner.get("/settings")
    assert page.status_code == 200
    values = form_of(page.text)
    assert values["name"] == workspace.name
    assert values["quiet_start"] == "21:00" and values["quiet_end"] == "08:00"
    assert values["frequency_cap_limit"] == "2" and values["frequency_cap_days"] == "7"
    assert values["opt_out_keyword"] == "STOP"
    assert "No promotional texts from 21:00 to 08:00" in page.text
    answer = save(owner)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/settings?saved=true"
    assert stored(engine, workspace).settings == {}
    assert "The settings are saved." in owner.get("/settings?saved=true").text


def test_every_setting_is_changed_through_the_form(
    owner: TestClient, engine: Engine, workspace: WorkspaceRef, sender: int
) -> None:
    answer = save(
        owner,
        name="Shop Two",
        timezone="Europe/Berlin",
        portal_language="pl",
        currency="eur",
        languages=["en", "pl"],
        quiet_start="22:30",
        quiet_end="07:00",
        quiet_hours_informational=None,
        frequency_cap_limit="3",
        frequency_cap_days="14",
        opt_out_footer_required="1",
        opt_out_keyword="NIE",
        short_domain="https://sho.rt/",
        part_price="0,07",
        sign_up_open="1",
        sign_up_text="I agree to texts from Shop Two.\r\nReply STOP to opt out.",
        sign_up_slug="shop-two",
        sign_up_number="4000",
        default_number_id=str(sender),
    )
    assert answer.status_code == 303, answer.text
    now = stored(engine, workspace)
    assert (now.name, now.timezone) == ("Shop Two", "Europe/Berlin")
    assert now.settings == {
        "portal_language": "pl",
        "currency": "EUR",
        "languages": ["en", "pl"],
        "quiet_hours": {"start": "22:30", "end": "07:00"},
        "quiet_hours_informational": False,
        "frequency_cap_limit": 3,
        "frequency_cap_days": 14,
        "opt_out_footer_required": True,
        "opt_out_keyword": "NIE",
        "short_domain": "https://sho.rt",
        "part_price": 0.07,
        "sign_up_open": True,
        "sign_up_text": "I agree to texts from Shop Two.\nReply STOP to opt out.",
        "sign_up_slug": "shop-two",
        "sign_up_number": "4000",
        "default_number_id": sender,
    }
    page = owner.get("/settings")  # now in Polish: the workspace's default language
    assert 'href="/join/shop-two"' in page.text
    assert "22:30–07:00" in page.text
    events = list_audit_events(engine, workspace.id, before=0, limit=10)
    assert [e["action"] for e in events].count("workspace.settings_changed") == 1

    assert save(owner, quiet_off="1").status_code == 303
    assert stored(engine, workspace).settings["quiet_hours"] == "off"


def test_wrong_values_are_refused_at_their_fields_with_what_was_typed_kept(
    owner: TestClient, engine: Engine, workspace: WorkspaceRef
) -> None:
    answer = save(
        owner,
        name=" ",
        currency="XYZ",
        quiet_start="25:00",
        frequency_cap_limit="-1",
        frequency_cap_days="0",
        short_domain="sho.rt",
        part_price="cheap",
        sign_up_slug="Not A Slug!",
        languages=[],
    )
    assert answer.status_code == 422
    html = answer.text
    assert field_error(html, "name") == "Error: Give the workspace a name."
    assert "three-letter code" in field_error(html, "currency")
    assert "hours and minutes" in field_error(html, "quiet_start")
    assert "0 or more" in field_error(html, "frequency_cap_limit")
    assert "greater than 0" in field_error(html, "frequency_cap_days")
    assert "https://" in field_error(html, "short_domain")
    assert "0 or more" in field_error(html, "part_price")
    assert "lowercase letters" in field_error(html, "sign_up_slug")
    assert "at least one language" in html
    kept = form_of(html)
    assert kept["currency"] == "XYZ" and kept["quiet_start"] == "25:00"
    assert kept["part_price"] == "cheap" and kept["sign_up_slug"] == "Not A Slug!"
    assert 'href="#quiet_start"' in html  # the summary links to the field
    assert stored(engine, workspace).settings == {}


def test_the_engine_refusals_are_shown_at_their_fields(
    owner: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    create_workspace(engine, "Other shop", "PL", "Europe/Warsaw", actor="test", now=now)
    taken = save(owner, name="Other shop", country="XX")
    assert taken.status_code == 422
    assert "two-letter code" in field_error(taken.text, "country")
    assert form_of(taken.text)["name"] == "Other shop"
    named = save(owner, name="Other shop")
    assert "Another workspace has this name" in field_error(named.text, "name")
    unopened = save(owner, sign_up_open="1", sign_up_text="")
    assert "Write the text people agree to" in field_error(unopened.text, "sign_up_text")
    assert stored(engine, workspace).name == workspace.name


def test_the_quiet_clock_follows_the_times(owner: TestClient) -> None:
    clock = owner.get("/settings/quiet-clock", params={"quiet_start": "22:00", "quiet_end": "6:30"})
    assert clock.status_code == 200
    assert "from 22:00 to 06:30" in clock.text and "8 h 30 min" in clock.text
    assert 'data-testid="quiet-arc"' in clock.text
    daytime = owner.get(
        "/settings/quiet-clock", params={"quiet_start": "9:00", "quiet_end": "17:00"}
    )
    assert "8 h a day" in daytime.text
    arc = re.compile(r'd="([^"]+)" data-testid="quiet-arc"')
    assert arc.search(clock.text).group(1) != arc.search(daytime.text).group(1)  # type: ignore[union-attr]
    off = owner.get("/settings/quiet-clock", params={"quiet_off": "1", "quiet_start": "22:00"})
    assert "No quiet hours" in off.text and "quiet-arc" not in off.text
    unread = owner.get("/settings/quiet-clock", params={"quiet_start": "22", "quiet_end": "06:00"})
    assert "Enter both times" in unread.text


def test_an_agent_gets_the_403_page_even_by_typing_the_address(
    site: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    make_user(engine, [workspace], AGENT, role="agent", now=now)
    sign_in(site, AGENT)
    assert 'href="/settings"' not in site.get("/dashboard").text
    assert site.get("/settings").status_code == 403
    assert site.get("/settings/quiet-clock").status_code == 403
    token = csrf_of(site.get("/dashboard").text)
    refused = site.post("/settings", data={"name": "Mine", "csrf_token": token})
    assert refused.status_code == 403
    assert stored(engine, workspace).name == workspace.name
