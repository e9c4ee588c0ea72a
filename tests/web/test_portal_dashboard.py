"""The dashboard page: tiles with the numbers sending counted, one filter bar for all,
layouts saved per user, shared dashboards read-only for others, words escaped and in
Polish; through the real site on a real database."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from dashboard_data import Traffic, make_traffic
from fastapi.testclient import TestClient
from portal_site import Clock, build_site, csrf_of, make_user, sign_in
from sqlalchemy import Engine

from smscast.config import Settings
from smscast.core.dashboard_tiles import CATALOGUE, KPI_KINDS
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.dashboards.layouts import list_dashboards
from smscast.web.routes.dashboard_view import LABELS

OLA, PIOTR = "ola@shop.test", "piotr@shop.test"


@pytest.fixture
def clock(now: datetime) -> Clock:
    return Clock(now + timedelta(hours=2))


@pytest.fixture
def site(settings: Settings, engine: Engine, clock: Clock) -> TestClient:
    return TestClient(build_site(settings, engine, clock))


@pytest.fixture
def other(settings: Settings, engine: Engine, clock: Clock) -> TestClient:
    """A second browser, for a second user."""
    return TestClient(build_site(settings, engine, clock))


@pytest.fixture
def users(engine: Engine, workspace: WorkspaceRef, now: datetime) -> dict[str, int]:
    return {
        OLA: make_user(engine, [workspace], OLA, name="Ola", now=now),
        PIOTR: make_user(engine, [workspace], PIOTR, role="viewer", now=now),
    }


@pytest.fixture
def traffic(engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime) -> Traffic:
    return make_traffic(engine, settings, workspace, now)


def tile(html: str, kind: str) -> str:
    """The HTML of one tile, found by its test id."""
    found = re.search(rf'<section [^>]*data-testid="{kind}".*?</section>', html, re.S)
    assert found, f"no tile {kind} on the page"
    return found.group(0)


def kpi(html: str, kind: str) -> str:
    found = re.search(r"data-kpi-value>([^<]*)<", tile(html, kind))
    assert found, f"tile {kind} shows no number"
    return found.group(1)


def kpi_detail(html: str, kind: str) -> str:
    found = re.search(r"data-kpi-detail>([^<]*)<", tile(html, kind))
    assert found
    return found.group(1)


def order_of(html: str) -> list[str]:
    return re.findall(r'<section class="dash-tile[^"]*" data-testid="([a-z-]+)"', html)


def post(client: TestClient, page: str, action: str, data: dict[str, str]) -> str:
    """Posts a form of `page` as a browser would (with its CSRF token); returns where
    the answer sends the browser."""
    answer = client.post(action, data={**data, "csrf_token": csrf_of(page)},
                         follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


def dashboard_id_of(html: str) -> int:
    found = re.search(r'action="/dashboard/(\d+)/rename"', html) or re.search(
        r'action="/dashboard/(\d+)/copy"', html
    )
    assert found
    return int(found.group(1))


def test_every_kpi_tile_shows_what_sending_counted(
    site: TestClient, users: dict[str, int], traffic: Traffic
) -> None:
    sign_in(site, OLA)
    page = site.get("/dashboard")
    assert page.status_code == 200
    for kind in ("kpi-sent", "kpi-delivered", "kpi-delivery-rate", "kpi-clicks", "kpi-replies",
                 "kpi-opt-outs"):  # fmt: skip
        assert f'data-testid="{kind}"' in page.text
    assert order_of(page.text) == [kind.name for kind in CATALOGUE]  # the default layout
    assert (kpi(page.text, "kpi-sent"), kpi(page.text, "kpi-delivered")) == ("5", "3")
    assert kpi(page.text, "kpi-delivery-rate") == "60.0%"
    assert kpi_detail(page.text, "kpi-delivery-rate") == "3 of 5"
    assert kpi(page.text, "kpi-failed") == "1"
    assert "red" in tile(page.text, "table-connectors")
    assert "+48500200200" in tile(page.text, "table-numbers")
    assert 'href="/dashboard" aria-current="page"' in page.text  # the menu's entry


def test_every_tile_of_the_catalogue_has_words(site: TestClient) -> None:
    assert [kind.name for kind in CATALOGUE if kind.name not in LABELS] == []


@pytest.mark.parametrize(
    ("query", "sent", "delivered"),
    [
        ("purpose=informational", "2", "1"),
        ("purpose=promotional", "3", "2"),
        ("range=today", "5", "3"),
        ("range=custom&from=2026-11-26&to=2026-11-30", "0", "0"),
    ],
)
def test_the_filter_bar_narrows_every_kpi(
    site: TestClient, users: dict[str, int], traffic: Traffic, query: str, sent: str,
    delivered: str,
) -> None:  # fmt: skip
    sign_in(site, OLA)
    page = site.get(f"/dashboard?{query}")
    assert (kpi(page.text, "kpi-sent"), kpi(page.text, "kpi-delivered")) == (sent, delivered)
    # the stream counts what the page shows: it carries the same filters
    assert f'data-stream="/dashboard/stream?{query.replace("&", "&amp;")}"' in page.text


def test_campaign_and_number_filters(
    site: TestClient, users: dict[str, int], traffic: Traffic
) -> None:
    sign_in(site, OLA)
    page = site.get(f"/dashboard?campaign={traffic.notice}")
    assert kpi(page.text, "kpi-sent") == "2"
    assert f'<option value="{traffic.notice}" selected>Notice</option>' in page.text
    number_id = re.search(r'<option value="(\d+)">\+48500100100</option>', page.text)
    assert number_id
    page = site.get(f"/dashboard?number={number_id.group(1)}")
    assert (kpi(page.text, "kpi-sent"), kpi(page.text, "kpi-delivered")) == ("3", "2")


def test_a_wrong_filter_is_said_on_the_bar_not_a_failure(
    site: TestClient, users: dict[str, int], traffic: Traffic
) -> None:
    sign_in(site, OLA)
    page = site.get("/dashboard?range=custom&from=2026-11-30&to=2026-11-01&campaign=x")
    assert page.status_code == 200
    assert "The last day must not come before the first." in page.text
    assert "Choose a campaign from the list." in page.text
    assert kpi(page.text, "kpi-sent") == "5"  # the defaults: last 7 days, every campaign
