"""The campaign builder, `/campaigns/new`, through the real site on a real database:
each step saves, refusals at their fields with what was typed kept, the live recipient
count, encoding and parts of the personalised texts, previews for real contacts,
launching into the outbox, drafts resumed, roles, CSRF and Polish."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from portal_site import Clock, build_site, csrf_of, make_user, sign_in
from sqlalchemy import Engine, func, select

from smscast.config import Settings
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.campaigns.builder_drafts import check_draft_message
from smscast.engine.campaigns.lifecycle import CampaignDraft, campaigns, messages, variants
from smscast.engine.campaigns.segments import save_segment
from smscast.engine.contacts.importing import ImportRequest, import_contacts

OWNER = "ola@shop.test"
VIEWER = "wiktor@shop.test"
LONG_NAME = "Maximilian-Alexander " * 8  # 167 characters: the text needs a second part


@pytest.fixture
def site(settings: Settings, engine: Engine, now: datetime) -> TestClient:
    return TestClient(build_site(settings, engine, Clock(now)), raise_server_exceptions=True)


@pytest.fixture
def owner(engine: Engine, workspace: WorkspaceRef, now: datetime) -> int:
    return make_user(engine, [workspace], OWNER, name="Ola", now=now)


@pytest.fixture
def contacts(engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime,
             tmp_path: Path) -> None:  # fmt: skip
    """Three contacts who opted in (one with a very long name) and one who said no."""
    source = tmp_path / "contacts.csv"
    source.write_text(
        "phone,first_name,consent\n"
        "+48600100200,Anna,yes\n"
        "+48600100201,Piotr,yes\n"
        f"+48600100202,{LONG_NAME.strip()},yes\n"
        "+48600100203,Ewa,no\n"
    )
    import_contacts(engine, settings, ImportRequest(source, workspace, "form", "test", now))


@pytest.fixture
def signed_in(site: TestClient, owner: int) -> TestClient:
    sign_in(site, OWNER)
    return site


def start(client: TestClient, name: str = "Black Friday") -> int:
    page = client.get("/campaigns/new")
    answer = client.post("/campaigns/new", data={"name": name, "csrf_token": csrf_of(page.text)},
                         follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303
    found = re.fullmatch(r"/campaigns/new/(\d+)/audience", answer.headers["location"])
    assert found, answer.headers["location"]
    return int(found.group(1))


def post_step(client: TestClient, draft: int, step: str, fields: dict[str, str],
              action: str = "next", path: str = "") -> Response:  # fmt: skip
    page = client.get(f"/campaigns/new/{draft}/{step}")
    data = {**fields, "action": action, "csrf_token": csrf_of(page.text)}
    answer: Response = client.post(
        f"/campaigns/new/{draft}/{step}{path}", data=data, follow_redirects=False
    )
    return answer


def shown_at(html: str, name: str) -> str:
    found = re.search(rf'data-testid="{name}"[^>]*>([^<]*)<', html)
    assert found, f"no {name} on the page"
    return found.group(1).strip()


def message_check(client: TestClient, draft: int, body: str, **more: str) -> str:
    answer = post_step(client, draft, "message", {"body": body, **more}, path="/check")
    assert answer.status_code == 200
    return answer.text


def test_a_viewer_cannot_reach_the_builder(
    site: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    make_user(engine, [workspace], VIEWER, role="viewer", now=now)
    sign_in(site, VIEWER)
    page = site.get("/campaigns/new")
    assert page.status_code == 403
    assert "Launch" not in page.text
    refused = site.post("/campaigns/new", data={"name": "x", "csrf_token": csrf_of(page.text)})
    assert refused.status_code == 403


def test_a_form_without_its_csrf_token_is_refused(signed_in: TestClient) -> None:
    draft = start(signed_in)
    answer = signed_in.post(f"/campaigns/new/{draft}/audience", data={"expression": "x"})
    assert answer.status_code == 403


def test_the_audience_step_counts_recipients_and_exclusions(signed_in: TestClient,
                                                            contacts: None) -> None:  # fmt: skip
    draft = start(signed_in)
    live = post_step(signed_in, draft, "audience", {"audience": "expression", "expression": ""},
                     path="/count")  # fmt: skip
    assert shown_at(live.text, "recipient-count") == "3"
    assert shown_at(live.text, "excluded-opted_out") == "1"

    narrowed = post_step(signed_in, draft, "audience",
                         {"audience": "expression", "expression": 'first_name = "Anna"'},
                         path="/count")  # fmt: skip
    assert shown_at(narrowed.text, "recipient-count") == "1"
    # what the count was made from is saved: the step shows it again
    again = signed_in.get(f"/campaigns/new/{draft}/audience")
    assert "first_name = &#34;Anna&#34;" in again.text
    assert shown_at(again.text, "recipient-count") == "1"


def test_an_expression_error_is_shown_at_the_field_with_what_was_typed(
    signed_in: TestClient, contacts: None
) -> None:
    draft = start(signed_in)
    answer = post_step(
        signed_in,
        draft,
        "audience",
        {"audience": "expression", "expression": 'first_name = "Anna" and ('},
    )
    assert answer.status_code == 422
    html = answer.text
    assert 'href="#expression"' in html  # listed at the top, linked to the field
    assert 'id="expression-error"' in html
    assert "Line 1, column" in html
    assert "first_name = &#34;Anna&#34; and (</textarea>" in html


def test_each_step_saves_and_the_draft_resumes(signed_in: TestClient, contacts: None) -> None:
    draft = start(signed_in, "Spring sale")
    moved = post_step(signed_in, draft, "audience", {"audience": "expression", "expression": ""})
    assert moved.headers["location"] == f"/campaigns/new/{draft}/message"
    moved = post_step(signed_in, draft, "message", {"body": "Hi {{ first_name }}, -20% today"})
    assert moved.headers["location"] == f"/campaigns/new/{draft}/variants"
    back = post_step(signed_in, draft, "variants", {"variant_1_body": "Hey {{ first_name }}"},
                     action="back")  # fmt: skip
    assert back.headers["location"] == f"/campaigns/new/{draft}/message"

    listed = signed_in.get("/campaigns/new")
    assert "Spring sale" in listed.text
    assert f'href="/campaigns/new/{draft}/variants"' in listed.text  # the furthest step reached
    variants = signed_in.get(f"/campaigns/new/{draft}/variants")
    assert "Hey {{ first_name }}</textarea>" in variants.text
    message = signed_in.get(f"/campaigns/new/{draft}/message")
    assert "Hi {{ first_name }}, -20% today</textarea>" in message.text


def test_encoding_and_parts_follow_the_personalised_texts(signed_in: TestClient,
                                                         contacts: None) -> None:  # fmt: skip
    draft = start(signed_in)
    post_step(
        signed_in,
        draft,
        "audience",
        {"audience": "expression", "expression": 'first_name in ("Anna", "Piotr")'},
    )

    plain = message_check(signed_in, draft, "Hi {{ first_name }}, see you!")
    assert shown_at(plain, "encoding") == "GSM-7"
    assert shown_at(plain, "parts-count") == "1"
    assert "ucs2-characters" not in plain

    polish = message_check(
        signed_in,
        draft,
        "Zażółć gęślą jaźń, {{ first_name }}! "
        "Wyprzedaż trwa tylko do niedzieli, zapraszamy do sklepów.",
    )
    assert shown_at(polish, "encoding") == "UCS-2"
    assert '<mark class="builder-mark">żółć</mark>' in polish
    assert shown_at(polish, "parts-count") == "2"
    assert "smart-suggestion" in polish  # look-alikes would make it one GSM-7 part

    # the long name is in the audience now: its text needs two parts, the others one
    post_step(signed_in, draft, "audience", {"audience": "expression", "expression": ""})
    long = message_check(signed_in, draft, "Hi {{ first_name }}, see you!")
    assert shown_at(long, "encoding") == "GSM-7"
    assert shown_at(long, "parts-count") == "2"


def test_the_preview_shows_real_contacts_texts(signed_in: TestClient, contacts: None) -> None:
    draft = start(signed_in)
    post_step(signed_in, draft, "audience", {"audience": "expression", "expression": ""})
    html = message_check(signed_in, draft, "Hi {{ first_name }}!")
    previews = re.findall(r'data-testid="preview-text">([^<]*)<', html)
    assert previews[:2] == ["Hi Anna!", "Hi Piotr!"]
    assert "+48600100203" not in html  # Ewa gave no consent: she gets no text


def test_the_message_step_before_any_text_shows_no_per_contact_errors(
    signed_in: TestClient, contacts: None
) -> None:
    """An empty text is where everyone starts: it is not a list of failures per contact."""
    draft = start(signed_in)
    post_step(signed_in, draft, "audience", {"audience": "expression", "expression": ""})

    for html in (signed_in.get(f"/campaigns/new/{draft}/message").text,
                 message_check(signed_in, draft, "  ")):  # fmt: skip
        assert "the text is empty" not in html
        assert "builder-problems" not in html
        assert shown_at(html, "encoding") == "GSM-7"
        assert shown_at(html, "parts-count") == "0"


def test_an_unknown_variable_is_refused_at_the_text(signed_in: TestClient,
                                                   contacts: None) -> None:  # fmt: skip
    draft = start(signed_in)
    post_step(signed_in, draft, "audience", {"audience": "expression", "expression": ""})
    answer = post_step(signed_in, draft, "message", {"body": "Hi {{ nickname }}"})
    assert answer.status_code == 422
    html = answer.text
    assert 'id="body-error"' in html and "nickname" in html
    assert "Hi {{ nickname }}</textarea>" in html


def test_an_insert_button_adds_the_variable_without_javascript(signed_in: TestClient,
                                                              contacts: None) -> None:  # fmt: skip
    draft = start(signed_in)
    answer = post_step(signed_in, draft, "message", {"body": "Hi", "insert": "first_name"})
    assert "Hi {{ first_name }}</textarea>" in answer.text
    link = post_step(
        signed_in,
        draft,
        "message",
        {"body": "Shop:", "insert": "link", "link_url": "https://shop.test/sale"},
    )
    assert "Shop: {{ link(&#34;https://shop.test/sale&#34;) }}</textarea>" in link.text


def walk_to_review(client: TestClient, draft: int, timing: dict[str, str]) -> None:
    for step, fields in (
        ("audience", {"audience": "expression", "expression": ""}),
        ("message", {"body": "Hi {{ first_name }}, -20% today"}),
        ("variants", {}),
        ("timing", timing),
        ("sender", {"purpose": "promotional"}),
    ):
        answer = client.get(f"/campaigns/new/{draft}/{step}")
        done = client.post(f"/campaigns/new/{draft}/{step}",
                           data={**fields, "action": "next", "csrf_token": csrf_of(answer.text)},
                           follow_redirects=False)  # fmt: skip
        assert done.status_code == 303, done.text


def test_launching_creates_the_campaign_and_queues_its_messages(
    signed_in: TestClient, contacts: None, engine: Engine
) -> None:
    draft = start(signed_in)
    walk_to_review(signed_in, draft, {"timing": "now"})
    review = signed_in.get(f"/campaigns/new/{draft}/review")
    assert shown_at(review.text, "review-recipients") == "3"
    assert shown_at(review.text, "review-parts") == "4"  # the long name takes two
    answer = signed_in.post(f"/campaigns/new/{draft}/review",
                            data={"name": "Black Friday", "action": "launch",
                                  "csrf_token": csrf_of(review.text)},
                            follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303
    campaign_id = int(answer.headers["location"].rsplit("/", 1)[1])
    with engine.connect() as conn:
        row = conn.execute(select(campaigns).where(campaigns.c.id == campaign_id)).one()
        queued = conn.execute(
            select(func.count())
            .select_from(messages)
            .where(messages.c.campaign_id == campaign_id, messages.c.status == "queued")
        ).scalar_one()
    assert (row.name, row.status) == ("Black Friday", "running")
    assert queued == 3
    assert f'href="/campaigns/new/{draft}/' not in signed_in.get("/campaigns/new").text
    # the finished draft now leads to its campaign
    again = signed_in.get(f"/campaigns/new/{draft}/review", follow_redirects=False)
    assert again.headers["location"] == f"/campaigns/{campaign_id}"


def test_a_timed_campaign_is_scheduled_in_the_workspace_time_zone(
    signed_in: TestClient, contacts: None, engine: Engine
) -> None:
    draft = start(signed_in)
    walk_to_review(signed_in, draft, {"timing": "at", "at_date": "2026-12-01", "at_time": "09:30"})
    review = signed_in.get(f"/campaigns/new/{draft}/review")
    answer = signed_in.post(
        f"/campaigns/new/{draft}/review",
        data={"name": "Advent", "action": "launch", "csrf_token": csrf_of(review.text)},
        follow_redirects=False,
    )
    campaign_id = int(answer.headers["location"].rsplit("/", 1)[1])
    with engine.connect() as conn:
        row = conn.execute(select(campaigns).where(campaigns.c.id == campaign_id)).one()
    assert row.status == "scheduled"
    assert row.schedule["at"].startswith("2026-12-01T08:30")  # 09:30 in Warsaw is 08:30 UTC


def test_a_date_in_the_past_is_refused_at_the_timing_step(signed_in: TestClient,
                                                         contacts: None) -> None:  # fmt: skip
    draft = start(signed_in)
    answer = post_step(
        signed_in, draft, "timing", {"timing": "at", "at_date": "2020-01-01", "at_time": "10:00"}
    )
    assert answer.status_code == 422
    assert 'id="at_date-error"' in answer.text
    assert 'value="2020-01-01"' in answer.text


def test_a_launch_refusal_goes_back_to_its_step(signed_in: TestClient, contacts: None) -> None:
    draft = start(signed_in, "")
    walk_to_review(signed_in, draft, {"timing": "now"})
    review = signed_in.get(f"/campaigns/new/{draft}/review")
    answer = signed_in.post(f"/campaigns/new/{draft}/review",
                            data={"name": "  ", "action": "launch",
                                  "csrf_token": csrf_of(review.text)})  # fmt: skip
    assert answer.status_code == 422
    assert 'id="name-error"' in answer.text


def test_the_builder_speaks_polish(signed_in: TestClient, contacts: None) -> None:
    draft = start(signed_in)
    page = signed_in.get(f"/campaigns/new/{draft}/message", headers={"Accept-Language": "pl"})
    assert '<html lang="pl">' in page.text
    assert "Odbiorcy" in page.text  # the step list
    assert "Wstaw zmienną" in page.text


def test_an_unknown_attribute_is_refused_at_the_expression(
    signed_in: TestClient, contacts: None
) -> None:
    draft = start(signed_in)
    live = post_step(
        signed_in,
        draft,
        "audience",
        {"audience": "expression", "expression": 'citty = "Kraków"'},
        path="/count",
    )
    assert "citty" in shown_at(live.text, "count-error")
    answer = post_step(
        signed_in, draft, "audience", {"audience": "expression", "expression": 'citty = "Kraków"'}
    )
    assert answer.status_code == 422
    assert 'id="expression-error"' in answer.text


def test_someone_elses_draft_is_not_found(
    signed_in: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    draft = start(signed_in)
    make_user(engine, [workspace], "marek@shop.test", role="marketer", now=now)
    signed_in.cookies.clear()
    sign_in(signed_in, "marek@shop.test")
    assert signed_in.get(f"/campaigns/new/{draft}/audience").status_code == 404
    assert f"/campaigns/new/{draft}/" not in signed_in.get("/campaigns/new").text


def test_the_live_check_of_a_large_audience_says_it_read_part_of_it(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime, contacts: None
) -> None:
    """As the text is typed the check reads a bounded number of members and says so; the
    review reads them all."""
    small_batches = settings.model_copy(update={"launch_batch_size": 2})
    draft = CampaignDraft(name="x", body="Hi {{ first_name }}")
    part = check_draft_message(engine, small_batches, workspace, draft, now, limit=2)
    assert (part.read, part.recipients, part.partial) == (2, 2, True)
    whole = check_draft_message(engine, small_batches, workspace, draft, now)
    assert (whole.read, whole.recipients, whole.partial) == (4, 3, False)
    assert whole.most_parts == 2  # the long name, read in the second batch


def test_a_saved_segment_is_an_audience(
    signed_in: TestClient, contacts: None, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    save_segment(engine, workspace, "Piotrs", 'first_name = "Piotr"', actor="test", now=now)
    draft = start(signed_in)
    page = signed_in.get(f"/campaigns/new/{draft}/audience")
    assert '<option value="Piotrs">Piotrs</option>' in page.text
    live = post_step(
        signed_in,
        draft,
        "audience",
        {"audience": "segment", "segment_name": "Piotrs"},
        path="/count",
    )
    assert shown_at(live.text, "recipient-count") == "1"
    unchosen = post_step(signed_in, draft, "audience", {"audience": "segment"})
    assert unchosen.status_code == 422
    assert 'id="segment_name-error"' in unchosen.text


def test_variants_and_their_split_reach_the_campaign(
    signed_in: TestClient, contacts: None, engine: Engine
) -> None:
    draft = start(signed_in)
    walk_to_review(signed_in, draft, {"timing": "now"})
    wrong = post_step(
        signed_in,
        draft,
        "variants",
        {"variant_1_name": "B", "variant_1_body": "Hello {{ first_name }}", "split": "70,20"},
    )
    assert wrong.status_code == 422
    assert 'id="split-error"' in wrong.text and 'value="70,20"' in wrong.text
    post_step(
        signed_in,
        draft,
        "variants",
        {"variant_1_name": "B", "variant_1_body": "Hello {{ first_name }}", "split": "70,30"},
    )
    review = signed_in.get(f"/campaigns/new/{draft}/review")
    answer = signed_in.post(
        f"/campaigns/new/{draft}/review",
        data={"name": "Split", "action": "launch", "csrf_token": csrf_of(review.text)},
        follow_redirects=False,
    )
    campaign_id = int(answer.headers["location"].rsplit("/", 1)[1])
    with engine.connect() as conn:
        shares = conn.execute(
            select(variants.c.name, variants.c.split_percent)
            .where(variants.c.campaign_id == campaign_id)
            .order_by(variants.c.id)
        ).all()
    assert [tuple(row) for row in shares] == [("A", 70), ("B", 30)]
