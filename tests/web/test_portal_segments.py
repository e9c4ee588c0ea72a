"""The segments page through the real site on a real database: saved segments with their
live counts, the expression editor (errors at line and column, the count as you type),
the language's help, and who may change what."""

from __future__ import annotations

import re
from datetime import datetime

import httpx
import pytest
from fastapi.testclient import TestClient
from portal_site import Clock, build_site, csrf_of, make_user, sign_in
from sqlalchemy import Engine

from smscast.config import Settings
from smscast.core.segment_parser import parse_segment
from smscast.core.segments import BUILTIN_FIELDS, FUNCTIONS
from smscast.engine.accounts.workspaces import WorkspaceRef, create_workspace
from smscast.engine.campaigns.segments import list_segments, save_segment
from smscast.engine.contacts.edits import ContactFields, create_contact
from smscast.web.segment_help import ATTRIBUTE_EXAMPLE, FIELD_HELP, FUNCTION_HELP, SYNTAX_EXAMPLE

OWNER = "ola@shop.test"
VIEWER = "vera@shop.test"


@pytest.fixture
def site(settings: Settings, engine: Engine, now: datetime) -> TestClient:
    return TestClient(build_site(settings, engine, Clock(now)), raise_server_exceptions=True)


@pytest.fixture
def people(engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime) -> None:
    """Three contacts: two with the plan attribute, one tagged vip."""
    for phone, plan, tags in (
        ("+48600100200", "gold", ["vip"]),
        ("+48600100201", "silver", []),
        ("+48600100202", None, []),
    ):
        attributes = {"plan": plan} if plan else {}
        fields = ContactFields(phone=phone, attributes=attributes, tags=tags)
        create_contact(engine, settings, workspace, fields, actor="test", now=now)


@pytest.fixture
def owner(engine: Engine, workspace: WorkspaceRef, now: datetime, site: TestClient) -> TestClient:
    make_user(engine, [workspace], OWNER, now=now)
    sign_in(site, OWNER)
    return site


@pytest.fixture
def viewer(engine: Engine, workspace: WorkspaceRef, now: datetime, site: TestClient) -> TestClient:
    make_user(engine, [workspace], VIEWER, role="viewer", now=now)
    sign_in(site, VIEWER)
    return site


def post_form(client: TestClient, path: str, form_page: str, **data: str) -> httpx.Response:
    """Posts a form as the browser would after loading `form_page`."""
    token = csrf_of(client.get(form_page).text)
    answer: httpx.Response = client.post(
        path, data={**data, "csrf_token": token}, follow_redirects=False
    )
    return answer


def rows(html: str) -> list[str]:
    return re.findall(r'<tr data-testid="segment-row">(.*?)</tr>', html, re.S)


def text_of(fragment: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", fragment).split())


def test_a_segment_is_created_listed_with_its_count_edited_and_deleted(
    owner: TestClient, engine: Engine, workspace: WorkspaceRef, people: None
) -> None:
    empty = owner.get("/segments")
    assert empty.status_code == 200
    assert 'data-testid="no-segments"' in empty.text
    assert 'href="/segments/new"' in empty.text

    created = post_form(owner, "/segments", "/segments/new", name="Gold plan",
                        expression='plan = "gold"', action="save")  # fmt: skip
    assert created.status_code == 303
    listing = owner.get(created.headers["location"])
    assert "Segment “Gold plan” saved." in listing.text
    [row] = rows(listing.text)
    assert "Gold plan" in row and "plan = &#34;gold&#34;" in row
    assert "1 contact" in text_of(row)
    assert "Nov 25, 2026" in text_of(row)  # created, in the workspace's time zone

    [saved] = list_segments(engine, workspace)
    edit_page = owner.get(f"/segments/{saved['id']}/edit")
    assert 'value="Gold plan"' in edit_page.text
    assert "1 contact matches now" in text_of(edit_page.text)
    edited = post_form(owner, f"/segments/{saved['id']}", f"/segments/{saved['id']}/edit",
                       name="Paying", expression='plan is set', action="save")  # fmt: skip
    assert edited.status_code == 303
    [changed] = list_segments(engine, workspace)
    assert (changed["id"], changed["name"], changed["expression"]) == (
        saved["id"], "Paying", "plan is set",
    )  # fmt: skip
    assert "2 contacts" in text_of(rows(owner.get("/segments").text)[0])

    confirm = owner.get(f"/segments/{saved['id']}/delete")
    assert "Delete the segment “Paying”?" in confirm.text
    deleted = post_form(owner, f"/segments/{saved['id']}/delete",
                        f"/segments/{saved['id']}/delete")  # fmt: skip
    assert deleted.status_code == 303
    assert list_segments(engine, workspace) == []
    assert "The segment was deleted." in owner.get(deleted.headers["location"]).text


def test_a_new_segment_does_not_replace_one_of_the_same_name(
    owner: TestClient, engine: Engine, workspace: WorkspaceRef, people: None, now: datetime
) -> None:
    save_segment(engine, workspace, "VIP", 'tagged("vip")', actor="t", now=now)
    refused = post_form(owner, "/segments", "/segments/new", name="VIP",
                        expression="plan is set", action="save")  # fmt: skip
    assert refused.status_code == 422
    assert "Another segment has this name" in refused.text
    assert 'value="VIP"' in refused.text and "plan is set" in refused.text
    [kept] = list_segments(engine, workspace)
    assert kept["expression"] == 'tagged("vip")'


def test_a_wrong_expression_is_shown_at_its_line_and_column_and_nothing_is_saved(
    owner: TestClient, engine: Engine, workspace: WorkspaceRef, people: None
) -> None:
    expression = 'plan = "gold"\nand  colour = "red"'
    refused = post_form(owner, "/segments", "/segments/new", name="Red",
                        expression=expression, action="save")  # fmt: skip
    assert refused.status_code == 422
    page = refused.text
    message = "Line 2, column 6: contacts have no field of this name."
    assert message in page
    assert '<a href="#expression">' + message in page  # listed at the top, linked to the field
    assert 'id="expression-error"' in page and 'aria-invalid="true"' in page
    # The line itself, with the caret under column 6, and the parser's own words.
    assert 'and  colour = &#34;red&#34;\n     <span class="segment-problem__caret">^</span>' in page
    assert "unknown field &#39;colour&#39;" in page
    assert 'value="Red"' in page  # what was typed is kept
    assert list_segments(engine, workspace) == []

    syntax = owner.get("/segments/count", params={"expression": 'country = "PL" and (plan'})
    assert syntax.status_code == 200
    assert "Line 1, column 25: the expression cannot be read on from here." in syntax.text
    assert "expected an operator" in syntax.text


def test_the_count_follows_the_expression_as_typed(owner: TestClient, people: None) -> None:
    editor = owner.get("/segments/new")
    assert 'hx-get="/segments/count"' in editor.text
    assert 'hx-trigger="input changed delay:400ms"' in editor.text
    assert "Every contact: 3 contacts." in text_of(editor.text)

    def count(expression: str) -> str:
        answer = owner.get("/segments/count", params={"expression": expression},
                           headers={"HX-Request": "true"})  # fmt: skip
        assert answer.status_code == 200
        assert "<html" not in answer.text  # a fragment for the editor, not a page
        return text_of(answer.text)

    assert count('tags contains "vip"') == "1 contact matches now"
    assert count("plan is set") == "2 contacts match now"
    assert count("not plan is set or plan is set") == "3 contacts match now"

    # Without JavaScript, the "Count contacts" button does the same and saves nothing.
    counted = post_form(owner, "/segments", "/segments/new", name="",
                        expression="plan is set", action="count")  # fmt: skip
    assert counted.status_code == 200
    assert "2 contacts match now" in text_of(counted.text)


def test_the_help_lists_every_function_and_field_of_the_language(owner: TestClient) -> None:
    page = owner.get("/segments/new").text
    for name in FUNCTIONS:
        assert f'data-testid="help-{name}"' in page, name
    for name in BUILTIN_FIELDS:
        assert f'data-testid="help-{name}"' in page, name
    assert "Contacts who clicked a tracked link" in page
    assert "clicked(last 7 days)" in page
    units = ", ".join(f'<code class="segment-code">{unit}</code>' for unit in ("minutes", "hours"))
    assert units in page  # the language's own words, shown as code in every language
    # Every example the help gives is an expression the parser takes.
    for example in (*(e.example for e in (*FUNCTION_HELP, *FIELD_HELP)), ATTRIBUTE_EXAMPLE,
                    SYNTAX_EXAMPLE):  # fmt: skip
        parse_segment(example)


def test_the_help_and_the_errors_are_in_polish(owner: TestClient, people: None) -> None:
    owner.cookies.set("smscast_lang", "pl")
    page = owner.get("/segments/new", headers={"Accept-Language": "pl"}).text
    assert '<html lang="pl">' in page
    assert "Kontakty, które kliknęły link" in page
    assert "Nowy segment" in page
    counted = owner.get("/segments/count", params={"expression": "plan is set"}).text
    assert "2 kontakty pasują teraz" in text_of(counted)
    wrong = owner.get("/segments/count", params={"expression": "plan ="}).text
    assert "Wiersz 1, kolumna 7" in wrong


def test_a_viewer_reads_and_counts_but_sees_no_button_and_cannot_write(
    viewer: TestClient, engine: Engine, workspace: WorkspaceRef, people: None, now: datetime
) -> None:
    saved = save_segment(engine, workspace, "VIP", 'tagged("vip")', actor="t", now=now)
    listing = viewer.get("/segments")
    assert listing.status_code == 200
    assert "1 contact" in text_of(rows(listing.text)[0])
    for button in ('href="/segments/new"', f'href="/segments/{saved["id"]}/edit"',
                   f'href="/segments/{saved["id"]}/delete"'):  # fmt: skip
        assert button not in listing.text
    assert viewer.get("/segments/count", params={"expression": "plan is set"}).status_code == 200
    assert viewer.get("/segments/new").status_code == 403

    token = csrf_of(listing.text)
    for path, data in (
        ("/segments", {"name": "Mine", "expression": ""}),
        (f"/segments/{saved['id']}", {"name": "Renamed", "expression": ""}),
        (f"/segments/{saved['id']}/delete", {}),
    ):
        refused = viewer.post(path, data={**data, "csrf_token": token}, follow_redirects=False)
        assert refused.status_code == 403, path
        assert "Your role in this workspace does not allow this page." in refused.text
    assert [(s["name"], s["expression"]) for s in list_segments(engine, workspace)] == [
        ("VIP", 'tagged("vip")'),
    ]


def test_another_workspaces_segment_is_not_found(
    owner: TestClient, engine: Engine, now: datetime
) -> None:
    other = create_workspace(engine, "Other", "PL", "Europe/Warsaw", actor="t", now=now)
    theirs = save_segment(engine, other, "Theirs", "", actor="t", now=now)
    assert owner.get(f"/segments/{theirs['id']}/edit").status_code == 404
    answer = post_form(owner, f"/segments/{theirs['id']}/delete", "/segments")
    assert answer.status_code == 404
    assert [s["name"] for s in list_segments(engine, other)] == ["Theirs"]


def test_names_and_expressions_are_shown_as_text(
    owner: TestClient, engine: Engine, workspace: WorkspaceRef, people: None, now: datetime
) -> None:
    save_segment(engine, workspace, "<script>alert(1)</script>",
                 'tagged("<img src=x onerror=alert(1)>")', actor="t", now=now)  # fmt: skip
    page = owner.get("/segments").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page
