"""The campaigns list and a campaign's report in the portal, through the real site on a
real database: the same figures as the API, pause / resume / cancel for those who may,
CSV downloads, Polish, and a campaign name that is not markup."""

from __future__ import annotations

import csv
import io
import random
import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from portal_site import Clock, build_site, csrf_of, make_user, sign_in
from sqlalchemy import Engine, func, insert, select, update

from smscast.config import Settings
from smscast.engine.accounts.api_keys import create_api_key
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.campaigns.ab import decide_ab_winners
from smscast.engine.campaigns.launch import launch_campaign
from smscast.engine.campaigns.lifecycle import (
    ABTest,
    CampaignDraft,
    change_status,
    create_campaign,
)
from smscast.engine.stats import bump_campaign_stats
from smscast.store.messaging_models import CampaignVariant, Message
from smscast.store.models import ConsentState, Contact, table_of

OWNER = "ola@shop.test"
VIEWER = "vera@shop.test"
contacts = table_of(Contact)
consent_states = table_of(ConsentState)
messages = table_of(Message)
variants = table_of(CampaignVariant)


def add_contact(engine: Engine, workspace: WorkspaceRef, phone: str, now: datetime,
                consent: str = "opted_in") -> None:  # fmt: skip
    with engine.begin() as conn:
        contact_id = conn.execute(
            insert(contacts).values(
                workspace_id=workspace.id, phone=phone, country="PL", attributes={},
                language="pl", timezone="Europe/Warsaw", email=None, tags=[],
                created_at=now, updated_at=now,
            ).returning(contacts.c.id)
        ).scalar_one()  # fmt: skip
        conn.execute(insert(consent_states).values(
            contact_id=contact_id, channel="sms", purpose="promotional", status=consent,
            event_id=0, changed_at=now))  # fmt: skip


def make_campaign(engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime,
                  name: str = "Black Friday", *, launch: bool = True) -> int:  # fmt: skip
    """A campaign made and launched through the engine: 4 contacts, 1 opted out."""
    draft = CampaignDraft(name=name, body="Sale today {{ link('https://shop.example/bf') }}",
                          purpose="promotional")  # fmt: skip
    campaign_id = create_campaign(engine, workspace, draft, actor="t", now=now)
    if launch:
        launch_campaign(engine, settings, workspace, campaign_id, actor="t", now=now,
                        rng=random.Random(1))  # fmt: skip
    return campaign_id


def sending(engine: Engine, campaign_id: int, at: datetime) -> None:
    """What the dispatcher and the carriers would have counted: 2 sent, 1 delivered,
    one person clicked twice."""
    with engine.begin() as conn:
        bump_campaign_stats(conn, campaign_id, at, sent=2, queued=-2, delivered=1, parts=2,
                            cost=0.25, clicks=2, unique_clicks=1)  # fmt: skip


@pytest.fixture
def clock(now: datetime) -> Clock:
    return Clock(now)


@pytest.fixture
def site(settings: Settings, engine: Engine, clock: Clock) -> TestClient:
    return TestClient(build_site(settings, engine, clock))


@pytest.fixture
def owner(site: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime) -> TestClient:
    make_user(engine, [workspace], OWNER, now=now)
    sign_in(site, OWNER)
    return site


@pytest.fixture
def viewer(settings: Settings, engine: Engine, workspace: WorkspaceRef, clock: Clock,
           now: datetime) -> TestClient:  # fmt: skip
    make_user(engine, [workspace], VIEWER, role="viewer", now=now)
    client = TestClient(build_site(settings, engine, clock))
    sign_in(client, VIEWER)
    return client


@pytest.fixture
def api(site: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime) -> TestClient:
    """The same site read through the API, with an owner's API key."""
    key = create_api_key(engine, workspace, "report", "owner", expires_at=None, actor="t",
                         now=now)  # fmt: skip
    client = TestClient(site.app)
    client.headers["Authorization"] = f"Bearer {key.token}"
    return client


@pytest.fixture
def audience(engine: Engine, workspace: WorkspaceRef, now: datetime) -> None:
    for phone in ("+48600100201", "+48600100202", "+48600100203"):
        add_contact(engine, workspace, phone, now)
    add_contact(engine, workspace, "+48600100204", now, consent="opted_out")


def attributes_of(html: str, name: str) -> dict[str, str]:
    """`data-*` attributes of the element with `data-testid="<name>"`."""
    found = re.search(rf'<[^>]*data-testid="{re.escape(name)}"[^>]*>', html)
    assert found, f'no element with data-testid="{name}"'
    return dict(re.findall(r'data-([a-z-]+)="([^"]*)"', found.group(0)))


def test_the_list_shows_progress_and_rates_and_filters_by_status(
    owner: TestClient, engine: Engine, settings: Settings, workspace: WorkspaceRef,
    now: datetime, audience: None,
) -> None:  # fmt: skip
    running = make_campaign(engine, settings, workspace, now, "Black Friday")
    sending(engine, running, now)
    draft = make_campaign(engine, settings, workspace, now, "Spring teaser", launch=False)

    page = owner.get("/campaigns")

    assert page.status_code == 200
    assert 'href="/campaigns/new"' in page.text  # an owner may create campaigns
    row = page.text.split(f'data-testid="campaign-{running}"')[1].split("</tr>")[0]
    assert "Black Friday" in row and "Sending" in row
    assert "Sent 2 of 3" in row  # 4 in the audience, 1 opted out
    assert "50.0%" in row and "1 of 2" in row  # delivery: 1 delivered of 2 sent
    assert f'data-testid="campaign-{draft}"' in page.text

    drafts = owner.get("/campaigns?status=draft")
    assert f'data-testid="campaign-{draft}"' in drafts.text
    assert f'data-testid="campaign-{running}"' not in drafts.text
    assert '<option value="draft" selected>' in drafts.text

    none = owner.get("/campaigns?status=cancelled")
    assert 'data-testid="campaigns-empty"' in none.text
    assert "No campaigns match this filter." in none.text


def test_the_list_pages_newest_first(
    owner: TestClient, engine: Engine, settings: Settings, workspace: WorkspaceRef,
    now: datetime,
) -> None:  # fmt: skip
    ids = [make_campaign(engine, settings, workspace, now, f"Campaign {i}", launch=False)
           for i in range(27)]  # fmt: skip

    first = owner.get("/campaigns")
    shown = [int(i) for i in re.findall(r'data-testid="campaign-(\d+)"', first.text)]
    assert shown == ids[::-1][:25]
    older = re.search(r'href="/campaigns\?before=(\d+)" rel="next"', first.text)
    assert older, "the first page links to older campaigns"

    second = owner.get(f"/campaigns?before={older.group(1)}")
    assert [int(i) for i in re.findall(r'data-testid="campaign-(\d+)"', second.text)] == ids[1::-1]
    assert 'rel="next"' not in second.text


def test_an_empty_workspace_says_what_to_do(owner: TestClient, viewer: TestClient) -> None:
    page = owner.get("/campaigns")
    assert "No campaigns yet" in page.text
    assert "Create your first campaign" in page.text

    seen = viewer.get("/campaigns")
    assert "No campaigns yet" in seen.text
    assert "/campaigns/new" not in seen.text  # a viewer may not create one


def test_the_report_shows_the_apis_numbers(
    owner: TestClient, api: TestClient, engine: Engine, settings: Settings, workspace: WorkspaceRef,
    now: datetime, audience: None,
) -> None:  # fmt: skip
    campaign_id = make_campaign(engine, settings, workspace, now)
    sending(engine, campaign_id, now)

    answer = api.get(f"/api/v1/campaigns/{campaign_id}").json()
    page = owner.get(f"/campaigns/{campaign_id}")

    assert page.status_code == 200
    html = page.text
    for name in ("targeted", "queued", "sent", "delivered", "undelivered", "failed", "expired",
                 "unknown", "cancelled", "parts", "clicks", "unique_clicks", "bot_clicks",
                 "replies", "opt_outs", "redemptions"):  # fmt: skip
        assert attributes_of(html, f"count-{name}")["value"] == str(answer[name]), name
    assert float(attributes_of(html, "count-cost")["value"]) == answer["cost"]
    for name, rate in answer["rates"].items():
        shown = attributes_of(html, f"rate-{name}")
        assert (shown["numerator"], shown["denominator"]) == (
            str(rate["numerator"]), str(rate["denominator"])), name  # fmt: skip
        assert shown["value"] == ("" if rate["value"] is None else str(rate["value"])), name
    for reason, count in answer["excluded"].items():
        assert attributes_of(html, f"excluded-{reason}")["value"] == str(count), reason
    assert answer["excluded"]["opted_out"] == 1
    progress = attributes_of(html, "progress")
    assert (progress["sent"], progress["total"]) == ("2", "3")
    # Every counter and rate is written out with its numerator and denominator.
    assert "50.0%" in html  # delivery: 1 of 2
    assert "https://shop.example/bf" in html
    assert "data-campaign-chart" in html  # the chart's figures by hour
    # Sending: the live part polls itself.
    assert f'hx-get="/campaigns/{campaign_id}/live"' in html
    assert 'hx-trigger="every 3s"' in html


def test_the_live_part_stops_polling_once_the_campaign_stops_sending(
    owner: TestClient, engine: Engine, settings: Settings, workspace: WorkspaceRef,
    now: datetime, audience: None,
) -> None:  # fmt: skip
    campaign_id = make_campaign(engine, settings, workspace, now)
    live = owner.get(f"/campaigns/{campaign_id}/live")
    assert 'hx-trigger="every 3s"' in live.text
    assert "<html" not in live.text  # the part alone, not a whole page

    change_status(engine, workspace, campaign_id, "pause", actor="t", now=now)
    paused = owner.get(f"/campaigns/{campaign_id}/live")
    assert 'data-testid="campaign-status">Paused<' in paused.text
    assert "hx-trigger" not in paused.text


def test_pause_resume_and_cancel(
    owner: TestClient, api: TestClient, engine: Engine, settings: Settings, workspace: WorkspaceRef,
    now: datetime, audience: None,
) -> None:  # fmt: skip
    campaign_id = make_campaign(engine, settings, workspace, now)
    report = owner.get(f"/campaigns/{campaign_id}")
    assert f'action="/campaigns/{campaign_id}/pause"' in report.text
    token = csrf_of(report.text)

    paused = owner.post(f"/campaigns/{campaign_id}/pause", data={"csrf_token": token},
                        follow_redirects=False)  # fmt: skip
    assert (paused.status_code, paused.headers["location"]) == (303, f"/campaigns/{campaign_id}")
    assert api.get(f"/api/v1/campaigns/{campaign_id}").json()["status"] == "paused"
    again = owner.get(f"/campaigns/{campaign_id}")
    assert f'action="/campaigns/{campaign_id}/resume"' in again.text
    assert f'action="/campaigns/{campaign_id}/pause"' not in again.text

    refused = owner.post(f"/campaigns/{campaign_id}/pause", data={"csrf_token": token})
    assert refused.status_code == 409
    assert "The campaign is Paused now, so this could not be done." in refused.text

    owner.post(f"/campaigns/{campaign_id}/resume", data={"csrf_token": token})
    assert api.get(f"/api/v1/campaigns/{campaign_id}").json()["status"] == "running"

    question = owner.get(f"/campaigns/{campaign_id}/cancel")
    assert "A cancelled campaign cannot be resumed" in question.text
    assert "Texts not sent yet will not be sent: 3 messages." in question.text
    owner.post(f"/campaigns/{campaign_id}/cancel", data={"csrf_token": csrf_of(question.text)})
    after = api.get(f"/api/v1/campaigns/{campaign_id}").json()
    assert (after["status"], after["cancelled"], after["queued"]) == ("cancelled", 3, 0)


def test_a_viewer_sees_no_buttons_and_is_refused(
    owner: TestClient, api: TestClient, viewer: TestClient, engine: Engine, settings: Settings,
    workspace: WorkspaceRef, now: datetime, audience: None,
) -> None:  # fmt: skip
    campaign_id = make_campaign(engine, settings, workspace, now)
    report = viewer.get(f"/campaigns/{campaign_id}")
    assert report.status_code == 200
    assert "/pause" not in report.text and "/cancel" not in report.text

    token = csrf_of(report.text)
    for action in ("pause", "resume", "cancel"):
        answer = viewer.post(f"/campaigns/{campaign_id}/{action}", data={"csrf_token": token})
        assert answer.status_code == 403, action
    assert viewer.get(f"/campaigns/{campaign_id}/cancel").status_code == 403
    assert api.get(f"/api/v1/campaigns/{campaign_id}").json()["status"] == "running"


def test_a_post_without_the_csrf_token_is_refused(
    owner: TestClient, api: TestClient, engine: Engine, settings: Settings, workspace: WorkspaceRef,
    now: datetime, audience: None,
) -> None:  # fmt: skip
    campaign_id = make_campaign(engine, settings, workspace, now)

    answer = owner.post(f"/campaigns/{campaign_id}/cancel", data={})

    assert answer.status_code == 403
    assert api.get(f"/api/v1/campaigns/{campaign_id}").json()["status"] == "running"


def test_the_report_downloads_as_csv(
    owner: TestClient, engine: Engine, settings: Settings, workspace: WorkspaceRef,
    now: datetime, audience: None,
) -> None:  # fmt: skip
    campaign_id = make_campaign(engine, settings, workspace, now, '=HYPERLINK("x")')
    sending(engine, campaign_id, now)

    answer = owner.get(f"/campaigns/{campaign_id}/export.csv")

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    rows = {row["figure"]: row for row in csv.DictReader(io.StringIO(answer.text))}
    assert rows["name"]["value"] == '\'=HYPERLINK("x")'  # not run as a formula
    assert rows["sent"]["value"] == "2"
    assert rows["delivered"]["value"] == "1"
    assert rows["cost"]["value"] == "0.25"
    assert (rows["delivery_rate"]["value"], rows["delivery_rate"]["numerator"],
            rows["delivery_rate"]["denominator"]) == ("0.5", "1", "2")  # fmt: skip
    assert rows["click_through_rate"]["numerator"] == "1"
    assert rows["excluded_opted_out"]["value"] == "1"


def test_each_message_downloads_as_csv(
    owner: TestClient, engine: Engine, settings: Settings, workspace: WorkspaceRef,
    now: datetime, audience: None,
) -> None:  # fmt: skip
    campaign_id = make_campaign(engine, settings, workspace, now)
    other = make_campaign(engine, settings, workspace, now + timedelta(days=8), "Other")

    answer = owner.get(f"/campaigns/{campaign_id}/messages.csv")

    assert answer.status_code == 200
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    with engine.connect() as conn:
        phones = (
            conn.execute(
                select(messages.c.phone)
                .where(messages.c.campaign_id == campaign_id)
                .order_by(messages.c.id)
            )
            .scalars()
            .all()
        )
    assert [row["phone"] for row in rows] == phones == [
        "+48600100201", "+48600100202", "+48600100203"]  # fmt: skip
    assert {row["status"] for row in rows} == {"queued"}
    assert other != campaign_id
    assert owner.get("/campaigns/999999/messages.csv").status_code == 404


def test_the_report_in_polish(
    owner: TestClient, engine: Engine, settings: Settings, workspace: WorkspaceRef,
    now: datetime, audience: None,
) -> None:  # fmt: skip
    campaign_id = make_campaign(engine, settings, workspace, now)
    sending(engine, campaign_id, now)
    token = csrf_of(owner.get("/campaigns").text)
    owner.post("/language", data={"language": "pl", "next": "/", "csrf_token": token})

    page = owner.get(f"/campaigns/{campaign_id}")

    assert '<html lang="pl">' in page.text
    assert ">Wysyłana<" in page.text  # the status "Sending"
    assert "Wstrzymaj" in page.text  # the Pause button
    assert "50,0%" in page.text  # numbers as Polish writes them
    assert "1 kontakt z odbiorców został pominięty:" in page.text
    listing = owner.get("/campaigns")
    assert "Wysłano 2 z 3" in listing.text
    assert "Nowa kampania" in listing.text


def test_a_campaign_named_like_markup_shows_as_text(
    owner: TestClient, engine: Engine, settings: Settings, workspace: WorkspaceRef,
    now: datetime, audience: None,
) -> None:  # fmt: skip
    name = "<script>alert(1)</script>"
    campaign_id = make_campaign(engine, settings, workspace, now, name)

    for path in ("/campaigns", f"/campaigns/{campaign_id}", f"/campaigns/{campaign_id}/cancel"):
        html = owner.get(path).text
        assert "<script>alert(1)</script>" not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path


def test_an_unknown_campaign_is_a_page_not_found(owner: TestClient) -> None:
    answer = owner.get("/campaigns/424242")
    assert answer.status_code == 404
    assert "no campaign with id 424242" in answer.text
    assert owner.get("/campaigns/424242/export.csv").status_code == 404
    # Only numbers are campaign ids: other words after /campaigns/ are other pages'.
    assert owner.get("/campaigns/abc").status_code == 404
    assert owner.get("/campaigns/new").status_code == 200  # the builder, not a report


def test_the_report_shows_the_ab_test_and_its_winner(
    owner: TestClient, engine: Engine, settings: Settings, workspace: WorkspaceRef,
    now: datetime,
) -> None:  # fmt: skip
    for i in range(8):
        add_contact(engine, workspace, f"+4860010030{i}", now)
    draft = CampaignDraft(name="Subject lines", body="Sale today", variants=(("B", "Sale now"),),
                          ab_test=ABTest(sample_percent=50, metric="delivery",
                                         decide_after=timedelta(hours=1)))  # fmt: skip
    campaign_id = create_campaign(engine, workspace, draft, actor="t", now=now)
    launch_campaign(engine, settings, workspace, campaign_id, actor="t", now=now,
                    rng=random.Random(1))  # fmt: skip
    before = owner.get(f"/campaigns/{campaign_id}").text
    assert "The winner is not chosen yet." in before
    with engine.begin() as conn:  # variant B's texts arrived, A's did not
        variant_b = conn.execute(select(variants.c.id).where(
            variants.c.campaign_id == campaign_id, variants.c.name == "B")
        ).scalar_one()  # fmt: skip
        conn.execute(update(messages).where(messages.c.campaign_id == campaign_id)
                     .values(status="sent", sent_at=now))  # fmt: skip
        conn.execute(update(messages).where(messages.c.variant_id == variant_b)
                     .values(status="delivered", done_at=now))  # fmt: skip
        sample = conn.execute(select(func.count()).where(
            messages.c.variant_id == variant_b)).scalar_one()  # fmt: skip
    decide_ab_winners(engine, settings, now + timedelta(hours=2), random.Random(1))

    html = owner.get(f"/campaigns/{campaign_id}").text

    assert "A test on 50% of the audience" in html
    assert "Decided on" in html
    row_b = html.split('data-testid="variant-B"')[1].split("</tr>")[0]
    assert 'data-testid="winner"' in row_b and "Sale now" in row_b
    assert f'data-hits="{sample}"' in row_b
    assert f"{sample} delivered of " in row_b  # the sample's; the rest went out after
    row_a = html.split('data-testid="variant-A"')[1].split("</tr>")[0]
    assert 'data-testid="winner"' not in row_a


def test_the_report_says_how_many_texts_wait_for_quiet_hours(
    owner: TestClient, engine: Engine, settings: Settings, workspace: WorkspaceRef,
    clock: Clock, audience: None,
) -> None:  # fmt: skip
    night = datetime(2026, 11, 25, 20, 30, tzinfo=UTC)  # 21:30 in Warsaw: quiet hours
    clock.now = night
    campaign_id = make_campaign(engine, settings, workspace, night)

    html = owner.get(f"/campaigns/{campaign_id}").text

    note = html.split('data-testid="quiet-hours"')[1].split("</p>")[0]
    assert "3 texts wait for the recipients' quiet hours to end" in note
    assert "Nov 26, 2026, 8:00:00" in note  # 08:00 in Warsaw, when quiet hours end
