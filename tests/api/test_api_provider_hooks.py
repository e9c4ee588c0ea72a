"""Carrier callbacks: genuine ones become reports and inbound texts, forged ones get 403."""

from __future__ import annotations

import json

import pytest
from api_checks import problem_of
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, select

from smscast.channels.providers.twilio import twilio_signature
from smscast.channels.providers.webhooks import message_token
from smscast.core.errors import UserError
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.sending.connectors import add_connector
from smscast.store.messaging_models import Connector as ConnectorModel
from smscast.store.messaging_models import ConnectorLogRow, DeliveryReportRow, Message
from smscast.store.models import table_of

TOKEN = "twilio-auth-token"


@pytest.fixture
def connectors(engine: Engine, workspace: WorkspaceRef, now) -> dict[str, int]:
    made = {}
    for kind, settings in {
        "twilio": {"account_sid": "AC1", "auth_token": TOKEN},
        "infobip": {"base_url": "https://api.example", "api_key": "k", "webhook_secret": "s3"},
        "kannel": {"username": "u", "password": "p", "dlr_secret": "dlr-secret"},
    }.items():
        row = add_connector(
            engine,
            workspace,
            name=f"{kind}-1",
            kind=kind,
            settings=settings,
            rate_per_s=10,
            window=4,
            actor="test",
            now=now,
        )
        made[kind] = row.id
    return made


def _log(engine: Engine) -> list[tuple[str, str | None]]:
    log = table_of(ConnectorLogRow)
    with engine.connect() as conn:
        return [(r.kind, r.error) for r in conn.execute(select(log).order_by(log.c.id))]


def test_a_signed_twilio_status_is_stored_and_a_forged_one_refused(
    anonymous: TestClient, connectors: dict[str, int], engine: Engine
) -> None:
    url = f"http://testserver/hooks/twilio/{connectors['twilio']}/status"
    form = {"MessageSid": "SM123", "MessageStatus": "delivered"}
    signed = anonymous.post(
        url, data=form, headers={"X-Twilio-Signature": twilio_signature(TOKEN, url, form)}
    )
    assert signed.status_code == 200, signed.text
    assert signed.json()["reports"] == 1
    forged = anonymous.post(url, data=form, headers={"X-Twilio-Signature": "AAAA"})
    assert "X-Twilio-Signature" in problem_of(forged, 403)["detail"]
    unsigned = anonymous.post(url, data={**form, "MessageStatus": "failed"})
    problem_of(unsigned, 403)
    with engine.connect() as conn:
        stored = conn.execute(select(table_of(DeliveryReportRow))).all()
    assert [(r.carrier_id, r.state) for r in stored] == [("SM123", "delivered")]
    kinds = [kind for kind, _ in _log(engine)]
    assert kinds == ["webhook.report", "webhook.rejected", "webhook.rejected"]


def test_infobip_inbound_push_needs_the_shared_secret(
    anonymous: TestClient, connectors: dict[str, int], engine: Engine
) -> None:
    url = f"/hooks/infobip/{connectors['infobip']}/inbound"
    push = {
        "results": [
            {
                "messageId": "m1",
                "from": "48601234567",
                "to": "48500000000",
                "text": "Hello",
                "receivedAt": "2026-11-25T10:00:00.000+0000",
            },
            {"messageId": "m2"},
        ]
    }
    refused = anonymous.post(url, json=push, headers={"X-Smscast-Secret": "wrong"})
    problem_of(refused, 403)
    accepted = anonymous.post(url, json=push, headers={"X-Smscast-Secret": "s3"})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["inbound"] == 1
    assert accepted.json()["problems"][0].startswith("results[1]")
    with engine.connect() as conn:
        inbound = conn.execute(
            select(table_of(Message)).where(table_of(Message).c.direction == "in")
        ).all()
    assert [m.body for m in inbound] == ["Hello"]
    garbage = anonymous.post(
        url,
        content=b"not json",
        headers={"X-Smscast-Secret": "s3", "Content-Type": "application/json"},
    )
    assert "not JSON" in problem_of(garbage, 403)["detail"]
    assert _log(engine)[0][1] == "wrong secret in X-Smscast-Secret"


def test_kannel_dlr_needs_the_token_of_its_message(
    anonymous: TestClient, connectors: dict[str, int], engine: Engine
) -> None:
    url = f"/hooks/kannel/{connectors['kannel']}/dlr"
    token = message_token("dlr-secret", "kannel-1", 77)
    ok = anonymous.get(url, params={"ref": 77, "token": token, "type": 1, "foreign": "abc"})
    assert ok.status_code == 200 and ok.json()["reports"] == 1
    other = anonymous.get(url, params={"ref": 78, "token": token, "type": 1})
    assert "wrong token" in problem_of(other, 403)["detail"]
    assert problem_of(anonymous.get("/hooks/kannel/999/dlr"), 404)["code"] == "unknown_connector"
    wrong_kind = anonymous.get(f"/hooks/kannel/{connectors['twilio']}/dlr")
    problem_of(wrong_kind, 404)
    assert json.loads(json.dumps(_log(engine)))[-1][0] == "webhook.rejected"


@pytest.mark.parametrize(
    ("kind", "settings", "field"),
    [
        ("twilio", {"account_sid": "AC1", "auth_token": ""}, "settings.auth_token"),
        ("twilio", {"account_sid": "AC1", "auth_token": "   "}, "settings.auth_token"),
        ("twilio", {"account_sid": "AC1"}, "settings.auth_token"),
        ("infobip", {"base_url": "https://api.example", "api_key": "k"}, "settings.webhook_secret"),
        (
            "infobip",
            {"base_url": "https://api.example", "api_key": "k", "webhook_secret": ""},
            "settings.webhook_secret",
        ),
        (
            "kannel",
            {
                "username": "u",
                "password": "p",
                "dlr_url": "https://shop.example/hooks/kannel/1/dlr",
            },
            "settings.dlr_secret",
        ),
    ],
)
def test_a_connector_whose_callbacks_could_be_forged_is_not_added(
    engine: Engine, workspace: WorkspaceRef, now, kind: str, settings: dict[str, str], field: str
) -> None:
    with pytest.raises(UserError) as refused:
        add_connector(
            engine, workspace, name="carrier", kind=kind, settings=settings,
            rate_per_s=10, window=4, actor="test", now=now,
        )  # fmt: skip
    assert refused.value.problem.code == "missing_callback_secret"
    assert refused.value.problem.field == field
    assert refused.value.problem.message.startswith(field)
    with engine.connect() as conn:
        assert conn.execute(select(table_of(ConnectorModel))).all() == []


def test_a_kannel_connector_that_asks_for_no_reports_needs_no_dlr_secret(
    engine: Engine, workspace: WorkspaceRef, now
) -> None:
    row = add_connector(
        engine, workspace, name="kannel", kind="kannel",
        settings={"username": "u", "password": "p"}, rate_per_s=10, window=4, actor="test",
        now=now,
    )  # fmt: skip
    assert row.id > 0


def test_a_callback_for_a_connector_stored_without_its_secret_is_refused_and_logged(
    anonymous: TestClient, engine: Engine, workspace: WorkspaceRef, now
) -> None:
    with engine.begin() as conn:  # as rows added before the secret was required
        twilio_id = conn.execute(
            insert(table_of(ConnectorModel))
            .values(workspace_id=workspace.id, name="old-twilio", kind="twilio",
                    settings={"account_sid": "AC1", "auth_token": ""}, rate_per_s=1, window=1,
                    enabled=True, created_at=now)
            .returning(table_of(ConnectorModel).c.id)
        ).scalar_one()  # fmt: skip
    url = f"http://testserver/hooks/twilio/{twilio_id}/status"
    form = {"MessageSid": "SM123", "MessageStatus": "delivered"}
    forged = anonymous.post(  # signed with the empty key, as anyone can
        url, data=form, headers={"X-Twilio-Signature": twilio_signature("", url, form)}
    )
    problem = problem_of(forged, 403)
    assert problem["code"] == "forged_callback"
    assert "no auth_token" in problem["detail"]
    with engine.connect() as conn:
        assert conn.execute(select(table_of(DeliveryReportRow))).all() == []
    why = "connector 'old-twilio' has no auth_token, so no callback can be verified"
    assert _log(engine) == [("webhook.rejected", why)]


def test_patch_changes_a_connector_and_never_shows_its_secrets(
    client: TestClient, make_key, connectors: dict[str, int], engine: Engine
) -> None:
    url = f"/api/v1/connectors/{connectors['twilio']}"
    changed = client.patch(
        url,
        json={"settings": {"auth_token": "new-token", "sender": "Shop"}, "rate_per_s": 5,
              "window": 2, "enabled": False},
    )  # fmt: skip
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["settings"] == {"account_sid": "AC1", "auth_token": "[redacted]", "sender": "Shop"}
    assert (body["rate_per_s"], body["window"], body["enabled"]) == (5.0, 2, False)
    listed = client.get("/api/v1/connectors").json()["items"]
    assert "new-token" not in json.dumps(listed) and TOKEN not in json.dumps(listed)
    assert "s3" not in json.dumps(client.get(f"/api/v1/connectors/{connectors['infobip']}").json())
    emptied = client.patch(url, json={"settings": {"auth_token": ""}})
    assert problem_of(emptied, 422)["field"] == "settings.auth_token"
    removed = client.patch(url, json={"settings": {"auth_token": None}})
    assert problem_of(removed, 422)["code"] == "missing_callback_secret"
    with engine.connect() as conn:
        stored = conn.execute(
            select(table_of(ConnectorModel).c.settings).where(
                table_of(ConnectorModel).c.id == connectors["twilio"]
            )
        ).scalar_one()
    assert stored["auth_token"] == "new-token"
    viewer = TestClient(client.app, raise_server_exceptions=False)
    viewer.headers["Authorization"] = f"Bearer {make_key('viewer')}"
    assert problem_of(viewer.patch(url, json={"enabled": True}), 403)["code"] == "forbidden"
    unknown = client.patch("/api/v1/connectors/999", json={"enabled": True})
    assert problem_of(unknown, 404)["code"] == "unknown_connector"
