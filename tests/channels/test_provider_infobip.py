"""Infobip connector against a loopback stand-in for its API, and Infobip's pushes."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest
from loopback_http import LoopbackHttp, Received, Reply, json_reply

from smscast.channels.base import LogEntry, OutgoingMessage, ReportState, SubmitOutcome
from smscast.channels.providers.infobip import (
    InfobipConnector,
    InfobipSettings,
    check_infobip_request,
    parse_infobip_inbound,
    parse_infobip_reports,
)
from smscast.channels.providers.webhooks import WebhookRejected

API_KEY = "ib-api-key-abcdef0123456789"
NOTIFY = "https://smscast.example/hooks/infobip/reports"
PENDING = {"groupId": 1, "groupName": "PENDING", "id": 26, "name": "PENDING_ACCEPTED"}
REJECTED = {
    "groupId": 5,
    "groupName": "REJECTED",
    "id": 6,
    "name": "REJECTED_NETWORK",
    "description": "Message has been rejected due to network restrictions",
}


def settings(base_url: str, **overrides: object) -> InfobipSettings:
    values: dict[str, object] = {
        "name": "ib",
        "base_url": base_url,
        "api_key": API_KEY,
        "sender": "ACME",
        "notify_url": NOTIFY,
        "rate": 0,
        "webhook_secret": "push-secret-42",
    }
    values.update(overrides)
    return InfobipSettings(**values)  # type: ignore[arg-type]


def answer_all(request: Received) -> Reply:
    """Takes every message except those to a number ending in 9, like a network block."""
    sent = json.loads(request.body)["messages"]
    entries = []
    for index, entry in enumerate(sent):
        to = entry["destinations"][0]["to"]
        status = REJECTED if to.endswith("9") else PENDING
        entries.append({"to": to, "messageId": f"ib-{to}-{index}", "status": status})
    return json_reply(200, json.dumps({"bulkId": "bulk-1", "messages": entries}))


@asynccontextmanager
async def infobip(
    handler, **overrides: object
) -> AsyncIterator[tuple[InfobipConnector, LoopbackHttp]]:
    async with LoopbackHttp(handler) as server:
        connector = InfobipConnector(settings(server.url, **overrides))
        await connector.start()
        try:
            yield connector, server
        finally:
            await connector.stop()


def message(ref: int, recipient: str = "+48500100200", **kw: object) -> OutgoingMessage:
    values: dict[str, object] = {"ref": ref, "sender": "", "recipient": recipient, "text": "Hi"}
    values.update(kw)
    return OutgoingMessage(**values)  # type: ignore[arg-type]


async def test_a_batch_goes_in_one_json_request_with_the_app_key() -> None:
    batch = [message(1, "+48500000001"), message(2, "+48500000009", sender="SHOP")]
    async with infobip(answer_all) as (connector, server):
        results = await connector.send(batch)
    (request,) = server.received
    assert request.method == "POST" and request.path == "/sms/2/text/advanced"
    assert request.headers["authorization"] == f"App {API_KEY}"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.body) == {
        "messages": [
            {
                "from": "ACME",
                "destinations": [{"to": "48500000001"}],
                "text": "Hi",
                "callbackData": "1",
                "notifyUrl": NOTIFY,
                "notifyContentType": "application/json",
            },
            {
                "from": "SHOP",
                "destinations": [{"to": "48500000009"}],
                "text": "Hi",
                "callbackData": "2",
                "notifyUrl": NOTIFY,
                "notifyContentType": "application/json",
            },
        ]
    }
    assert results[0].outcome is SubmitOutcome.ACCEPTED
    assert results[0].carrier_ids == ("ib-48500000001-0",)
    assert results[1].outcome is SubmitOutcome.PERMANENT
    assert results[1].error_code == "REJECTED_NETWORK"
    assert "network restrictions" in (results[1].error or "")


async def test_large_batches_are_split_by_batch_size_and_answered_in_order() -> None:
    batch = [message(ref, f"+4850000000{ref}") for ref in range(1, 6)]
    async with infobip(answer_all, batch_size=2) as (connector, server):
        results = await connector.send(batch)
    sizes = sorted(len(json.loads(r.body)["messages"]) for r in server.received)
    assert sizes == [1, 2, 2]
    assert [r.ref for r in results] == [1, 2, 3, 4, 5]
    assert all(r.outcome is SubmitOutcome.ACCEPTED for r in results)
    assert results[3].carrier_ids[0].startswith("ib-48500000004-")


def request_error(code: str, text: str) -> str:
    return json.dumps({"requestError": {"serviceException": {"messageId": code, "text": text}}})


async def test_a_refused_request_fails_its_messages_with_infobips_reason() -> None:
    body = request_error("BAD_REQUEST", "Invalid destination address")
    async with infobip(lambda r: json_reply(400, body)) as (connector, _):
        results = await connector.send([message(1), message(2)])
    assert [r.outcome for r in results] == [SubmitOutcome.PERMANENT] * 2
    assert results[0].error_code == "BAD_REQUEST"
    assert "Invalid destination address" in (results[0].error or "")


async def test_a_wrong_api_key_keeps_the_messages_for_later() -> None:
    body = request_error("UNAUTHORIZED", "Invalid login details")
    async with infobip(lambda r: json_reply(401, body)) as (connector, _):
        (result,) = await connector.send([message(1)])
    assert result.outcome is SubmitOutcome.TEMPORARY


async def test_an_answer_that_does_not_cover_every_message_is_unknown() -> None:
    body = json.dumps({"messages": [{"to": "1", "messageId": "x", "status": PENDING}]})
    async with infobip(lambda r: json_reply(200, body)) as (connector, _):
        results = await connector.send([message(1), message(2)])
    assert [r.outcome for r in results] == [SubmitOutcome.UNKNOWN] * 2


async def test_the_exchange_is_logged_once_per_request_without_the_api_key() -> None:
    async with infobip(answer_all) as (connector, _):
        await connector.send([message(1), message(2)])
        await connector.stop()
        logs = [e async for e in connector.events() if isinstance(e, LogEntry)]
    (entry,) = logs
    assert entry.refs == (1, 2)
    assert API_KEY not in entry.request and "App [redacted]" in entry.request
    assert '"callbackData": "2"' in entry.request and "PENDING_ACCEPTED" in entry.response


# -- push authentication ---------------------------------------------------------------


def test_a_push_with_the_shared_secret_header_passes() -> None:
    check_infobip_request(settings("http://x"), {"x-smscast-secret": "push-secret-42"})


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "no X-Smscast-Secret header"),
        ({"X-Smscast-Secret": "guess"}, "wrong secret"),
    ],
)
def test_a_push_without_the_right_secret_header_is_rejected(
    headers: dict[str, str], reason: str
) -> None:
    with pytest.raises(WebhookRejected) as rejected:
        check_infobip_request(settings("http://x"), headers)
    assert reason in rejected.value.reason


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_basic_auth_pushes_are_checked_against_the_secret() -> None:
    configured = settings("http://x", webhook_auth="basic")
    check_infobip_request(configured, basic("infobip", "push-secret-42"))
    for headers in (basic("infobip", "nope"), basic("mallory", "push-secret-42"), {}):
        with pytest.raises(WebhookRejected):
            check_infobip_request(configured, headers)
    with pytest.raises(WebhookRejected, match="not HTTP basic"):
        check_infobip_request(configured, {"Authorization": "App push-secret-42"})


def test_without_a_configured_secret_every_push_is_rejected() -> None:
    with pytest.raises(WebhookRejected, match="no webhook secret"):
        check_infobip_request(settings("http://x", webhook_secret=""), {"X-Smscast-Secret": ""})


# -- pushes ------------------------------------------------------------------------------


def report_entry(message_id: str, group: str, **extra: object) -> dict[str, object]:
    return {
        "bulkId": "bulk-1",
        "messageId": message_id,
        "to": "48500100200",
        "sentAt": "2026-03-01T12:00:00.000+0000",
        "doneAt": "2026-03-01T12:00:05.250+0100",
        "smsCount": 1,
        "status": {"groupId": 3, "groupName": group, "id": 5, "name": f"{group}_X"},
        "error": {"groupId": 0, "groupName": "OK", "id": 0, "name": "NO_ERROR"},
        **extra,
    }


def test_delivery_reports_name_our_message_and_the_outcome() -> None:
    undeliverable = report_entry(
        "ib-2",
        "UNDELIVERABLE",
        callbackData="8",
        error={
            "groupId": 1,
            "groupName": "HANDSET_ERRORS",
            "id": 27,
            "name": "EC_ABSENT_SUBSCRIBER",
        },
    )
    payload = json.dumps(
        {"results": [report_entry("ib-1", "DELIVERED", callbackData="7"), undeliverable]}
    )
    push = parse_infobip_reports(payload)
    assert push.problems == []
    delivered, failed = push.items
    assert (delivered.carrier_id, delivered.ref, delivered.state) == (
        "ib-1",
        7,
        ReportState.DELIVERED,
    )
    assert delivered.done_at == datetime(2026, 3, 1, 11, 0, 5, 250000, tzinfo=UTC)
    assert delivered.error_code is None
    assert (failed.ref, failed.state, failed.error_code) == (
        8,
        ReportState.UNDELIVERED,
        "EC_ABSENT_SUBSCRIBER",
    )


@pytest.mark.parametrize(
    ("group", "state"),
    [
        ("EXPIRED", ReportState.EXPIRED),
        ("REJECTED", ReportState.REJECTED),
        ("PENDING", ReportState.ACCEPTED),
    ],
)
def test_every_status_group_maps_to_a_report_state(group: str, state: ReportState) -> None:
    (report,) = parse_infobip_reports(json.dumps({"results": [report_entry("m", group)]})).items
    assert report.state is state and report.ref is None


def test_one_malformed_report_does_not_cost_the_others() -> None:
    broken = {"messageId": "ib-3", "status": {}}
    payload = json.dumps(
        {"results": [report_entry("ib-1", "DELIVERED"), broken, report_entry("ib-2", "EXPIRED")]}
    )
    push = parse_infobip_reports(payload)
    assert [r.carrier_id for r in push.items] == ["ib-1", "ib-2"]
    assert push.problems == ["results[1]: field 'status.groupName' is missing"]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [("not json", "not JSON"), ('{"messages": []}', "no 'results' list")],
)
def test_a_push_not_in_infobips_shape_is_rejected(payload: str, reason: str) -> None:
    with pytest.raises(WebhookRejected) as rejected:
        parse_infobip_reports(payload)
    assert reason in rejected.value.reason


def test_inbound_pushes_become_inbound_messages_with_the_whole_text() -> None:
    payload = json.dumps(
        {
            "results": [
                {
                    "messageId": "in-1",
                    "from": "48500100200",
                    "to": "48799000111",
                    "text": "QUIZ Paris",
                    "cleanText": "Paris",
                    "keyword": "QUIZ",
                    "receivedAt": "2026-03-01T12:00:00.000+0000",
                    "smsCount": 2,
                },
                {"messageId": "in-2", "to": "48799000111", "text": "no sender"},
            ],
            "messageCount": 2,
            "pendingMessageCount": 0,
        }
    )
    push = parse_infobip_inbound(payload)
    (inbound,) = push.items
    assert (inbound.sender, inbound.recipient, inbound.text) == (
        "48500100200",
        "48799000111",
        "QUIZ Paris",
    )
    assert inbound.received_at == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert inbound.carrier_ids == ("in-1",) and inbound.parts == 2
    assert push.problems == ["results[1]: field 'from' is missing"]
