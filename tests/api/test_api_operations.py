"""Messages, segments, campaigns, numbers, keyword rules, tickets and connectors over the API."""

from __future__ import annotations

from datetime import datetime

from api_checks import problem_of
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert

from smscast.channels.base import InboundMessage
from smscast.config import Settings
from smscast.engine.accounts.auth import memberships, users
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.inbound.receive import handle_inbound
from smscast.engine.sending.connectors import add_connector


def _setup(client: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime) -> int:
    connector = add_connector(
        engine,
        workspace,
        name="smsc",
        kind="kannel",
        settings={"username": "u", "password": "p"},
        rate_per_s=1,
        window=1,
        actor="t",
        now=now,
    )
    made = client.post("/api/v1/numbers", json={"number": "+48500100200", "connector": "smsc"})
    assert made.status_code == 201, made.text
    return connector.id


def test_send_one_message_and_find_it(
    client: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    _setup(client, engine, workspace, now)
    sent = client.post(
        "/api/v1/messages", json={"to": "601 234 567", "body": "Shipped", "from": "+48500100200"}
    )
    assert sent.status_code == 202, sent.text
    message = sent.json()
    assert (message["phone"], message["status"], message["parts"]) == ("+48601234567", "queued", 1)
    assert client.get(f"/api/v1/messages/{message['id']}").json()["body"] == "Shipped"
    listed = client.get("/api/v1/messages", params={"direction": "out"}).json()["items"]
    assert [m["id"] for m in listed] == [message["id"]]
    bad_from = client.post(
        "/api/v1/messages", json={"to": "+48601234567", "body": "x", "from": "+48999"}
    )
    assert problem_of(bad_from, 422)["field"] == "from"
    assert (
        problem_of(client.post("/api/v1/messages", json={"to": "12", "body": "x"}), 422)["field"]
        == "to"
    )


def test_segments_count_and_a_campaign_is_launched_paused_and_cancelled(
    client: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    _setup(client, engine, workspace, now)
    for phone in ("+48601234567", "+48601234568"):
        client.post("/api/v1/consent/opt-in", json={"phone": phone, "evidence": "form"})
        found = client.get("/api/v1/contacts", params={"phone_prefix": phone}).json()
        client.patch(f"/api/v1/contacts/{found['items'][0]['id']}", json={"tags": ["vip"]})
    counted = client.post("/api/v1/segments/count", json={"expression": 'tags contains "vip"'})
    assert counted.json()["count"] == 2
    broken = client.post("/api/v1/segments/count", json={"expression": "tags ~~ 1"})
    assert problem_of(broken, 422)["field"]
    assert (
        client.post(
            "/api/v1/segments", json={"name": "vip", "expression": 'tags contains "vip"'}
        ).status_code
        == 201
    )
    made = client.post(
        "/api/v1/campaigns",
        json={"name": "Promo", "body": "Hi!", "segment_name": "vip", "purpose": "informational"},
    )
    assert made.status_code == 201, made.text
    campaign_id = made.json()["id"]
    launched = client.post(f"/api/v1/campaigns/{campaign_id}/launch")
    assert launched.json()["status"] == "running", launched.text
    assert client.post(f"/api/v1/campaigns/{campaign_id}/pause").json()["status"] == "paused"
    assert client.post(f"/api/v1/campaigns/{campaign_id}/resume").json()["status"] == "running"
    cancelled = client.post(f"/api/v1/campaigns/{campaign_id}/cancel").json()
    assert cancelled["status"] == "cancelled"
    again = client.post(f"/api/v1/campaigns/{campaign_id}/pause")
    assert problem_of(again, 422)["code"] == "bad_transition"
    report = client.get(f"/api/v1/campaigns/{campaign_id}").json()
    assert report["status"] == "cancelled"
    series = client.get(f"/api/v1/analytics/campaigns/{campaign_id}/timeseries").json()
    assert series["campaign_id"] == campaign_id and isinstance(series["hours"], list)
    by_campaign = client.get("/api/v1/messages", params={"campaign_id": campaign_id}).json()
    assert {m["status"] for m in by_campaign["items"]} == {"cancelled"}


def test_keyword_rules_tickets_and_connectors(
    client: TestClient,
    engine: Engine,
    workspace: WorkspaceRef,
    now: datetime,
    api_settings: Settings,
) -> None:
    connector_id = _setup(client, engine, workspace, now)
    rule = client.post(
        "/api/v1/keyword-rules",
        json={
            "number": "+48500100200",
            "keyword": "PROMO",
            "actions": [{"type": "reply", "text": "Code SAVE10"}],
        },
    )
    assert rule.status_code == 201, rule.text
    assert len(client.get("/api/v1/keyword-rules").json()["items"]) == 1
    handle_inbound(
        engine,
        api_settings,
        connector_id,
        InboundMessage("+48601234567", "+48500100200", "Where is my parcel?", now),
    )
    tickets = client.get("/api/v1/tickets", params={"state": "open"}).json()["items"]
    assert len(tickets) == 1
    ticket_id = tickets[0]["id"]
    assert (
        client.post(f"/api/v1/tickets/{ticket_id}/replies", json={"body": "On its way"}).status_code
        == 202
    )
    assert (
        client.post(f"/api/v1/tickets/{ticket_id}/notes", json={"body": "VIP"}).status_code == 201
    )
    with engine.begin() as conn:  # tickets go to members who may answer them, by email
        user_id = conn.execute(insert(users).values(
            email="ala@shop.example", name="Ala", password_hash="-", is_active=True,
            created_at=now,
        ).returning(users.c.id)).scalar_one()  # fmt: skip
        conn.execute(insert(memberships).values(
            user_id=user_id, workspace_id=workspace.id, role="agent"))  # fmt: skip
    assigned = client.post(
        f"/api/v1/tickets/{ticket_id}/assign", json={"assignee": "ala@shop.example"}
    )
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["assignee"] == "ala@shop.example"
    solved = client.post(f"/api/v1/tickets/{ticket_id}/state", json={"state": "solved"})
    assert solved.status_code == 200
    assert client.get("/api/v1/tickets", params={"state": "solved"}).json()["items"]
    assert client.delete(f"/api/v1/keyword-rules/{rule.json()['id']}").status_code == 204
    connectors = client.get("/api/v1/connectors").json()["items"]
    assert [c["name"] for c in connectors] == ["smsc"]
    assert client.get(f"/api/v1/connectors/{connector_id}").json()["kind"] == "kannel"
    assert client.get(f"/api/v1/connectors/{connector_id}/log").json()["items"] == []
    assert client.get("/api/v1/coupon-pools").json()["items"] == []
    unknown = client.post("/api/v1/coupons/redeem", json={"code": "NOPE"})
    assert unknown.status_code in (404, 422)
