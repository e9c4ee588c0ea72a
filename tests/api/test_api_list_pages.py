"""Campaigns, numbers, rules, segments, pools, tickets and connectors: paged and filtered."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api_checks import problem_of
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert

from smscast.channels.base import InboundMessage
from smscast.config import Settings
from smscast.engine.accounts.auth import memberships, users
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.campaigns.coupons import add_codes
from smscast.engine.inbound.receive import handle_inbound
from smscast.engine.sending.connectors import add_connector

NUMBERS = ("+48500100200", "+48500100300", "+48500100400")


def walk(client: TestClient, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a list, fetched one per page by following `next_cursor`."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(50):
        page = client.get(
            path, params={**params, "limit": 1, **({"cursor": cursor} if cursor else {})}
        )
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["items"]) <= 1
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError(f"{path} never ended")


def _connector(engine: Engine, workspace: WorkspaceRef, now: datetime, name: str) -> int:
    made = add_connector(
        engine,
        workspace,
        name=name,
        kind="kannel",
        settings={"username": "u", "password": "p"},
        rate_per_s=1,
        window=1,
        actor="t",
        now=now,
    )
    return made.id


def _numbers(client: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime) -> int:
    connector = _connector(engine, workspace, now, "smsc")
    for number in NUMBERS:
        made = client.post("/api/v1/numbers", json={"number": number, "connector": "smsc"})
        assert made.status_code == 201, made.text
    return connector


def test_numbers_rules_segments_pools_and_connectors_walk_once_in_order(
    client: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    _numbers(client, engine, workspace, now)
    _connector(engine, workspace, now, "backup")
    for number, keyword in [(NUMBERS[0], "PROMO"), (NUMBERS[1], "SALE"), (NUMBERS[0], "NEWS")]:
        rule = client.post(
            "/api/v1/keyword-rules",
            json={
                "number": number,
                "keyword": keyword,
                "actions": [{"type": "reply", "text": "Hi"}],
            },
        )
        assert rule.status_code == 201, rule.text
    for name in ("zeta", "alpha", "mid"):
        saved = client.post(
            "/api/v1/segments", json={"name": name, "expression": 'tags contains "x"'}
        )
        assert saved.status_code == 201, saved.text
    for pool in ("spring", "autumn", "winter"):
        add_codes(engine, workspace, pool, [f"{pool}-1", f"{pool}-2"], actor="t", now=now)

    assert [n["number"] for n in walk(client, "/api/v1/numbers")] == list(NUMBERS)
    rules = walk(client, "/api/v1/keyword-rules")
    assert [r["keyword"] for r in rules] == ["promo", "sale", "news"]
    on_first = walk(client, "/api/v1/keyword-rules", number=NUMBERS[0])
    assert [r["keyword"] for r in on_first] == ["promo", "news"]
    assert [s["name"] for s in walk(client, "/api/v1/segments")] == ["zeta", "alpha", "mid"]
    pools = walk(client, "/api/v1/coupon-pools")
    assert [(p["pool"], p["codes"]) for p in pools] == [("autumn", 2), ("spring", 2), ("winter", 2)]
    assert [c["name"] for c in walk(client, "/api/v1/connectors")] == ["smsc", "backup"]
    whole = client.get("/api/v1/numbers").json()
    assert len(whole["items"]) == 3 and whole["next_cursor"] is None


def test_campaigns_page_and_filter_by_status(
    client: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    _numbers(client, engine, workspace, now)
    ids = []
    for name in ("one", "two", "three"):
        made = client.post("/api/v1/campaigns", json={"name": name, "body": "Hi", "segment": ""})
        assert made.status_code == 201, made.text
        ids.append(made.json()["id"])
    assert client.post(f"/api/v1/campaigns/{ids[1]}/cancel").status_code == 200
    assert [c["name"] for c in walk(client, "/api/v1/campaigns")] == ["one", "two", "three"]
    drafts = walk(client, "/api/v1/campaigns", status="draft")
    assert [c["id"] for c in drafts] == [ids[0], ids[2]]
    assert [c["id"] for c in walk(client, "/api/v1/campaigns", status="cancelled")] == [ids[1]]
    assert walk(client, "/api/v1/campaigns", status="running") == []
    assert problem_of(client.get("/api/v1/campaigns", params={"status": "lost"}), 422)


def test_tickets_page_newest_first_and_filter(
    client: TestClient,
    engine: Engine,
    workspace: WorkspaceRef,
    now: datetime,
    api_settings: Settings,
) -> None:
    connector = _numbers(client, engine, workspace, now)
    texts = [
        ("+48601000001", NUMBERS[0], "Where is my parcel?"),
        ("+48601000002", NUMBERS[1], "I want a refund"),
        ("+48601000003", NUMBERS[0], "Opening hours?"),
    ]
    for phone, number, text in texts:
        handle_inbound(engine, api_settings, connector, InboundMessage(phone, number, text, now))
    tickets = walk(client, "/api/v1/tickets")
    assert [t["phone"] for t in tickets] == ["+48601000003", "+48601000002", "+48601000001"]
    first, second, third = (t["id"] for t in reversed(tickets))
    with engine.begin() as conn:  # tickets go to members who may answer them, by email
        user_id = conn.execute(insert(users).values(
            email="ala@shop.example", name="Ala", password_hash="-", is_active=True,
            created_at=now,
        ).returning(users.c.id)).scalar_one()  # fmt: skip
        conn.execute(insert(memberships).values(
            user_id=user_id, workspace_id=workspace.id, role="agent"))  # fmt: skip
    assigned = client.post(f"/api/v1/tickets/{first}/assign", json={"assignee": "ala@shop.example"})
    assert assigned.status_code == 200
    solved = client.post(f"/api/v1/tickets/{second}/state", json={"state": "solved"})
    assert solved.status_code == 200

    def ids(**params: str) -> list[int]:
        return [t["id"] for t in walk(client, "/api/v1/tickets", **params)]

    assert ids(status="solved") == [second]
    assert ids(status="open") == [third, first]
    assert ids(assignee="ala@shop.example") == [first]
    assert ids(number=NUMBERS[0]) == [third, first]
    assert ids(number=NUMBERS[1]) == [second]
    assert ids(q="refund") == [second]
    assert ids(q="601000003") == [third]
    assert ids(q="no such words") == []
    assert ids(state="solved", search="refund") == [second]  # the old names still work
    unknown = client.get("/api/v1/tickets", params={"number": "+48999999999"})
    assert problem_of(unknown, 404)["field"] == "number"
