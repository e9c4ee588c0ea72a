"""Infobip WhatsApp connector against the simulator's fake of Infobip's API, over real
sockets, and the reports and inbound messages Infobip pushes with the shared secret."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from loopback_http import LoopbackHttp, Received, Reply, json_reply

from smscast.channels.base import LogEntry, OutgoingMessage, ReportState, SubmitOutcome
from smscast.channels.providers.infobip import check_infobip_request
from smscast.channels.providers.webhooks import WebhookRejected
from smscast.channels.simulator.whatsapp import (
    WhatsAppFake,
    WhatsAppFakeConfig,
    start_whatsapp_fake,
)
from smscast.channels.whatsapp import CALLBACK_SECRETS, KINDS
from smscast.channels.whatsapp.infobip_whatsapp import (
    InfobipWhatsAppConnector,
    InfobipWhatsAppSettings,
)
from smscast.channels.whatsapp.webhooks import (
    parse_infobip_whatsapp_inbound,
    parse_infobip_whatsapp_reports,
)

API_KEY = "ib-wa-api-key-0123456789abcdef"
SECRET = "push-secret-42"
SENDER = "+48500100200"


def ok(request: Received) -> Reply:
    return json_reply(200, "{}")


def settings(base_url: str, notify_url: str, **overrides: Any) -> InfobipWhatsAppSettings:
    values: dict[str, Any] = {
        "name": "ib-wa",
        "base_url": base_url,
        "api_key": API_KEY,
        "sender": SENDER,
        "notify_url": notify_url,
        "webhook_secret": SECRET,
        "rate": 0,
    }
    values.update(overrides)
    return InfobipWhatsAppSettings(**values)


@asynccontextmanager
async def infobip(
    **overrides: Any,
) -> AsyncIterator[tuple[InfobipWhatsAppConnector, WhatsAppFake, LoopbackHttp]]:
    async with LoopbackHttp(ok) as receiver:
        fake = await start_whatsapp_fake(
            WhatsAppFakeConfig(
                api_key=API_KEY,
                infobip_sender=SENDER,
                infobip_webhook_secret=SECRET,
                infobip_inbound_url=f"{receiver.url}/hooks/infobip_whatsapp/2/inbound",
                templates={"promo": 2},
                not_on_whatsapp={"+48601234569"},
            )
        )
        notify = f"{receiver.url}/hooks/infobip_whatsapp/2/reports"
        connector = InfobipWhatsAppConnector(settings(fake.url, notify, **overrides))
        await connector.start()
        try:
            yield connector, fake, receiver
        finally:
            await connector.stop()
            await fake.close()


def template(
    ref: int, to: str = "+48601234567", params: list[str] | None = None
) -> OutgoingMessage:
    return OutgoingMessage(
        ref=ref, sender="", recipient=to, text="Hi Ann", channel="whatsapp",
        extras={"template": "promo", "language": "en",
                "params": ["Ann", "ANN20"] if params is None else params},
    )  # fmt: skip


async def test_templates_go_in_bulk_and_texts_one_by_one_from_the_whatsapp_sender() -> None:
    # The message's own sender (the workspace's SMS short code here) is not a WhatsApp one.
    batch = [
        template(1),
        OutgoingMessage(ref=2, sender="4000", recipient="+48601234568", text="Thanks!"),
        template(3, to="+48601234560"),
    ]
    async with infobip() as (connector, fake, receiver):
        results = await connector.send(batch)
        await fake.settle()
    assert [r.outcome for r in results] == [SubmitOutcome.ACCEPTED] * 3
    assert len({r.carrier_ids[0] for r in results}) == 3
    by_path = {r.path: r for r in fake.received}
    bulk = by_path["/whatsapp/1/message/template"]
    assert bulk.headers["authorization"] == f"App {API_KEY}"
    notify = f"{receiver.url}/hooks/infobip_whatsapp/2/reports"
    content = {
        "templateName": "promo",
        "language": "en",
        "templateData": {"body": {"placeholders": ["Ann", "ANN20"]}},
    }
    assert bulk.json == {"messages": [
        {"from": "48500100200", "to": "48601234567", "content": content,
         "callbackData": "1", "notifyUrl": notify},
        {"from": "48500100200", "to": "48601234560", "content": content,
         "callbackData": "3", "notifyUrl": notify},
    ]}  # fmt: skip
    assert by_path["/whatsapp/1/message/text"].json == {
        "from": "48500100200", "to": "48601234568", "content": {"text": "Thanks!"},
        "callbackData": "2", "notifyUrl": notify,
    }  # fmt: skip


async def test_delivery_and_seen_reports_name_our_message() -> None:
    async with infobip() as (connector, fake, receiver):
        [result] = await connector.send([template(9)])
        await fake.settle()
    reports = []
    for posted in receiver.received:
        check_infobip_request(connector.settings, posted.headers)
        push = parse_infobip_whatsapp_reports(posted.body)
        assert push.problems == []
        reports += push.items
    (message_id,) = result.carrier_ids
    assert [(r.carrier_id, r.state, r.ref) for r in reports] == [
        (message_id, ReportState.DELIVERED, 9),
        (message_id, ReportState.DELIVERED, None),  # a seen report: no callbackData
    ]
    assert json.loads(reports[1].raw)["status"] == "read"


async def test_a_number_not_on_whatsapp_is_undeliverable_with_infobips_error() -> None:
    async with infobip() as (connector, fake, receiver):
        await connector.send([template(4, to="+48601234569")])
        await fake.settle()
    [posted] = receiver.received
    [report] = parse_infobip_whatsapp_reports(posted.body).items
    assert (report.state, report.error_code, report.ref) == (
        ReportState.UNDELIVERED, "EC_UNKNOWN_SUBSCRIBER", 4)  # fmt: skip


async def test_a_refused_request_is_permanent_with_infobips_reason() -> None:
    async with infobip() as (connector, fake, receiver):
        [result] = await connector.send([template(1, params=["only one"])])
        await fake.settle()
    assert (result.outcome, result.error_code) == (SubmitOutcome.PERMANENT, "BAD_REQUEST")
    assert "content.templateName" in (result.error or "")
    assert fake.received[0].status == 400 and receiver.received == []


async def test_a_wrong_key_waits_and_a_missing_sender_fails_at_once() -> None:
    async with infobip(api_key="wrong-key") as (connector, fake, _):
        [result] = await connector.send([template(1)])
    assert result.outcome is SubmitOutcome.TEMPORARY  # HTTP 401: fix the connector
    async with infobip(sender="") as (connector, fake, _):
        [result] = await connector.send([template(1)])
        assert fake.received == []
    assert result.outcome is SubmitOutcome.PERMANENT and "sender" in (result.error or "")


async def test_the_connector_log_keeps_the_api_key_out() -> None:
    async with infobip() as (connector, _, _):
        await connector.send([template(5)])
    [entry] = [e async for e in connector.events() if isinstance(e, LogEntry)]
    assert API_KEY not in entry.request + entry.response
    assert "authorization: App [redacted]" in entry.request


async def test_an_inbound_message_becomes_a_whatsapp_inbound_message() -> None:
    async with infobip() as (_, fake, receiver):
        await fake.send_inbound("+48601234567", "STOP", api="infobip", reply_to="ib-wa-1")
    [posted] = receiver.received
    assert posted.path == "/hooks/infobip_whatsapp/2/inbound"
    assert posted.headers["x-smscast-secret"] == SECRET
    [message] = parse_infobip_whatsapp_inbound(posted.body).items
    assert (message.channel, message.sender, message.recipient, message.text) == (
        "whatsapp", "+48601234567", "+48500100200", "STOP")  # fmt: skip
    assert message.in_reply_to == "ib-wa-1"


def test_bad_entries_are_problems_and_the_rest_is_kept() -> None:
    push = parse_infobip_whatsapp_reports(json.dumps({"results": [
        {"messageId": "m1", "status": {"groupName": "DELIVERED"}},
        {"messageId": "m2"},
        {"status": {"groupName": "DELIVERED"}},
    ]}))  # fmt: skip
    assert [r.carrier_id for r in push.items] == ["m1"]
    assert [p.split(":")[0] for p in push.problems] == ["results[1]", "results[2]"]
    with pytest.raises(WebhookRejected, match="results"):
        parse_infobip_whatsapp_inbound(b'{"nothing": []}')


def test_the_kind_registers_with_the_shared_secret_as_infobip_sms() -> None:
    assert KINDS["infobip_whatsapp"] == (InfobipWhatsAppSettings, InfobipWhatsAppConnector)
    assert CALLBACK_SECRETS["infobip_whatsapp"][0] == "webhook_secret"
    made = InfobipWhatsAppSettings(name="x", base_url="https://api.example", api_key="k",
                                   sender=48500100200)  # type: ignore[arg-type]  # fmt: skip
    assert made.sender == "48500100200"
    with pytest.raises(WebhookRejected, match="wrong secret"):
        check_infobip_request(made.__class__(name="x", base_url="b", api_key="k",
                                             webhook_secret=SECRET),
                              {"X-Smscast-Secret": "guess"})  # fmt: skip
