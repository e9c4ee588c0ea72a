"""Voice callbacks through the API: genuine ones become reports and a voice opt-out, forged
ones get 403 and a line in the connector log, as for SMS carriers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from api_checks import problem_of
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, select

from smscast.channels.providers.twilio import twilio_signature
from smscast.config import Settings
from smscast.core.consent import Action, Source
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.contacts.consent import ConsentChange, record_consent
from smscast.engine.sending.connectors import add_connector
from smscast.store.messaging_models import Connector as ConnectorModel
from smscast.store.messaging_models import ConnectorLogRow, DeliveryReportRow
from smscast.store.models import ConsentState, Contact, table_of

TOKEN = "twilio-voice-token"
SECRET = "infobip-voice-secret"
PUBLIC = "https://smscast.example"  # what the provider was told; the test client is testserver
PHONE = "+48601234567"


@pytest.fixture
def connectors(engine: Engine, workspace: WorkspaceRef, now: datetime) -> dict[str, int]:
    made = {}
    for kind, settings in {
        "twilio_voice": {"account_sid": "AC1", "auth_token": TOKEN, "callback_base_url": PUBLIC},
        "infobip_voice": {"base_url": "https://api.example", "api_key": "k",
                          "webhook_secret": SECRET, "callback_base_url": PUBLIC},
    }.items():  # fmt: skip
        row = add_connector(engine, workspace, name=kind, kind=kind, settings=settings,
                            rate_per_s=1, window=1, actor="test", now=now)  # fmt: skip
        made[kind] = row.id
    return made


@pytest.fixture
def person(engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime) -> int:
    """Someone who agreed to texts and calls."""
    for channel in ("sms", "voice"):
        change = ConsentChange(channel, "all", Action.OPT_IN, Source.API, "form", "test", now)
        record_consent(engine, settings, workspace, PHONE, change)
    contacts = table_of(Contact)
    with engine.connect() as conn:
        return int(
            conn.execute(select(contacts.c.id).where(contacts.c.phone == PHONE)).scalar_one()
        )


def consent_of(engine: Engine, contact_id: int) -> dict[str, str]:
    states = table_of(ConsentState)
    with engine.connect() as conn:
        rows = conn.execute(select(states).where(states.c.contact_id == contact_id))
        return {r.channel: r.status for r in rows}


def log_kinds(engine: Engine) -> list[tuple[str, str | None]]:
    log = table_of(ConnectorLogRow)
    with engine.connect() as conn:
        return [(r.kind, r.error) for r in conn.execute(select(log).order_by(log.c.id))]


def signed(path: str, form: dict[str, str], token: str = TOKEN) -> dict[str, str]:
    return {"X-Twilio-Signature": twilio_signature(token, f"{PUBLIC}{path}", form)}


def test_a_signed_call_status_is_a_report_and_a_forged_one_is_refused(
    anonymous: TestClient, connectors: dict[str, int], engine: Engine
) -> None:
    path = f"/hooks/twilio_voice/{connectors['twilio_voice']}/status?ref=12"
    form = {"CallSid": "CA1", "CallStatus": "no-answer", "To": PHONE}
    ok = anonymous.post(path, data=form, headers=signed(path, form))
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"reports": 1, "opt_outs": 0, "problems": []}
    # Signed for another URL (the host we are reached at, not the one Twilio was told).
    elsewhere = {"X-Twilio-Signature": twilio_signature(TOKEN, f"http://testserver{path}", form)}
    problem_of(anonymous.post(path, data=form, headers=elsewhere), 403)
    forged = anonymous.post(
        path, data={**form, "CallStatus": "completed"}, headers=signed(path, form)
    )
    assert "X-Twilio-Signature" in problem_of(forged, 403)["detail"]
    assert problem_of(anonymous.post(path, data=form), 403)["code"] == "forged_callback"
    with engine.connect() as conn:
        stored = conn.execute(select(table_of(DeliveryReportRow))).all()
    assert [(r.carrier_id, r.state, r.error_code) for r in stored] == [
        ("CA1", "undelivered", "no-answer")
    ]
    assert [kind for kind, _ in log_kinds(engine)] == [
        "webhook.status", "webhook.rejected", "webhook.rejected", "webhook.rejected"
    ]  # fmt: skip


def test_digit_9_in_a_call_opts_the_called_number_out_of_calls_only(
    anonymous: TestClient, connectors: dict[str, int], engine: Engine, person: int
) -> None:
    path = f"/hooks/twilio_voice/{connectors['twilio_voice']}/gather?ref=12&lang=pl-PL"
    pressed_1 = {"CallSid": "CA2", "To": PHONE, "Digits": "1"}
    other = anonymous.post(path, data=pressed_1, headers=signed(path, pressed_1))
    assert other.text == "<Response><Hangup /></Response>"
    assert consent_of(engine, person) == {"sms": "opted_in", "voice": "opted_in"}
    forged_9 = {**pressed_1, "Digits": "9"}
    problem_of(anonymous.post(path, data=forged_9, headers=signed(path, pressed_1)), 403)
    assert consent_of(engine, person) == {"sms": "opted_in", "voice": "opted_in"}
    answer = anonymous.post(path, data=forged_9, headers=signed(path, forged_9))
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/xml")
    assert answer.text == (
        '<Response><Say language="pl-PL" voice="Polly.Ewa">Nie będziesz już otrzymywać od nas '
        "połączeń. Do widzenia.</Say><Hangup /></Response>"
    )
    assert consent_of(engine, person) == {"sms": "opted_in", "voice": "opted_out"}


def report_push(dtmf: str | None) -> dict[str, Any]:
    return {"results": [{
        "messageId": "m-1", "to": PHONE.removeprefix("+"), "callbackData": "12",
        "doneAt": "2026-11-25T10:00:31.000+0000", "dtmfCodes": dtmf,
        "status": {"groupId": 3, "groupName": "DELIVERED", "name": "DELIVERED_TO_HANDSET"},
        "error": {"groupId": 0, "groupName": "OK", "id": 10000, "name": "NORMAL_HANGUP"},
    }, {"to": "48600000000"}]}  # fmt: skip


def test_an_infobip_voice_report_needs_the_secret_and_carries_the_digit(
    anonymous: TestClient, connectors: dict[str, int], engine: Engine, person: int
) -> None:
    path = f"/hooks/infobip_voice/{connectors['infobip_voice']}/reports"
    wrong = anonymous.post(path, json=report_push("9"), headers={"X-Smscast-Secret": "guess"})
    assert problem_of(wrong, 403)["detail"].endswith("wrong secret in X-Smscast-Secret")
    assert consent_of(engine, person) == {"sms": "opted_in", "voice": "opted_in"}
    ok = anonymous.post(path, json=report_push("9"), headers={"X-Smscast-Secret": SECRET})
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"reports": 1, "opt_outs": 1,
                         "problems": ["results[1]: field 'messageId' is missing"]}  # fmt: skip
    assert consent_of(engine, person) == {"sms": "opted_in", "voice": "opted_out"}
    with engine.connect() as conn:
        stored = conn.execute(select(table_of(DeliveryReportRow))).all()
    assert [(r.carrier_id, r.state) for r in stored] == [("m-1", "delivered")]


def test_a_voice_connector_without_its_secret_verifies_nothing(
    anonymous: TestClient, connectors: dict[str, int], engine: Engine, workspace: WorkspaceRef,
    now: datetime,
) -> None:  # fmt: skip
    with engine.begin() as conn:  # as a row edited by hand
        bare = conn.execute(
            insert(table_of(ConnectorModel))
            .values(workspace_id=workspace.id, name="bare", kind="twilio_voice",
                    settings={"account_sid": "AC1", "auth_token": ""}, rate_per_s=1, window=1,
                    enabled=True, created_at=now)
            .returning(table_of(ConnectorModel).c.id)
        ).scalar_one()  # fmt: skip
    path = f"/hooks/twilio_voice/{bare}/status"
    form = {"CallSid": "CA3", "CallStatus": "completed"}
    refused = anonymous.post(path, data=form, headers=signed(path, form, token=""))
    assert "has no auth_token" in problem_of(refused, 403)["detail"]
    wrong_kind = anonymous.post(f"/hooks/infobip_voice/{connectors['twilio_voice']}/reports",
                                json=report_push(None))  # fmt: skip
    assert problem_of(wrong_kind, 404)["code"] == "unknown_connector"
