"""WhatsApp Cloud API connector against the simulator's fake of the API, over real sockets,
and the webhooks the fake signs as Meta does."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from loopback_http import HANG, LoopbackHttp, Received, Reply, json_reply

from smscast.channels.base import (
    LogEntry,
    OutgoingMessage,
    ReportState,
    SubmitOutcome,
)
from smscast.channels.providers.webhooks import WebhookRejected
from smscast.channels.simulator.whatsapp import (
    WhatsAppFake,
    WhatsAppFakeConfig,
    start_whatsapp_fake,
)
from smscast.channels.whatsapp import CALLBACK_SECRETS, KINDS
from smscast.channels.whatsapp.cloud import CloudConnector, CloudSettings
from smscast.channels.whatsapp.webhooks import (
    check_cloud_signature,
    check_subscription,
    cloud_signature,
    parse_cloud_webhook,
)

TOKEN = "EAAGm0PX4ZCpsBAsecret-access-token"
APP_SECRET = "meta-app-secret-0123456789"
PHONE_ID = "106540352242922"
TEMPLATES = {"promo": 2, "hello_world": 0}


def ok(request: Received) -> Reply:
    return json_reply(200, "{}")


@asynccontextmanager
async def cloud(
    **fake_options: Any,
) -> AsyncIterator[tuple[CloudConnector, WhatsAppFake, LoopbackHttp]]:
    """The connector, the fake it talks to, and a receiver for the fake's webhooks."""
    async with LoopbackHttp(ok) as receiver:
        config = WhatsAppFakeConfig(
            phone_number_id=PHONE_ID,
            access_token=TOKEN,
            app_secret=APP_SECRET,
            cloud_callback_url=f"{receiver.url}/hooks/whatsapp_cloud/1",
            templates=TEMPLATES,
            not_on_whatsapp_suffixes=("9",),
            **fake_options,
        )
        fake = await start_whatsapp_fake(config)
        connector = CloudConnector(settings(fake.url))
        await connector.start()
        try:
            yield connector, fake, receiver
        finally:
            await connector.stop()
            await fake.close()


def settings(base_url: str, **overrides: Any) -> CloudSettings:
    values: dict[str, Any] = {
        "name": "wa",
        "base_url": base_url,
        "phone_number_id": PHONE_ID,
        "access_token": TOKEN,
        "app_secret": APP_SECRET,
        "verify_token": "verify-me",
        "rate": 0,
    }
    values.update(overrides)
    return CloudSettings(**values)


def template(ref: int, to: str = "+48601234567", params: list[str] | None = None,
             name: str = "promo") -> OutgoingMessage:  # fmt: skip
    return OutgoingMessage(
        ref=ref, sender="", recipient=to, text="Hi Ann, -20% with ANN20", channel="whatsapp",
        extras={"template": name, "language": "pl",
                "params": ["Ann", "ANN20"] if params is None else params},
    )  # fmt: skip


def text(ref: int, body: str, to: str = "+48601234567") -> OutgoingMessage:
    return OutgoingMessage(ref=ref, sender="", recipient=to, text=body, channel="whatsapp")


async def test_a_template_message_is_the_documented_request_and_gets_its_statuses() -> None:
    async with cloud() as (connector, fake, receiver):
        [result] = await connector.send([template(41)])
        await fake.settle()
    (request,) = fake.received
    assert request.status == 200
    assert request.path == f"/v21.0/{PHONE_ID}/messages"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.json == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "48601234567",
        "type": "template",
        "template": {
            "name": "promo",
            "language": {"code": "pl"},
            "components": [{"type": "body", "parameters": [
                {"type": "text", "text": "Ann"}, {"type": "text", "text": "ANN20"}]}],
        },
        "biz_opaque_callback_data": "41",
    }  # fmt: skip
    assert result.outcome is SubmitOutcome.ACCEPTED
    (wamid,) = result.carrier_ids
    assert wamid.startswith("wamid.")
    reports = []
    for posted in receiver.received:
        signature = posted.headers["x-hub-signature-256"]
        check_cloud_signature(APP_SECRET, posted.body, signature)
        events = parse_cloud_webhook(posted.body, PHONE_ID)
        assert events.problems == [] and events.inbound == []
        reports += events.reports
    assert [(r.carrier_id, r.state, r.ref) for r in reports] == [
        (wamid, ReportState.ACCEPTED, 41),
        (wamid, ReportState.DELIVERED, 41),
        (wamid, ReportState.DELIVERED, 41),
    ]
    assert json.loads(reports[2].raw)["status"] == "read"


async def test_a_number_not_on_whatsapp_fails_with_131026() -> None:
    async with cloud() as (connector, fake, receiver):
        [result] = await connector.send([template(7, to="+48601234569")])
        await fake.settle()
    assert result.outcome is SubmitOutcome.ACCEPTED  # WhatsApp takes it, then says no
    [posted] = receiver.received
    [report] = parse_cloud_webhook(posted.body, PHONE_ID).reports
    assert (report.state, report.error_code, report.ref) == (ReportState.UNDELIVERED, "131026", 7)


async def test_free_text_goes_as_a_text_message_with_link_preview_when_it_has_a_link() -> None:
    async with cloud() as (connector, fake, _):
        results = await connector.send([text(1, "Thanks, see https://shop.example/t"),
                                        text(2, "Thanks!")])  # fmt: skip
    assert [r.outcome for r in results] == [SubmitOutcome.ACCEPTED] * 2
    bodies = sorted((r.json for r in fake.received), key=lambda b: b["biz_opaque_callback_data"])
    assert bodies[0]["type"] == "text"
    assert bodies[0]["text"] == {"preview_url": True, "body": "Thanks, see https://shop.example/t"}
    assert bodies[1]["text"] == {"preview_url": False, "body": "Thanks!"}


async def test_template_errors_are_permanent_with_whatsapps_code() -> None:
    async with cloud() as (connector, fake, receiver):
        wrong_count, unknown = await connector.send(
            [template(1, params=["Ann"]), template(2, name="no_such")]
        )
        await fake.settle()
    assert (wrong_count.outcome, wrong_count.error_code) == (SubmitOutcome.PERMANENT, "132000")
    assert "Number of parameters" in (wrong_count.error or "")
    assert (unknown.outcome, unknown.error_code) == (SubmitOutcome.PERMANENT, "132001")
    assert receiver.received == []  # nothing accepted, so no status


async def test_a_wrong_token_is_the_connectors_fault_not_the_messages() -> None:
    async with cloud() as (_, fake, _):
        connector = CloudConnector(settings(fake.url, access_token="expired-token"))
        await connector.start()
        [result] = await connector.send([template(1)])
        await connector.stop()
    assert result.outcome is SubmitOutcome.TEMPORARY
    assert connector.state().last_errors


async def test_unsendable_messages_fail_before_any_request() -> None:
    async with cloud() as (connector, fake, _):
        results = await connector.send([
            template(1, to="48601234567"),  # no +
            template(2, params=["Ann", "line\nbreak"]),
            text(3, "   "),
            text(4, "x" * 4097),
        ])  # fmt: skip
    assert [r.outcome for r in results] == [SubmitOutcome.PERMANENT] * 4
    assert "E.164" in (results[0].error or "")
    assert "{{2}}" in (results[1].error or "")
    assert fake.received == []


def answering(status: int, body: dict[str, Any]):
    def handler(request: Received) -> Reply:
        return json_reply(status, json.dumps(body))

    return handler


@pytest.mark.parametrize(
    ("status", "code", "outcome"),
    [
        (400, 130429, SubmitOutcome.TEMPORARY),  # throughput reached, under a 400
        (400, 131056, SubmitOutcome.TEMPORARY),  # pair rate limit
        (400, 190, SubmitOutcome.TEMPORARY),  # token expired
        (400, 131047, SubmitOutcome.PERMANENT),  # outside the 24-hour window
        (429, 4, SubmitOutcome.TEMPORARY),
        (503, 2, SubmitOutcome.TEMPORARY),
    ],
)
async def test_graph_errors_map_to_outcomes(status: int, code: int, outcome: SubmitOutcome) -> None:
    details = {"messaging_product": "whatsapp", "details": "why"}
    error = {"error": {"message": f"(#{code}) something", "type": "OAuthException", "code": code,
                       "error_data": details}}  # fmt: skip
    async with LoopbackHttp(answering(status, error)) as server:
        connector = CloudConnector(settings(server.url))
        await connector.start()
        [result] = await connector.send([template(1)])
        await connector.stop()
    assert result.outcome is outcome
    if status == 400:
        assert result.error_code == str(code)


async def test_no_answer_in_time_is_unknown() -> None:
    async with LoopbackHttp(lambda request: HANG) as server:
        connector = CloudConnector(settings(server.url, timeout_s=0.2))
        await connector.start()
        [result] = await connector.send([template(1)])
        await connector.stop()
    assert result.outcome is SubmitOutcome.UNKNOWN


async def test_the_connector_log_has_the_exchange_without_the_token() -> None:
    async with cloud() as (connector, _, _):
        await connector.send([template(5)])
    entries = [e async for e in connector.events()]
    [entry] = [e for e in entries if isinstance(e, LogEntry)]
    assert entry.refs == (5,) and entry.kind == "submit"
    assert TOKEN not in entry.request + entry.response
    assert "authorization: Bearer [redacted]" in entry.request
    assert "promo" in entry.request and "wamid." in entry.response


async def test_an_inbound_message_names_the_sender_our_number_and_what_it_answers() -> None:
    async with cloud(display_phone_number="+48 500 100 200") as (_, fake, receiver):
        await fake.send_inbound("+48601234567", "STOP", reply_to="wamid.ours")
    [posted] = receiver.received
    check_cloud_signature(APP_SECRET, posted.body, posted.headers["x-hub-signature-256"])
    [message] = parse_cloud_webhook(posted.body, PHONE_ID).inbound
    assert (message.channel, message.sender, message.recipient) == (
        "whatsapp", "+48601234567", "+48500100200")  # fmt: skip
    assert (message.text, message.in_reply_to) == ("STOP", "wamid.ours")
    assert message.carrier_ids[0].startswith("wamid.")


def test_a_signature_over_another_body_or_secret_is_refused() -> None:
    body = b'{"object": "whatsapp_business_account", "entry": []}'
    check_cloud_signature(APP_SECRET, body, cloud_signature(APP_SECRET, body))
    for signature, why in [
        (None, "no X-Hub-Signature-256"),
        (cloud_signature("another-secret", body), "wrong"),
        (cloud_signature(APP_SECRET, body + b" "), "wrong"),
        ("sha1=abc", "not sha256"),
    ]:
        with pytest.raises(WebhookRejected, match=why):
            check_cloud_signature(APP_SECRET, body, signature)
    with pytest.raises(WebhookRejected, match="no app_secret"):
        check_cloud_signature("", body, cloud_signature("", body))


def test_the_verification_handshake_answers_the_challenge_only_for_our_token() -> None:
    query = {
        "hub.mode": "subscribe",
        "hub.verify_token": "verify-me",
        "hub.challenge": "1158201444",
    }
    assert check_subscription("verify-me", query) == "1158201444"
    with pytest.raises(WebhookRejected, match=r"wrong hub\.verify_token"):
        check_subscription("verify-me", {**query, "hub.verify_token": "guess"})
    with pytest.raises(WebhookRejected, match=r"hub\.mode"):
        check_subscription("verify-me", {**query, "hub.mode": "unsubscribe"})


def test_changes_for_another_number_and_bad_entries_are_problems_not_events() -> None:
    document = {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [
        {"field": "messages", "value": {"metadata": {"phone_number_id": "999"},
                                        "statuses": [{"id": "w1", "status": "read"}]}},
        {"field": "messages", "value": {"metadata": {"phone_number_id": PHONE_ID},
                                        "statuses": [{"status": "read"},
                                                     {"id": "w2", "status": "delivered"}]}},
    ]}]}  # fmt: skip
    events = parse_cloud_webhook(json.dumps(document), PHONE_ID)
    assert [r.carrier_id for r in events.reports] == ["w2"]
    assert len(events.problems) == 2
    assert "999" in events.problems[0] and "'id' is missing" in events.problems[1]
    with pytest.raises(WebhookRejected, match="not JSON"):
        parse_cloud_webhook(b"garbage", PHONE_ID)


def test_the_kind_registers_with_its_callback_secret_and_reads_numbers_as_text() -> None:
    settings_class, connector_class = KINDS["whatsapp_cloud"]
    assert (settings_class, connector_class) == (CloudSettings, CloudConnector)
    assert CALLBACK_SECRETS["whatsapp_cloud"][0] == "app_secret"
    # `--setting phone_number_id=106540352242922` reads as a number
    made = CloudSettings(name="wa", phone_number_id=106540352242922, access_token=TOKEN)  # type: ignore[arg-type]
    assert made.phone_number_id == PHONE_ID
    assert made.base_url == "https://graph.facebook.com"


async def test_the_fake_refuses_an_undocumented_shape_and_takes_inbound_by_http() -> None:
    async with cloud() as (_, fake, receiver), httpx.AsyncClient(base_url=fake.url) as client:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        url = f"/v21.0/{PHONE_ID}/messages"
        plain = {"to": "48601234567", "type": "text", "text": {"body": "Hi"}}
        no_product = await client.post(url, json=plain, headers=auth)
        bad_param = await client.post(url, headers=auth, json={
            "messaging_product": "whatsapp", "to": "48601234567", "type": "template",
            "template": {"name": "promo", "language": {"code": "en"},
                         "components": [{"type": "body", "parameters": [{"text": "Ann"}]}]},
        })  # fmt: skip
        other_number = await client.post("/v21.0/999/messages", json={}, headers=auth)
        injected = await client.post(
            "/simulator/inbound", json={"from": "+48601234567", "text": "HELP"}
        )
        listed = await client.get("/simulator/received")
    assert (no_product.status_code, no_product.json()["error"]["code"]) == (400, 100)
    assert "messaging_product" in no_product.json()["error"]["error_data"]["details"]
    assert bad_param.status_code == 400 and "parameters[0]" in bad_param.text
    assert other_number.json()["error"]["error_subcode"] == 33
    assert injected.status_code == 202 and injected.json()["answered"] == 200
    [posted] = receiver.received
    assert parse_cloud_webhook(posted.body, PHONE_ID).inbound[0].text == "HELP"
    assert [r["status"] for r in listed.json()] == [400, 400, 400]
