"""Messages over the API: consent for promotional sends, finding messages, one message's story."""

from __future__ import annotations

from datetime import datetime, timedelta

from api_checks import problem_of
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, update

from smscast.channels.base import InboundMessage, LogEntry
from smscast.config import Settings
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.delivery.messages_view import show_message
from smscast.engine.inbound.numbers import add_number
from smscast.engine.inbound.receive import handle_inbound
from smscast.engine.sending.connector_log import record_log_entries
from smscast.engine.sending.connectors import add_connector
from smscast.store.messaging_models import CarrierRef, DeliveryReportRow, Message
from smscast.store.models import table_of

messages = table_of(Message)
carrier_refs = table_of(CarrierRef)
reports = table_of(DeliveryReportRow)


def _number(engine: Engine, workspace: WorkspaceRef, now: datetime) -> int:
    row = add_connector(engine, workspace, name="smsc", kind="kannel",
                        settings={"username": "u", "password": "p"}, rate_per_s=1, window=1,
                        actor="t", now=now)  # fmt: skip
    add_number(engine, workspace, "+48500100200", connector="smsc", actor="t", now=now)
    return row.id


def test_a_promotional_send_needs_an_opt_in_found_by_phone(
    client: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    _number(engine, workspace, now)
    promo = {"to": "+48601234567", "body": "Sale!", "purpose": "promotional"}
    stranger = problem_of(client.post("/api/v1/messages", json=promo), 422)
    assert (stranger["code"], stranger["field"]) == ("no_consent", "to")
    assert "+48601234567" in stranger["detail"]
    client.post("/api/v1/consent/opt-in", json={"phone": "+48601234567", "evidence": "form"})
    sent = client.post("/api/v1/messages", json=promo)
    assert sent.status_code == 202, sent.text
    contact = client.get("/api/v1/contacts", params={"phone_prefix": "+48601234567"}).json()
    assert client.delete(f"/api/v1/contacts/{contact['items'][0]['id']}").status_code == 204
    erased = problem_of(client.post("/api/v1/messages", json=promo), 422)
    assert (erased["code"], erased["field"]) == ("no_consent", "to")
    informational = client.post("/api/v1/messages", json={**promo, "purpose": "informational"})
    assert informational.status_code == 202, informational.text


def test_messages_are_found_by_phone_status_and_campaign_page_by_page(
    client: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    _number(engine, workspace, now)
    ids = [
        client.post("/api/v1/messages", json={"to": to, "body": "Shipped"}).json()["id"]
        for to in ("+48601234567", "+48601234567", "+48601234568")
    ]
    with engine.begin() as conn:
        conn.execute(update(messages).where(messages.c.id == ids[1]).values(status="failed"))

    def found(**params: object) -> list[int]:
        answer = client.get("/api/v1/messages", params=params)
        assert answer.status_code == 200, answer.text
        return [item["id"] for item in answer.json()["items"]]

    assert found(phone="601 234 567") == ids[:2]  # the workspace's country reads it
    assert found(phone="+48601234567", status="queued") == ids[:1]
    assert found(status="failed") == [ids[1]]
    assert found(campaign_id=1) == []
    first = client.get("/api/v1/messages", params={"limit": 2}).json()
    rest = client.get("/api/v1/messages", params={"limit": 2, "cursor": first["next_cursor"]})
    assert [m["id"] for m in first["items"] + rest.json()["items"]] == ids
    bad = problem_of(client.get("/api/v1/messages", params={"status": "lost"}), 422)
    assert bad["field"] == "status"
    assert problem_of(client.get("/api/v1/messages", params={"phone": "12"}), 422)["field"] == (
        "phone"
    )


def test_one_message_tells_its_story(
    client: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    connector_id = _number(engine, workspace, now)
    message_id = client.post(
        "/api/v1/messages", json={"to": "+48601234567", "body": "Shipped"}
    ).json()["id"]
    sent_at, done_at = now + timedelta(seconds=1), now + timedelta(seconds=5)
    with engine.begin() as conn:
        conn.execute(update(messages).where(messages.c.id == message_id).values(
            created_at=now, status="undelivered", sent_at=sent_at, done_at=done_at,
            attempts=1, error_code="absent_subscriber", error="phone switched off",
        ))  # fmt: skip
        conn.execute(insert(carrier_refs).values(
            connector_id=connector_id, carrier_id="abc1", message_id=message_id, part=0,
            state="UNDELIV",
        ))  # fmt: skip
        conn.execute(insert(reports).values(
            connector_id=connector_id, message_id=message_id, carrier_id="abc1",
            state="UNDELIV", error_code="absent_subscriber", raw="", received_at=done_at,
        ))  # fmt: skip
        entry = LogEntry("smsc", "submit", "GET /cgi-bin/sendsms?…", "0: Accepted", 12.5,
                         sent_at, (message_id,))  # fmt: skip
        other = LogEntry("smsc", "submit", "GET other", "0: Accepted", 3.0, sent_at, (999,))
        record_log_entries(conn, connector_id, [entry, other])

    detail = client.get(f"/api/v1/messages/{message_id}")

    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert [step["status"] for step in body["history"]] == [
        "queued", "sent", "report", "undelivered"
    ]  # fmt: skip
    assert "absent_subscriber" in body["history"][2]["detail"]
    assert body["carrier_parts"] == [{"part": 0, "carrier_id": "abc1", "state": "UNDELIV"}]
    assert [(e["kind"], e["response"]) for e in body["carrier_log"]] == [
        ("submit", "0: Accepted")
    ]
    assert body["failure"] == "undelivered: absent_subscriber: phone switched off"
    assert body["waiting"] is None
    assert problem_of(client.get("/api/v1/messages/999999"), 404)["code"] == "unknown_message"


def test_a_queued_message_says_why_it_waits(
    client: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    _number(engine, workspace, now)
    message_id = client.post(
        "/api/v1/messages", json={"to": "+48601234567", "body": "Shipped"}
    ).json()["id"]
    due, morning = now.replace(hour=21), (now + timedelta(days=1)).replace(hour=7)
    with engine.begin() as conn:
        conn.execute(update(messages).where(messages.c.id == message_id).values(
            created_at=now, due_at=due, send_after=morning,
        ))  # fmt: skip

    shown = show_message(engine, workspace, message_id, due)

    assert shown["waiting"] == (
        f"quiet hours: it was due at {due.isoformat()} and goes at {morning.isoformat()}"
    )
    assert [step["status"] for step in shown["history"]] == ["queued", "held"]
    assert show_message(engine, workspace, message_id, morning)["waiting"].startswith("due now")
    with engine.begin() as conn:
        conn.execute(update(messages).where(messages.c.id == message_id).values(
            due_at=None, error_code="quiet_hours", error="held until quiet hours end",
        ))  # fmt: skip
    assert show_message(engine, workspace, message_id, due)["waiting"] == (
        f"quiet hours: it goes at {morning.isoformat()}"
    )
    retried = {"error_code": "throttled", "error": "attempt 1: throttled", "attempts": 1}
    with engine.begin() as conn:
        conn.execute(update(messages).where(messages.c.id == message_id).values(**retried))
    assert show_message(engine, workspace, message_id, due)["waiting"] == (
        f"retry at {morning.isoformat()} after a temporary failure (attempt 1: throttled)"
    )


def test_an_inbound_text_shows_its_route_and_the_answer_that_failed(
    client: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime,
    api_settings: Settings,
) -> None:  # fmt: skip
    connector_id = _number(engine, workspace, now)
    rule = client.post("/api/v1/keyword-rules", json={
        "number": "+48500100200", "keyword": "PROMO",
        "actions": [{"type": "reply", "text": "Code SAVE10"}],
    })  # fmt: skip
    assert rule.status_code == 201, rule.text
    handle_inbound(engine, api_settings, connector_id,
                   InboundMessage("+48601234567", "+48500100200", "promo", now))  # fmt: skip
    [inbound] = client.get("/api/v1/messages", params={"direction": "in"}).json()["items"]
    [answer] = client.get("/api/v1/messages", params={"direction": "out"}).json()["items"]
    with engine.begin() as conn:
        conn.execute(update(messages).where(messages.c.id == answer["id"]).values(
            status="failed", error_code="refused", error="sender not allowed", done_at=now,
        ))  # fmt: skip

    shown = client.get(f"/api/v1/messages/{inbound['id']}").json()

    assert (shown["route"]["route"], shown["route"]["keyword"]) == ("keyword", "promo")
    assert shown["route"]["replies"] == 1
    assert [(a["id"], a["status"], a["error"]) for a in shown["answers"]] == [
        (answer["id"], "failed", "sender not allowed")
    ]
    assert [step["status"] for step in shown["history"]] == ["received"]
    failed = client.get(f"/api/v1/messages/{answer['id']}").json()
    assert failed["kind"] == "auto_reply"
    assert failed["failure"] == "failed: refused: sender not allowed"
