"""The keywords page through the real site on a real database: a number's rules, the
rule editor (every action, errors beside their fields, what was typed kept), turning a
rule off and on, deleting, the match preview (the router's own decision, live and
with the button), compliance words and answers, and who may change what."""

from __future__ import annotations

import re
from datetime import datetime

import httpx
import pytest
from fastapi.testclient import TestClient
from portal_site import Clock, build_site, csrf_of, make_user, sign_in
from sqlalchemy import Engine, insert

from smscast.config import Settings
from smscast.core.router import Route
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.inbound.keyword_rules import (
    add_keyword_rule,
    compliance_replies,
    compliance_words_by_language,
    keyword_rule_by_id,
    list_keyword_rules,
)
from smscast.engine.inbound.numbers import NumberRef, add_number
from smscast.engine.inbound.route_preview import preview_route
from smscast.store.messaging_models import Connector
from smscast.store.models import table_of

OWNER = "ola@shop.test"
VIEWER = "vera@shop.test"
SHORT = "4000"
WORDS = "/keywords/compliance/words"
ANSWERS = "/keywords/compliance/answers"


@pytest.fixture
def site(settings: Settings, engine: Engine, now: datetime) -> TestClient:
    return TestClient(build_site(settings, engine, Clock(now)), raise_server_exceptions=True)


@pytest.fixture
def number(engine: Engine, workspace: WorkspaceRef, now: datetime) -> NumberRef:
    with engine.begin() as conn:
        conn.execute(insert(table_of(Connector)).values(
            workspace_id=workspace.id, name="sim", kind="smpp", settings={}, rate_per_s=10.0,
            window=10, enabled=True, created_at=now,
        ))  # fmt: skip
    return add_number(engine, workspace, SHORT, connector="sim", actor="test", now=now)


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
    token = csrf_of(client.get(form_page).text)
    answer: httpx.Response = client.post(
        path, data={**data, "csrf_token": token}, follow_redirects=False
    )
    return answer


def text_of(fragment: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", fragment).split())


def by_testid(html: str, testid: str) -> list[str]:
    """The text of each element with this test id (up to the tag that closes it)."""
    found = re.findall(rf'<(\w+)[^>]*data-testid="{testid}"[^>]*>(.*?)</\1>', html, re.S)
    return [text_of(inner) for _, inner in found]


RULE = {
    "keyword": "Pizza", "aliases": "pizze, pitsa", "match": "first_word",
    "reply": "Hi {{ first_name | default('there') }}! Code {{ rest }}.", "tags": "pizza, food",
    "consent": "double_opt_in", "purpose": "promotional", "confirm_prompt": "Reply YES to join",
    "attribute": "size", "webhook": "", "ticket": "1", "campaign_id": "", "enabled": "true",
}  # fmt: skip


def test_a_rule_is_made_with_every_action_listed_previewed_and_changed(
    owner: TestClient, engine: Engine, workspace: WorkspaceRef, number: NumberRef
) -> None:
    empty = owner.get("/keywords")
    assert empty.status_code == 200
    assert "This number has no keyword rules" in empty.text
    form = owner.get(f"/keywords/new?number={number.id}")
    assert 'data-testid="parts-count"' in form.text and 'data-testid="encoding"' in form.text

    made = post_form(owner, "/keywords/new", f"/keywords/new?number={number.id}",
                     number=str(number.id), **RULE)  # fmt: skip
    assert made.status_code == 303, made.text
    [rule] = list_keyword_rules(engine, workspace, SHORT)
    assert made.headers["location"] == f"/keywords?number={number.id}&saved={rule['id']}"
    assert (rule["keyword"], rule["aliases"], rule["enabled"]) == (
        "pizza",
        ["pizze", "pitsa"],
        True,
    )
    assert [a["type"] for a in rule["actions"]] == [
        "tag", "tag", "set_attribute", "reply", "double_opt_in", "ticket",
    ]  # fmt: skip

    listed = owner.get(made.headers["location"])
    assert "The rule for “PIZZA” is saved." in listed.text
    [row] = by_testid(listed.text, "rule-row")
    assert "PIZZA" in row and "PIZZE, PITSA" in row and "Tag: pizza" in row and "on" in row
    assert "Double opt-in to promotional messages, asking" in row

    # The editor shows the rule as saved, and a change keeps the rule's id.
    edit = owner.get(f"/keywords/{rule['id']}/edit")
    assert 'value="pizza"' in edit.text and "Reply YES to join</textarea>" in edit.text
    changed = post_form(owner, f"/keywords/{rule['id']}", f"/keywords/{rule['id']}/edit",
                        **{**RULE, "consent": "", "tags": "", "attribute": "", "ticket": "",
                           "match": "exact"})  # fmt: skip
    assert changed.status_code == 303
    stored = keyword_rule_by_id(engine, workspace, rule["id"])
    assert (stored["match"], [a["type"] for a in stored["actions"]]) == ("exact", ["reply"])


def test_wrong_fields_are_shown_beside_them_with_what_was_typed(
    owner: TestClient, engine: Engine, workspace: WorkspaceRef, number: NumberRef, now: datetime
) -> None:
    add_keyword_rule(engine, workspace, SHORT, "MENU", [{"type": "reply", "text": "M"}],
                     actor="t", now=now)  # fmt: skip
    new = f"/keywords/new?number={number.id}"
    cases = [
        ({"keyword": "menu"}, "keyword", "This number already has a rule for this keyword."),
        ({"keyword": "STOP"}, "keyword", "is a compliance word"),
        ({"keyword": "!!"}, "keyword", "A keyword needs letters or digits."),
        ({"reply": "Hi {{ first_name "}, "reply", "This cannot be saved:"),
        ({"reply": "", "tags": ""}, "reply", "Give the rule something to do"),
        ({"consent": "double_opt_in", "confirm_prompt": " "}, "confirm_prompt", "YES"),
        ({"webhook": "http://127.0.0.1/hook"}, "webhook", "public addresses"),
        ({"webhook": "ftp://x"}, "webhook", "This cannot be saved:"),
    ]
    for change, field, message in cases:
        data = {**RULE, "consent": "", "attribute": "", "ticket": "", "tags": "", **change}
        answer = post_form(owner, "/keywords/new", new, number=str(number.id), **data)
        assert answer.status_code == 422, (change, answer.status_code)
        error = re.search(rf'<p class="field__error" id="{field}-error">(.*?)</p>', answer.text,
                          re.S)  # fmt: skip
        assert error is not None and message in text_of(error.group(1)), (change, answer.text)
        assert f'href="#{field}"' in answer.text  # listed at the top, linked to the field
    kept = post_form(owner, "/keywords/new", new, number=str(number.id),
                     **{**RULE, "keyword": "menu", "reply": "Ąę typed"})  # fmt: skip
    assert "Ąę typed</textarea>" in kept.text and 'value="menu"' in kept.text
    assert len(list_keyword_rules(engine, workspace, SHORT)) == 1


def test_a_rule_is_turned_off_and_on_and_deleted(
    owner: TestClient, engine: Engine, settings: Settings, workspace: WorkspaceRef,
    number: NumberRef, now: datetime,
) -> None:  # fmt: skip
    rule = add_keyword_rule(engine, workspace, SHORT, "PIZZA", [{"type": "reply", "text": "Y"}],
                            actor="t", now=now)  # fmt: skip
    page = f"/keywords?number={number.id}"
    off = post_form(owner, f"/keywords/{rule['id']}/enabled", page, enabled="false")
    assert off.status_code == 303
    assert "The rule is off" in owner.get(off.headers["location"]).text
    assert preview_route(engine, settings, workspace, SHORT, "pizza", now=now).route == Route.TICKET
    post_form(owner, f"/keywords/{rule['id']}/enabled", page, enabled="true")
    assert keyword_rule_by_id(engine, workspace, rule["id"])["enabled"] is True

    ask = owner.get(f"/keywords/{rule['id']}/delete")
    assert "Delete the rule for “PIZZA”?" in ask.text
    gone = post_form(owner, f"/keywords/{rule['id']}/delete", f"/keywords/{rule['id']}/delete")
    assert gone.headers["location"] == f"/keywords?number={number.id}&deleted=true"
    assert list_keyword_rules(engine, workspace, SHORT) == []
    assert owner.get(f"/keywords/{rule['id']}/edit").status_code == 404


def test_the_preview_is_the_routers_decision_live_and_with_the_button(
    owner: TestClient, engine: Engine, workspace: WorkspaceRef, number: NumberRef, now: datetime
) -> None:
    add_keyword_rule(engine, workspace, SHORT, "PIZZA", [
        {"type": "reply", "text": "Hi {{ first_name | default('there') }}, code {{ rest }}"},
        {"type": "tag", "name": "pizza"},
    ], aliases=["pizze"], actor="t", now=now)  # fmt: skip
    live = owner.get(f"/keywords/preview?number={number.id}&text=pizze+XL",
                     headers={"HX-Request": "true"})  # fmt: skip
    assert live.status_code == 200 and "<html" not in live.text
    assert by_testid(live.text, "preview-route") == ["Keyword rule"]
    [reason] = by_testid(live.text, "preview-reason")
    assert "The text begins with “PIZZE”, an alias of the keyword “PIZZA”." in reason
    [reply] = by_testid(live.text, "preview-reply")
    assert "Hi there, code xl" in reply and "GSM-7" in reply
    assert 'aria-current="step">Keyword rules' in live.text

    stop = owner.get(f"/keywords/preview?number={number.id}&text=STOP")
    assert by_testid(stop.text, "preview-route") == ["Opt-out (compliance word)"]
    assert "Shop: wypisano Cię" in stop.text

    ticket = owner.get(f"/keywords/preview?number={number.id}&text=hello")
    assert by_testid(ticket.text, "preview-route") == ["Ticket for an agent"]
    assert by_testid(ticket.text, "preview-no-reply") == ["Nothing is sent back."]

    # Without JavaScript: the "Preview" button sends the form to the page itself.
    page = owner.get(f"/keywords?number={number.id}&text=PIZZA&phone=")
    assert by_testid(page.text, "preview-route") == ["Keyword rule"]
    assert 'value="PIZZA"' in page.text
    bad = owner.get(f"/keywords/preview?number={number.id}&text=PIZZA&phone=abc")
    assert "This is not a phone number" in bad.text
    assert owner.get("/keywords/preview?number=999999&text=x").status_code == 404
    assert owner.get("/keywords?number=999999").status_code == 404


def test_compliance_words_and_answers_are_edited_per_language_and_number(
    owner: TestClient, engine: Engine, workspace: WorkspaceRef, number: NumberRef
) -> None:
    page = f"/keywords?number={number.id}"
    shown = owner.get(page)
    assert (
        'data-testid="compliance-pl"' in shown.text and 'data-testid="compliance-en"' in shown.text
    )
    added = post_form(
        owner,
        WORDS,
        page,
        number=str(number.id),
        word_language="pl",
        word_kind="opt_out",
        word="Basta",
        action="add",
    )
    assert added.status_code == 303
    removed = post_form(
        owner,
        WORDS,
        page,
        number=str(number.id),
        word_language="en",
        word_kind="help",
        word="info",
        action="remove",
    )
    assert removed.status_code == 303
    words = compliance_words_by_language(engine, workspace)
    assert "basta" in words["pl"]["opt_out"]["added"] and "info" in words["en"]["help"]["removed"]
    again = owner.get(removed.headers["location"])
    assert "Taken off: INFO" in text_of(again.text)
    refused = post_form(
        owner,
        WORDS,
        page,
        number=str(number.id),
        word_language="pl",
        word_kind="opt_out",
        word="??",
        action="add",
    )
    assert refused.status_code == 422 and 'id="word-error"' in refused.text

    saved = post_form(
        owner,
        ANSWERS,
        page,
        number=str(number.id),
        what="help",
        template="Call 22 100 200, {{ sender }}",
        action="save",
    )
    assert saved.status_code == 303
    help_ = next(a for a in compliance_replies(engine, workspace, number.id) if a["what"] == "help")
    assert help_["custom"] == "Call 22 100 200, {{ sender }}"
    preview = owner.get(f"/keywords/preview?number={number.id}&text=pomoc")
    assert "Call 22 100 200, Shop" in preview.text
    broken = post_form(
        owner, ANSWERS, page, number=str(number.id), what="help", template="Hi {{ x ", action="save"
    )
    assert broken.status_code == 422
    assert 'id="answer-help-error"' in broken.text and "Hi {{ x </textarea>" in broken.text
    post_form(owner, ANSWERS, page, number=str(number.id), what="help",
              template="", action="reset")  # fmt: skip
    help_ = next(a for a in compliance_replies(engine, workspace, number.id) if a["what"] == "help")
    assert help_["custom"] is None


def test_a_viewer_reads_the_rules_and_previews_but_changes_nothing(
    viewer: TestClient, engine: Engine, workspace: WorkspaceRef, number: NumberRef, now: datetime
) -> None:
    rule = add_keyword_rule(engine, workspace, SHORT, "PIZZA", [{"type": "reply", "text": "Y"}],
                            actor="t", now=now)  # fmt: skip
    page = viewer.get(f"/keywords?number={number.id}")
    assert page.status_code == 200 and "PIZZA" in page.text
    for hidden in ("Add a keyword rule", "Turn off", "Add the word", "Save the answer",
                   f"/keywords/{rule['id']}/edit"):  # fmt: skip
        assert hidden not in page.text
    assert by_testid(viewer.get(f"/keywords/preview?number={number.id}&text=pizza").text,
                     "preview-route") == ["Keyword rule"]  # fmt: skip
    token = csrf_of(page.text)
    for path, data in (
        ("/keywords/new", {"number": str(number.id), **RULE}),
        (f"/keywords/{rule['id']}", RULE),
        (f"/keywords/{rule['id']}/enabled", {"enabled": "false"}),
        (f"/keywords/{rule['id']}/delete", {}),
        ("/keywords/compliance/words", {"word_language": "pl", "word_kind": "help", "word": "x"}),
        ("/keywords/compliance/answers", {"number": str(number.id), "what": "help",
                                          "template": "x"}),
    ):  # fmt: skip
        refused = viewer.post(path, data={**data, "csrf_token": token}, follow_redirects=False)
        assert refused.status_code == 403, path
    assert viewer.get(f"/keywords/new?number={number.id}").status_code == 403
    assert keyword_rule_by_id(engine, workspace, rule["id"])["enabled"] is True


def test_a_workspace_without_numbers_is_sent_to_add_one(owner: TestClient) -> None:
    page = owner.get("/keywords")
    assert page.status_code == 200
    assert 'data-testid="no-numbers"' in page.text and 'href="/numbers"' in page.text


def test_the_page_speaks_polish(
    owner: TestClient, engine: Engine, workspace: WorkspaceRef, number: NumberRef, now: datetime
) -> None:
    add_keyword_rule(engine, workspace, SHORT, "PIZZA", [{"type": "reply", "text": "Y"}],
                     actor="t", now=now)  # fmt: skip
    token = csrf_of(owner.get("/keywords").text)
    owner.post("/language", data={"language": "pl", "next": "/keywords", "csrf_token": token})
    page = owner.get(f"/keywords?number={number.id}&text=pizza")
    assert "Słowa kluczowe" in page.text
    assert by_testid(page.text, "preview-route") == ["Reguła słowa kluczowego"]
