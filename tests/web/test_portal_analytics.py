"""The response analysis page through the real site on a real database: its totals for
a number over all time are the API's report of that number (read with a key from the
same site), its days in the workspace's time zone, its filters (number, period, a chosen
range) with wrong values shown at their field, the CSV downloads, and who may read it.

The story: three days ago A asks a question (a ticket, answered in 2 minutes and solved
in 10) and B another; two days ago a campaign texts A and B from the number, A answers
PIZZA (its keyword) and B texts STOP; yesterday C says hi (a ticket nobody answers).
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timedelta
from html import unescape
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from portal_site import Clock, build_site, make_user, sign_in
from sqlalchemy import Engine, insert

from smscast.channels.base import InboundMessage
from smscast.config import Settings
from smscast.engine.accounts.api_keys import create_api_key
from smscast.engine.accounts.workspaces import WorkspaceRef, create_workspace
from smscast.engine.inbound.keyword_rules import add_keyword_rule
from smscast.engine.inbound.numbers import add_number
from smscast.engine.inbound.receive import handle_inbound
from smscast.engine.inbound.tickets import reply_to_ticket, solve_ticket
from smscast.engine.sending.connectors import add_connector
from smscast.store.messaging_models import Campaign, Message
from smscast.store.models import table_of

NUMBER = "+48500100200"
A, B, C = "+48600100301", "+48600100302", "+48600100303"
WARSAW = ZoneInfo("Europe/Warsaw")


@pytest.fixture
def site(settings: Settings, engine: Engine, now: datetime) -> TestClient:
    return TestClient(build_site(settings, engine, Clock(now)), raise_server_exceptions=True)


@pytest.fixture
def story(engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime) -> int:
    """The story above; returns the number's id."""
    connector = add_connector(engine, workspace, name="sim", kind="smpp", actor="t", now=now,
                              settings={"host": "127.0.0.1", "port": 2775, "system_id": "s"},
                              rate_per_s=0.0, window=10)  # fmt: skip
    number = add_number(engine, workspace, NUMBER, connector="sim", actor="t", now=now)

    def text(phone: str, body: str, at: datetime) -> Any:
        message = InboundMessage(phone, NUMBER, body, at)
        return handle_inbound(engine, settings, int(connector.id), message)

    t1 = now - timedelta(days=3)
    asked = text(A, "where is my parcel", t1)
    reply_to_ticket(engine, workspace, asked.ticket_id, "Today!", actor="t",
                    now=t1 + timedelta(minutes=2))  # fmt: skip
    solve_ticket(engine, workspace, asked.ticket_id, actor="t", now=t1 + timedelta(minutes=10))
    other = text(B, "do you ship abroad", t1 + timedelta(hours=1))
    t2 = now - timedelta(days=2)
    with engine.begin() as conn:
        campaign = conn.execute(insert(table_of(Campaign)).values(
            workspace_id=workspace.id, name="Pizza week", status="running",
            purpose="promotional", segment_expression="", number_id=number.id, schedule={},
            options={}, excluded={}, created_by="t", created_at=t2,
        ).returning(table_of(Campaign).c.id)).scalar_one()  # fmt: skip
        for contact_id, phone in ((asked.contact_id, A), (other.contact_id, B)):
            conn.execute(insert(table_of(Message)).values(
                workspace_id=workspace.id, direction="out", kind="campaign",
                purpose="promotional", contact_id=contact_id, phone=phone,
                number_id=number.id, campaign_id=campaign, run=0, body="Reply PIZZA",
                encoding="GSM-7", parts=1, parts_done=1, cost=0, status="delivered",
                attempts=1, created_at=t2, sent_at=t2,
            ))  # fmt: skip
    add_keyword_rule(engine, workspace, NUMBER, "PIZZA", [{"type": "reply", "text": "Yum"}],
                     campaign_id=campaign, actor="t", now=t2)  # fmt: skip
    text(A, "pizza", t2 + timedelta(minutes=10))
    text(B, "STOP", t2 + timedelta(minutes=20))
    text(C, "hi", now - timedelta(days=1))
    return number.id


@pytest.fixture
def owner(engine: Engine, workspace: WorkspaceRef, now: datetime, site: TestClient) -> TestClient:
    make_user(engine, [workspace], "ola@shop.test", now=now)
    sign_in(site, "ola@shop.test")
    return site


def text_of(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def tile(html: str, testid: str) -> str:
    """A figure tile's value as shown."""
    found = re.search(rf'data-testid="{testid}".*?<dd class="tile__value">(.*?)</dd>', html, re.S)
    assert found, f"no {testid} on the page"
    return text_of(found.group(1))


def detail(html: str, testid: str) -> str:
    found = re.search(rf'data-testid="{testid}".*?<dd class="analytics-detail">(.*?)</dd>',
                      html, re.S)  # fmt: skip
    assert found, f"no detail under {testid}"
    return text_of(found.group(1))


def table_rows(html: str, testid: str) -> list[str]:
    return [text_of(r) for r in re.findall(rf'<tr data-testid="{testid}"[^>]*>(.*?)</tr>',
                                           html, re.S)]  # fmt: skip


def csv_of(client: TestClient, address: str) -> list[dict[str, str]]:
    answer = client.get(address)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(answer.text)))


def test_all_time_totals_are_the_api_report(
    owner: TestClient, site: TestClient, engine: Engine, workspace: WorkspaceRef,
    now: datetime, story: int,
) -> None:  # fmt: skip
    api = TestClient(site.app)
    token = create_api_key(engine, workspace, "reader", "viewer", expires_at=None, actor="t",
                           now=now).token  # fmt: skip
    answer = api.get(f"/api/v1/numbers/{story}/report",
                     headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["inbound"], report["responses"], report["unique_senders"]) == (5, 4, 3)

    page = owner.get(f"/analytics/responses?number={story}&period=all")
    assert page.status_code == 200, page.text
    html = page.text
    assert tile(html, "figure-responses") == str(report["responses"])
    assert detail(html, "figure-responses") == f"of {report['inbound']} texts received"
    assert tile(html, "figure-unique-senders") == str(report["unique_senders"])
    assert tile(html, "figure-response-rate") == f"{report['response_rate'] * 100:.1f}%"
    assert detail(html, "figure-response-rate") == (
        f"{report['campaign_responders']} of {report['campaign_recipients']} people the "
        "campaigns texted"
    )
    assert tile(html, "figure-opt-outs") == str(report["opt_outs"])
    assert tile(html, "figure-tickets") == str(report["tickets_opened"])
    assert detail(html, "figure-tickets").startswith(f"{report['tickets_answered']} answered")
    assert report["median_first_answer_s"] == 120.0
    assert tile(html, "figure-first-answer") == "2 min"
    assert tile(html, "figure-solve") == "10 min"

    # The CSV's days add up to the same report: each text, ticket and person texted
    # falls on one day.
    days = csv_of(owner, f"/analytics/responses.csv?number={story}&period=all&by=number")
    for name in ("inbound", "responses", "tickets_opened", "tickets_answered",
                 "campaign_recipients", "campaign_responders"):  # fmt: skip
        assert sum(int(day[name]) for day in days) == report[name], name
    [pizza] = [k for k in report["keywords"] if k["keyword"] == "pizza"]
    keyword_days = csv_of(owner, f"/analytics/responses.csv?number={story}&period=all&by=keyword")
    assert (
        sum(int(d["responses"]) for d in keyword_days if d["keyword"] == "pizza") == pizza["hits"]
    )


def test_the_days_chart_and_tables(owner: TestClient, now: datetime, story: int) -> None:
    html = owner.get("/analytics/responses?period=7d").text
    today = now.astimezone(WARSAW).date()
    days = [today - timedelta(days=i) for i in range(7)]
    found = re.findall(r'data-testid="day-row" data-day="([\d-]+)"', html)
    assert found == [d.isoformat() for d in days]  # newest first, none left out
    rows = dict(zip(found, table_rows(html, "day-row"), strict=True))
    three_days_ago = (today - timedelta(days=3)).isoformat()
    assert rows[three_days_ago].split()[3:5] == ["2", "2"]  # 2 texts, 2 responses
    chart = json.loads(re.search(
        r'<script type="application/json" id="analytics-chart">(.*?)</script>', html, re.S
    ).group(1))  # type: ignore[union-attr]  # fmt: skip
    assert len(chart["labels"]) == 7
    responses = next(s for s in chart["series"] if s["label"] == "Responses")
    assert responses["values"] == [0, 0, 0, 2, 1, 1, 0]  # oldest first, as the axis runs
    assert 'data-testid="responses-chart"' in html and "/static/vendor/uPlot.iife.min.js" in html
    assert [r.split()[0] for r in table_rows(html, "number-row")] == [NUMBER]
    assert table_rows(html, "keyword-row")[0].startswith("PIZZA " + NUMBER + " 1 1 0")
    assert table_rows(html, "campaign-row") == ["Pizza week 2 2 2 100.0% 1 50.0% 15 min"]


def test_a_chosen_range(owner: TestClient, now: datetime, story: int) -> None:
    day = (now - timedelta(days=2)).astimezone(WARSAW).date().isoformat()
    html = owner.get(f"/analytics/responses?number={story}&period=custom&from={day}&to={day}").text
    assert re.findall(r'data-testid="day-row" data-day="([\d-]+)"', html) == [day]
    assert tile(html, "figure-responses") == "1"  # A's PIZZA; B's STOP is no response
    assert tile(html, "figure-opt-outs") == "1" and tile(html, "figure-tickets") == "0"
    assert tile(html, "figure-response-rate") == "50.0%"
    assert f'value="{day}"' in html  # the range stays in the form
    assert "per-number" not in html  # one number chosen: no table of numbers


def test_wrong_filters_are_shown_at_their_field(
    owner: TestClient, engine: Engine, now: datetime, story: int
) -> None:
    answer = owner.get("/analytics/responses?period=custom&from=yesterday&to=2026-11-20")
    assert answer.status_code == 422
    assert 'href="#from"' in answer.text and "Enter the first day as a date." in answer.text
    assert 'value="yesterday"' in answer.text  # what was typed is kept
    assert tile(answer.text, "figure-responses") == "4"  # the last 30 days instead
    answer = owner.get("/analytics/responses?period=custom&from=2026-11-20&to=2026-11-01")
    assert answer.status_code == 422 and "must not come before the first" in answer.text
    answer = owner.get("/analytics/responses?period=forever")
    assert answer.status_code == 422 and "Choose a period from the list." in answer.text
    elsewhere = create_workspace(engine, "Other", "PL", "Europe/Warsaw", actor="t", now=now)
    theirs = add_number(engine, elsewhere, "+48500100999", connector=None, actor="t", now=now)
    for number in ("abc", str(theirs.id)):
        answer = owner.get(f"/analytics/responses?number={number}")
        assert answer.status_code == 422 and 'href="#number"' in answer.text
        assert [r.split()[0] for r in table_rows(answer.text, "number-row")] == [NUMBER]
    answer = owner.get(f"/analytics/responses.csv?number={theirs.id}&period=all")
    assert "+48500100999" not in answer.text and NUMBER in answer.text


def test_csv_downloads(owner: TestClient, story: int) -> None:
    html = owner.get(f"/analytics/responses?number={story}&period=all").text
    links = dict(re.findall(r'href="([^"]+)" data-testid="csv-(\w+)"', html))
    assert sorted(links.values()) == ["campaign", "keyword", "number"]
    for address, by in links.items():
        answer = owner.get(unescape(address))
        assert answer.status_code == 200
        assert f"by-{by}" in answer.headers["content-disposition"]
        header = answer.text.splitlines()[0].split(",")
        assert header[0] == "day" and all(re.fullmatch(r"[a-z_]+", h) for h in header)
    address = f"/analytics/responses.csv?number={story}&period=all&by=campaign"
    [campaign_day] = [r for r in csv_of(owner, address) if r["sent"] != "0"]
    assert campaign_day["campaign"] == "Pizza week" and campaign_day["response_rate"] == "1.0"
    assert campaign_day["median_first_reply_s"] == "900.0"


@pytest.mark.parametrize("role", ["agent", "viewer"])
def test_every_member_reads_it_and_no_one_else(
    site: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime, role: str
) -> None:
    answer = site.get("/analytics/responses", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    assert site.get("/analytics/responses.csv", follow_redirects=False).status_code == 303
    make_user(engine, [workspace], f"{role}@shop.test", role=role, now=now)
    sign_in(site, f"{role}@shop.test")
    answer = site.get("/analytics/responses")
    assert answer.status_code == 200 and "The workspace has no numbers yet." in answer.text
    assert 'href="/analytics/responses"' in answer.text  # the menu entry


def test_in_polish(owner: TestClient, story: int) -> None:
    html = owner.get(
        f"/analytics/responses?number={story}&period=all", headers={"Accept-Language": "pl"}
    ).text
    assert "<h1>Analiza odpowiedzi</h1>" in html
    assert tile(html, "figure-first-answer") == "2 min"
