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
from smscast.core.dashboard_tiles import CATALOGUE
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


def test_layout_changes_are_saved_for_the_user_alone(
    site: TestClient, other: TestClient, users: dict[str, int], traffic: Traffic
) -> None:
    sign_in(site, OLA)
    page = site.get("/dashboard?range=30d").text
    board = dashboard_id_of(page)
    action = f"/dashboard/{board}/tiles"
    back = post(
        site, page, action, {"action": "remove", "tile": "kpi-cost", "filters": "range=30d"}
    )
    assert back == f"/dashboard?dashboard={board}&range=30d"  # same dashboard, same filters
    post(site, page, action, {"action": "earlier", "tile": "kpi-delivered"})
    post(site, page, action, {"action": "resize", "tile": "chart-traffic", "size": "m"})
    post(site, page, action, {"action": "later", "tile": "table-numbers"})  # last: stays

    page = site.get("/dashboard").text
    order = order_of(page)
    assert "kpi-cost" not in order
    assert order[:3] == ["kpi-delivered", "kpi-sent", "kpi-delivery-rate"]
    assert order[-1] == "table-numbers"
    assert 'class="dash-tile dash-tile--m dash-tile--chart" data-testid="chart-traffic"' in page
    assert '<option value="kpi-cost">Cost</option>' in page  # offered back under "Add a tile"

    post(site, page, action, {"action": "add", "tile": "kpi-cost"})
    assert order_of(site.get("/dashboard").text)[-1] == "kpi-cost"

    sign_in(other, PIOTR)  # someone else still has every tile in the default order
    assert order_of(other.get("/dashboard").text) == [kind.name for kind in CATALOGUE]


def test_a_tile_that_does_not_fit_is_refused_on_the_page(
    site: TestClient, users: dict[str, int]
) -> None:
    sign_in(site, OLA)
    page = site.get("/dashboard").text
    board = dashboard_id_of(page)
    wrong = {"action": "resize", "tile": "kpi-sent", "size": "l", "csrf_token": csrf_of(page)}
    answer = site.post(f"/dashboard/{board}/tiles", data=wrong)
    assert answer.status_code == 422
    assert "That tile cannot be placed on this dashboard." in answer.text
    assert 'class="dash-tile dash-tile--s dash-tile--kpi" data-testid="kpi-sent"' in answer.text


def test_named_dashboards_are_created_renamed_switched_and_deleted(
    site: TestClient, users: dict[str, int], engine: Engine, workspace: WorkspaceRef
) -> None:
    sign_in(site, OLA)
    page = site.get("/dashboard").text
    first = dashboard_id_of(page)
    assert '<h1 data-testid="dashboard-name">My dashboard</h1>' in page
    where = post(site, page, "/dashboard/new", {"name": "Black Friday", "filters": "range=today"})
    second = int(re.search(r"dashboard=(\d+)", where).group(1))  # type: ignore[union-attr]
    assert where == f"/dashboard?dashboard={second}&range=today"
    page = site.get(where).text
    assert '<h1 data-testid="dashboard-name">Black Friday</h1>' in page
    assert f'<option value="{first}">My dashboard</option>' in page  # switch back from here

    answer = site.post(f"/dashboard/{second}/rename",
                       data={"name": "My dashboard", "csrf_token": csrf_of(page)})  # fmt: skip
    assert answer.status_code == 422
    assert "You already have a dashboard with that name." in answer.text
    assert 'href="#rename-name"' in answer.text and 'value="My dashboard"' in answer.text

    post(site, page, f"/dashboard/{second}/rename", {"name": "BF 2026"})
    assert "BF 2026" in site.get(f"/dashboard?dashboard={second}").text
    assert post(site, page, f"/dashboard/{second}/delete", {}) == "/dashboard"
    assert [d.name for d in list_dashboards(engine, workspace.id, users[OLA])] == ["My dashboard"]
    assert site.get(f"/dashboard?dashboard={second}").status_code == 404


def test_a_shared_dashboard_is_read_only_for_others_until_copied(
    site: TestClient, other: TestClient, users: dict[str, int]
) -> None:
    sign_in(site, OLA)
    page = site.get("/dashboard").text
    board = dashboard_id_of(page)
    post(site, page, f"/dashboard/{board}/tiles", {"action": "remove", "tile": "kpi-cost"})
    post(site, page, f"/dashboard/{board}/share", {"shared": "1"})
    assert "Shared with everyone in the workspace." in site.get("/dashboard").text

    sign_in(other, PIOTR)
    theirs = other.get(f"/dashboard?dashboard={board}").text
    assert "kpi-cost" not in order_of(theirs)  # Ola's arrangement
    assert "Shared by a colleague" in theirs
    for edit in ("/tiles", "/rename", "/share", "/delete"):
        assert f'action="/dashboard/{board}{edit}"' not in theirs
    assert "Arrange" not in theirs
    forged = other.post(f"/dashboard/{board}/tiles", data={
        "action": "remove", "tile": "kpi-sent", "csrf_token": csrf_of(theirs)})  # fmt: skip
    assert forged.status_code == 403
    assert "kpi-sent" in order_of(site.get("/dashboard").text)

    where = post(other, theirs, f"/dashboard/{board}/copy", {"name": "Ola's, mine now"})
    copy = other.get(where).text
    assert "Ola&#39;s, mine now" in copy
    assert "kpi-cost" not in order_of(copy) and "Arrange" in copy  # theirs to change now


def test_a_viewer_arranges_their_own_dashboard(other: TestClient, users: dict[str, int]) -> None:
    """Arranging one's own tiles changes no workspace data, so a viewer may (see the
    route module's docstring): the edit buttons show and work for them."""
    sign_in(other, PIOTR)
    page = other.get("/dashboard").text
    assert "Arrange" in page
    post(other, page, f"/dashboard/{dashboard_id_of(page)}/tiles",
         {"action": "remove", "tile": "kpi-sent"})  # fmt: skip
    assert "kpi-sent" not in order_of(other.get("/dashboard").text)


def test_names_people_typed_show_as_text(
    site: TestClient, users: dict[str, int], engine: Engine, settings: Settings,
    workspace: WorkspaceRef, now: datetime,
) -> None:  # fmt: skip
    make_traffic(engine, settings, workspace, now, sale_name="<script>alert(1)</script>")
    sign_in(site, OLA)
    page = site.get("/dashboard").text
    post(site, page, "/dashboard/new", {"name": "<img src=x onerror=alert(2)>"})
    page = site.get("/dashboard?dashboard=2").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the campaign filter's option
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(2)&gt;" in page


def test_the_page_in_polish(site: TestClient, users: dict[str, int], traffic: Traffic) -> None:
    login = site.get("/login")
    site.post("/language", data={"language": "pl", "next": "/login",
                                 "csrf_token": csrf_of(login.text)})  # fmt: skip
    sign_in(site, OLA)
    page = site.get("/dashboard?range=30d")
    assert '<html lang="pl">' in page.text
    assert '<h2 class="tile__label" id="title-kpi-delivered">Doręczone</h2>' in page.text
    assert kpi(page.text, "kpi-delivery-rate") == "60,0%"
    assert kpi_detail(page.text, "kpi-delivery-rate") == "3 z 5"
    assert "Mój pulpit" in page.text and "Ostatnie 30 dni" in page.text
    assert "zł" in kpi(page.text, "kpi-cost")  # złoty, the workspace's country's currency


def test_a_dashboard_emptied_of_tiles_still_opens_and_offers_them_all(
    site: TestClient, users: dict[str, int]
) -> None:
    sign_in(site, OLA)
    page = site.get("/dashboard").text
    board = dashboard_id_of(page)
    for kind in CATALOGUE:
        post(site, page, f"/dashboard/{board}/tiles", {"action": "remove", "tile": kind.name})
    page = site.get("/dashboard").text
    assert order_of(page) == []
    assert "This dashboard has no tiles yet." in page
    offered = re.findall(r'<option value="([a-z-]+)">', page.split('id="add-tile"')[1])
    assert offered[: len(CATALOGUE)] == [kind.name for kind in CATALOGUE]
