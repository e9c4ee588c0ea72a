"""The inbox setup through the API: keyword → campaign links, ticket assignees and
reopening, a number's automatic reply, and the response reports of numbers and rules.

Texts arrive through `handle_inbound` at explicit moments and agents answer at explicit
moments, so every figure of a report is computed by hand below.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
from api_checks import problem_of
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, select

from smscast.channels.base import InboundMessage
from smscast.config import Settings
from smscast.engine.accounts.workspaces import WorkspaceRef, create_workspace
from smscast.engine.inbound.numbers import add_number
from smscast.engine.inbound.receive import handle_inbound
from smscast.engine.inbound.tickets import reply_to_ticket, solve_ticket
from smscast.store.messaging_models import Campaign, Connector, Message
from smscast.store.models import Contact, table_of

NUMBER = "+48500100200"
A, B, C, D = "+48600100201", "+48600100202", "+48600100203", "+48600100204"
connectors = table_of(Connector)
campaigns = table_of(Campaign)
messages = table_of(Message)
contacts = table_of(Contact)


def assert_problem(
    response: httpx.Response, status: int, code: str, *, field: str | None = None
) -> None:
    body = problem_of(response, status)
    assert body["code"] == code, body
    if field is not None:
        assert body["field"] == field, body


def _number(engine: Engine, workspace: WorkspaceRef, now: datetime, name: str = "sim") -> int:
    """A connector and the number on it; returns the connector id."""
    with engine.begin() as conn:
        connector_id = int(conn.execute(insert(connectors).values(
            workspace_id=workspace.id, name=name, kind="smpp", settings={}, rate_per_s=100.0,
            window=10, enabled=True, created_at=now,
        ).returning(connectors.c.id)).scalar_one())  # fmt: skip
    add_number(engine, workspace, NUMBER, connector=name, settings={"brand": "Shop"},
               actor="t", now=now)  # fmt: skip
    return connector_id


def _number_id(engine: Engine, workspace: WorkspaceRef) -> int:
    from smscast.store.messaging_models import Number

    numbers = table_of(Number)
    with engine.connect() as conn:
        return int(conn.execute(
            select(numbers.c.id).where(numbers.c.workspace_id == workspace.id)
        ).scalar_one())  # fmt: skip


def _contact(engine: Engine, workspace: WorkspaceRef, phone: str, now: datetime,
             **attributes: str) -> int:  # fmt: skip
    with engine.begin() as conn:
        return int(conn.execute(insert(contacts).values(
            workspace_id=workspace.id, phone=phone, country="PL", attributes=attributes,
            language="en", timezone="Europe/Warsaw", tags=[], created_at=now, updated_at=now,
        ).returning(contacts.c.id)).scalar_one())  # fmt: skip


def _campaign(engine: Engine, workspace: WorkspaceRef, number_id: int | None,
              sent: list[tuple[int, str]], at: datetime) -> int:  # fmt: skip
    """A campaign that texted each (contact, phone) from the number at `at`."""
    with engine.begin() as conn:
        campaign_id = int(conn.execute(insert(campaigns).values(
            workspace_id=workspace.id, name=f"c{workspace.id}", status="running",
            purpose="promotional", segment_expression="", number_id=number_id, schedule={},
            options={}, excluded={}, created_by="t", created_at=at,
        ).returning(campaigns.c.id)).scalar_one())  # fmt: skip
        for contact_id, phone in sent:
            conn.execute(insert(messages).values(
                workspace_id=workspace.id, direction="out", kind="campaign",
                purpose="promotional", contact_id=contact_id, phone=phone, number_id=number_id,
                campaign_id=campaign_id, run=0, body="Pizza -20% today! Reply PIZZA",
                encoding="GSM-7", parts=1, parts_done=1, cost=0, status="delivered",
                attempts=1, created_at=at, sent_at=at,
            ))  # fmt: skip
    return campaign_id


def _text(engine: Engine, settings: Settings, connector_id: int, phone: str, text: str,
          at: datetime) -> Any:  # fmt: skip
    return handle_inbound(engine, settings, connector_id, InboundMessage(phone, NUMBER, text, at))


def _other(engine: Engine, now: datetime) -> WorkspaceRef:
    return create_workspace(engine, "Other shop", "PL", "Europe/Warsaw", actor="t", now=now)


# --- keyword rule → campaign ------------------------------------------------------------


def test_a_rule_links_only_to_a_campaign_of_its_own_workspace(
    client: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    _number(engine, workspace, now)
    ours = _campaign(engine, workspace, None, [], now)
    theirs = _campaign(engine, _other(engine, now), None, [], now)
    rule: dict[str, Any] = {"number": NUMBER, "keyword": "PIZZA",
                            "actions": [{"type": "reply", "text": "Yum"}]}  # fmt: skip

    for unknown in (theirs, theirs + 1000):
        refused = client.post("/api/v1/keyword-rules", json={**rule, "campaign_id": unknown})
        assert_problem(refused, 404, "unknown_campaign", field="campaign_id")
    assert client.get("/api/v1/keyword-rules").json()["items"] == []

    made = client.post("/api/v1/keyword-rules", json={**rule, "campaign_id": ours})
    assert made.status_code == 201, made.text
    assert made.json()["campaign_id"] == ours
    rule_id = made.json()["id"]

    refused = client.put(f"/api/v1/keyword-rules/{rule_id}/campaign", json={"campaign_id": theirs})
    assert_problem(refused, 404, "unknown_campaign", field="campaign_id")
    unlinked = client.put(f"/api/v1/keyword-rules/{rule_id}/campaign", json={"campaign_id": None})
    assert unlinked.status_code == 200, unlinked.text
    assert (unlinked.json()["campaign_id"], unlinked.json()["number"]) == (None, NUMBER)
    linked = client.put(f"/api/v1/keyword-rules/{rule_id}/campaign", json={"campaign_id": ours})
    assert linked.json()["campaign_id"] == ours
    [listed] = client.get("/api/v1/keyword-rules").json()["items"]
    assert listed["campaign_id"] == ours


def test_another_workspace_cannot_link_or_read_our_rule(
    app: Any, client: TestClient, make_key: Any, engine: Engine, workspace: WorkspaceRef,
    now: datetime,
) -> None:  # fmt: skip
    _number(engine, workspace, now)
    made = client.post("/api/v1/keyword-rules", json={
        "number": NUMBER, "keyword": "PIZZA", "actions": [{"type": "reply", "text": "Yum"}]})
    rule_id = made.json()["id"]
    other = _other(engine, now)
    theirs = _campaign(engine, other, None, [], now)
    stranger = TestClient(app, raise_server_exceptions=False)
    stranger.headers["Authorization"] = f"Bearer {make_key('owner', in_workspace=other)}"
    answer = stranger.put(f"/api/v1/keyword-rules/{rule_id}/campaign", json={"campaign_id": theirs})
    assert_problem(answer, 404, "unknown_rule")
    assert_problem(stranger.get(f"/api/v1/keyword-rules/{rule_id}/report"), 404, "unknown_rule")
    number_id = _number_id(engine, workspace)
    assert_problem(stranger.get(f"/api/v1/numbers/{number_id}/report"), 404, "unknown_number")
    answer = stranger.put(f"/api/v1/numbers/{number_id}/auto-reply", json={"template": "x"})
    assert_problem(answer, 404, "unknown_number")
    assert client.get("/api/v1/keyword-rules").json()["items"][0]["campaign_id"] is None


def test_only_number_writers_link_rules_and_set_replies(
    app: Any, client: TestClient, make_key: Any, engine: Engine, workspace: WorkspaceRef,
    now: datetime,
) -> None:  # fmt: skip
    _number(engine, workspace, now)
    made = client.post("/api/v1/keyword-rules", json={
        "number": NUMBER, "keyword": "PIZZA", "actions": [{"type": "reply", "text": "Yum"}]})
    rule_id, number_id = made.json()["id"], _number_id(engine, workspace)
    for role in ("marketer", "agent", "viewer"):
        as_role = TestClient(app, raise_server_exceptions=False)
        as_role.headers["Authorization"] = f"Bearer {make_key(role)}"
        link = as_role.put(f"/api/v1/keyword-rules/{rule_id}/campaign", json={"campaign_id": None})
        assert_problem(link, 403, "forbidden")
        put = as_role.put(f"/api/v1/numbers/{number_id}/auto-reply", json={"template": "Hi"})
        assert_problem(put, 403, "forbidden")
        assert_problem(as_role.delete(f"/api/v1/numbers/{number_id}/auto-reply"), 403, "forbidden")
        assert as_role.get(f"/api/v1/numbers/{number_id}/report").status_code == 200
        assert as_role.get(f"/api/v1/keyword-rules/{rule_id}/report").status_code == 200


# --- tickets ----------------------------------------------------------------------------


def test_tickets_are_assigned_to_members_who_may_answer_and_reopened_by_agents(
    app: Any, client: TestClient, make_key: Any, engine: Engine, settings: Settings,
    workspace: WorkspaceRef, now: datetime, add_member: Callable[..., None],
) -> None:  # fmt: skip
    connector_id = _number(engine, workspace, now)
    ticket = _text(engine, settings, connector_id, A, "Where is my order?", now).ticket_id
    add_member(engine, workspace, "ola@shop.pl", "agent", now)
    add_member(engine, workspace, "max@shop.pl", "marketer", now)

    refused = client.post(f"/api/v1/tickets/{ticket}/assign", json={"assignee": "someone"})
    assert_problem(refused, 422, "unknown_assignee", field="assignee")
    refused = client.post(f"/api/v1/tickets/{ticket}/assign", json={"assignee": "max@shop.pl"})
    assert_problem(refused, 422, "assignee_cannot_answer", field="assignee")
    assigned = client.post(f"/api/v1/tickets/{ticket}/assign", json={"assignee": "OLA@shop.pl"})
    assert assigned.status_code == 200 and assigned.json()["assignee"] == "ola@shop.pl"
    listed = client.get("/api/v1/tickets", params={"assignee": "ola@shop.pl"}).json()["items"]
    assert [t["id"] for t in listed] == [ticket]

    agent = TestClient(app, raise_server_exceptions=False)
    agent.headers["Authorization"] = f"Bearer {make_key('agent')}"
    assert_problem(agent.post(f"/api/v1/tickets/{ticket}/reopen"), 422, "ticket_not_solved",
                   field="state")  # fmt: skip
    solve_ticket(engine, workspace, ticket, actor="t", now=now)
    reopened = agent.post(f"/api/v1/tickets/{ticket}/reopen")
    assert reopened.status_code == 200, reopened.text
    assert reopened.json()["state"] == "open"
    notes = [i["body"] for i in reopened.json()["thread"] if i["type"] == "note"]
    assert notes == ["Reopened by key:agent key"]
    viewer = TestClient(app, raise_server_exceptions=False)
    viewer.headers["Authorization"] = f"Bearer {make_key('viewer')}"
    assert_problem(viewer.post(f"/api/v1/tickets/{ticket}/reopen"), 403, "forbidden")
    assert_problem(agent.post("/api/v1/tickets/4242/reopen"), 404, "unknown_ticket")


# --- automatic reply --------------------------------------------------------------------


def test_a_number_answers_texts_that_match_no_keyword_until_turned_off(
    client: TestClient, engine: Engine, settings: Settings, workspace: WorkspaceRef,
    now: datetime,
) -> None:  # fmt: skip
    connector_id = _number(engine, workspace, now)
    _contact(engine, workspace, A, now, first_name="Ala")
    number_id = _number_id(engine, workspace)
    url = f"/api/v1/numbers/{number_id}/auto-reply"
    for template, code in [("  ", "empty_template"), ("Hi {{ nick }}", "template.unknown_variable"),
                           ("Hi {{ name", "template.syntax"),
                           ("{{ phone.__class__ }}", "template.unsafe"),
                           ("{% include 'other' %}", "template.unsafe"),
                           ("Code: {{ coupon }}", "template.unknown_variable"),
                           (DEEP, "template.syntax")]:  # fmt: skip
        answer = client.put(url, json={"template": template})
        assert_problem(answer, 422, code, field="template")

    template = "Hi {{ first_name }}, {{ sender }} answers soon."
    answer = client.put(url, json={"template": template})
    assert answer.status_code == 200, answer.text
    assert answer.json()["template"] == template and answer.json()["number"] == NUMBER
    [listed] = client.get("/api/v1/numbers").json()["items"]
    assert listed["auto_reply"] == template
    _text(engine, settings, connector_id, A, "Is the shop open on Sunday?", now)
    assert _answers(engine) == ["Hi Ala, Shop answers soon."]
    # A keyword still gets its own answer, never the automatic one.
    client.post("/api/v1/keyword-rules", json={
        "number": NUMBER, "keyword": "HOURS", "actions": [{"type": "reply", "text": "9-17"}]})
    _text(engine, settings, connector_id, A, "hours", now + timedelta(minutes=1))
    assert _answers(engine)[1:] == ["9-17"]

    assert client.delete(url).status_code == 204
    _text(engine, settings, connector_id, A, "Hello?", now + timedelta(minutes=2))
    assert len(_answers(engine)) == 2
    rules = client.get("/api/v1/keyword-rules").json()["items"]
    assert [r["keyword"] for r in rules] == ["hours"]
    assert client.get("/api/v1/numbers").json()["items"][0]["auto_reply"] is None


DEEP = "{{" + "(" * 300 + "1" + ")" * 300 + "}}"  # once a RecursionError in the parser


def _answers(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(
            select(messages.c.body).where(messages.c.direction == "out",
                                          messages.c.campaign_id.is_(None))
            .order_by(messages.c.id)
        ).scalars())  # fmt: skip


# --- reports ----------------------------------------------------------------------------


def test_number_and_keyword_reports_count_what_happened(
    client: TestClient, engine: Engine, settings: Settings, workspace: WorkspaceRef,
    now: datetime,
) -> None:  # fmt: skip
    """Campaign sent at t0 to A, B, C. A texts PIZZA twice (the keyword of the campaign),
    B texts STOP, C and D (who got no campaign) open tickets; C's is answered after 300 s,
    then again after 900 s, D's not at all."""
    connector_id = _number(engine, workspace, now)
    number_id = _number_id(engine, workspace)
    people = {p: _contact(engine, workspace, p, now) for p in (A, B, C, D)}
    t0 = now
    campaign = _campaign(engine, workspace, number_id, [(people[p], p) for p in (A, B, C)], t0)
    rule = client.post("/api/v1/keyword-rules", json={
        "number": NUMBER, "keyword": "PIZZA", "campaign_id": campaign,
        "actions": [{"type": "reply", "text": "Enjoy!"}]}).json()  # fmt: skip

    minute = timedelta(minutes=1)
    _text(engine, settings, connector_id, A, "pizza", t0 + 10 * minute)
    _text(engine, settings, connector_id, A, "pizza large", t0 + 20 * minute)
    _text(engine, settings, connector_id, B, "STOP", t0 + 30 * minute)
    opened_c = t0 + 40 * minute
    ticket_c = _text(engine, settings, connector_id, C, "where is my order", opened_c).ticket_id
    _text(engine, settings, connector_id, D, "hello", t0 + 50 * minute)
    reply_to_ticket(engine, workspace, ticket_c, "On its way", actor="t",
                    now=opened_c + timedelta(seconds=300))  # fmt: skip
    reply_to_ticket(engine, workspace, ticket_c, "Delivered?", actor="t",
                    now=opened_c + timedelta(seconds=900))  # fmt: skip

    report = client.get(f"/api/v1/numbers/{number_id}/report")
    assert report.status_code == 200, report.text
    got = report.json()
    assert {k: got[k] for k in (
        "number_id", "number", "inbound", "responses", "unique_senders", "opt_outs",
        "campaign_recipients", "campaign_responders", "response_rate", "tickets_opened",
        "tickets_answered", "median_first_answer_s", "by_route")} == {
        "number_id": number_id, "number": NUMBER,
        "inbound": 5,  # every text
        "responses": 4,  # 2 keyword + 2 ticket; a STOP is no answer
        "unique_senders": 4, "opt_outs": 1,
        "campaign_recipients": 3,  # A, B, C
        "campaign_responders": 2,  # A (PIZZA) and C (ticket, within the reply window)
        "response_rate": 0.6667,  # 2 / 3
        "tickets_opened": 2, "tickets_answered": 1,
        "median_first_answer_s": 300.0,  # C's first answer; D's ticket has none
        "by_route": {"keyword": 2, "opt_out": 1, "ticket": 2},
    }  # fmt: skip
    [pizza] = got["keywords"]
    assert (pizza["hits"], pizza["unique_senders"], pizza["campaign_id"]) == (2, 1, campaign)

    rule_report = client.get(f"/api/v1/keyword-rules/{rule['id']}/report")
    assert rule_report.status_code == 200, rule_report.text
    got = rule_report.json()
    assert {k: got[k] for k in (
        "rule_id", "number", "keyword", "responses", "unique_senders", "opt_outs",
        "tickets_opened", "median_first_answer_s", "campaign_id")} == {
        "rule_id": rule["id"], "number": NUMBER, "keyword": "pizza", "responses": 2,
        "unique_senders": 1, "opt_outs": 0, "tickets_opened": 0,
        "median_first_answer_s": None, "campaign_id": campaign,
    }  # fmt: skip
    response = got["campaign"]
    assert {k: response[k] for k in (
        "sent", "replies", "unique_responders", "response_rate", "opt_outs", "opt_out_rate",
        "median_first_reply_s")} == {
        "sent": 3, "replies": 4, "unique_responders": 3, "response_rate": 1.0,
        "opt_outs": 1, "opt_out_rate": 0.3333,
        "median_first_reply_s": 1800.0,  # A after 600 s, B after 1800 s, C after 2400 s
    }  # fmt: skip
    assert_problem(client.get("/api/v1/numbers/4242/report"), 404, "unknown_number")
    assert_problem(client.get("/api/v1/keyword-rules/4242/report"), 404, "unknown_rule")
