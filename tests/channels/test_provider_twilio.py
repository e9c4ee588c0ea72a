"""Twilio connector against a loopback stand-in for api.twilio.com, and Twilio callbacks."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest
from loopback_http import DROP, HANG, LoopbackHttp, Received, Reply, json_reply, refused_url

from smscast.channels.base import (
    LogEntry,
    OutgoingMessage,
    ReportState,
    SubmitOutcome,
)
from smscast.channels.providers.twilio import (
    TwilioConnector,
    TwilioSettings,
    check_twilio_signature,
    parse_twilio_inbound,
    parse_twilio_status_callback,
    twilio_signature,
    verify_twilio_signature,
)
from smscast.channels.providers.webhooks import WebhookRejected

SID = "AC0123456789abcdef0123456789abcdef"
TOKEN = "tw-auth-token-0123456789"
CALLBACK = "https://smscast.example/hooks/twilio/status"


def settings(base_url: str, **overrides: object) -> TwilioSettings:
    values: dict[str, object] = {
        "name": "tw",
        "base_url": base_url,
        "account_sid": SID,
        "auth_token": TOKEN,
        "sender": "+15005550006",
        "status_callback_url": CALLBACK,
        "rate": 0,
        "timeout_s": 10.0,  # a busy machine is slow to accept; the hanging test sets its own
    }
    values.update(overrides)
    return TwilioSettings(**values)  # type: ignore[arg-type]


def created(sid: str) -> Reply:
    return json_reply(201, json.dumps({"sid": sid, "status": "queued"}))


@asynccontextmanager
async def twilio(
    handler, **overrides: object
) -> AsyncIterator[tuple[TwilioConnector, LoopbackHttp]]:
    async with LoopbackHttp(handler) as server:
        connector = TwilioConnector(settings(server.url, **overrides))
        await connector.start()
        try:
            yield connector, server
        finally:
            await connector.stop()


def message(ref: int = 1, **kw: object) -> OutgoingMessage:
    values: dict[str, object] = {
        "ref": ref,
        "sender": "",
        "recipient": "+48500100200",
        "text": "Hi",
    }
    values.update(kw)
    return OutgoingMessage(**values)  # type: ignore[arg-type]


async def drain_logs(connector: TwilioConnector) -> list[LogEntry]:
    await connector.stop()
    return [event async for event in connector.events() if isinstance(event, LogEntry)]


async def test_a_message_is_posted_form_encoded_with_basic_auth_and_accepted_with_its_sid() -> None:
    async with twilio(lambda r: created("SM111")) as (connector, server):
        (result,) = await connector.send([message(7, text="Zażółć gęślą jaźń")])
    assert result.ref == 7
    assert result.outcome is SubmitOutcome.ACCEPTED
    assert result.carrier_ids == ("SM111",)
    (request,) = server.received
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    scheme, encoded = request.headers["authorization"].split(" ")
    assert scheme == "Basic" and base64.b64decode(encoded).decode() == f"{SID}:{TOKEN}"
    assert request.form == {
        "To": "+48500100200",
        "From": "+15005550006",
        "Body": "Zażółć gęślą jaźń",
        "StatusCallback": CALLBACK,
    }


async def test_own_sender_and_validity_are_sent_and_no_callback_when_no_report_wanted() -> None:
    until = datetime.now(UTC) + timedelta(hours=1)
    async with twilio(lambda r: created("SM1")) as (connector, server):
        await connector.send([message(sender="ACME", want_report=False, valid_until=until)])
    form = server.received[0].form
    assert form["From"] == "ACME"
    assert "StatusCallback" not in form
    assert 3500 <= int(form["ValidityPeriod"]) <= 3600


async def test_throttling_is_temporary_with_the_carriers_retry_after() -> None:
    reply = json_reply(
        429, '{"code": 20429, "message": "Too Many Requests"}', **{"Retry-After": "7"}
    )
    async with twilio(lambda r: reply) as (connector, _):
        (result,) = await connector.send([message()])
    assert result.outcome is SubmitOutcome.TEMPORARY
    assert result.retry_after == 7.0


async def test_a_server_error_is_temporary() -> None:
    async with twilio(lambda r: json_reply(503, "{}")) as (connector, _):
        (result,) = await connector.send([message()])
    assert result.outcome is SubmitOutcome.TEMPORARY
    assert result.error_code == "503"


async def test_a_twilio_error_code_is_permanent_and_named() -> None:
    body = json.dumps(
        {
            "code": 21211,
            "message": "The 'To' number +4850 is not a valid phone number.",
            "status": 400,
        }
    )
    async with twilio(lambda r: json_reply(400, body)) as (connector, _):
        (result,) = await connector.send([message()])
    assert result.outcome is SubmitOutcome.PERMANENT
    assert result.error_code == "21211"
    assert result.error is not None
    assert "21211" in result.error and "not a valid phone number" in result.error


async def test_refused_credentials_keep_the_message_and_show_on_the_connector() -> None:
    body = '{"code": 20003, "message": "Authenticate", "status": 401}'
    async with twilio(lambda r: json_reply(401, body)) as (connector, _):
        (result,) = await connector.send([message()])
        state = connector.state()
    assert result.outcome is SubmitOutcome.TEMPORARY
    assert not state.connected
    assert "credentials" in state.detail


async def test_no_answer_after_the_request_was_written_is_unknown() -> None:
    async with twilio(lambda r: HANG, timeout_s=0.2) as (connector, server):
        (result,) = await connector.send([message()])
    assert len(server.received) == 1  # Twilio got it: it may well send it
    assert result.outcome is SubmitOutcome.UNKNOWN


async def test_a_connection_dropped_without_an_answer_is_unknown() -> None:
    async with twilio(lambda r: DROP) as (connector, _):
        (result,) = await connector.send([message()])
    assert result.outcome is SubmitOutcome.UNKNOWN


async def test_a_refused_connection_is_temporary() -> None:
    connector = TwilioConnector(settings(refused_url()))
    await connector.start()
    (result,) = await connector.send([message()])
    await connector.stop()
    assert result.outcome is SubmitOutcome.TEMPORARY
    assert "could not connect" in (result.error or "")


async def test_each_message_gets_its_own_outcome_in_batch_order() -> None:
    def handler(request: Received) -> Reply:
        if request.form["To"] == "+48500000002":
            return json_reply(400, '{"code": 21610, "message": "unsubscribed recipient"}')
        return created("SM" + request.form["To"][-1])

    batch = [message(ref, recipient=f"+4850000000{ref}") for ref in (1, 2, 3)]
    async with twilio(handler) as (connector, _):
        results = await connector.send(batch)
    assert [r.ref for r in results] == [1, 2, 3]
    assert [r.outcome for r in results] == [
        SubmitOutcome.ACCEPTED,
        SubmitOutcome.PERMANENT,
        SubmitOutcome.ACCEPTED,
    ]
    assert results[2].carrier_ids == ("SM3",)


async def test_no_more_requests_are_in_flight_than_the_connector_allows() -> None:
    batch = [message(ref) for ref in range(1, 9)]
    async with twilio(lambda r: created("SM1"), concurrency=2) as (connector, server):
        results = await connector.send(batch)
    assert len(server.received) == 8
    assert all(r.outcome is SubmitOutcome.ACCEPTED for r in results)
    assert server.connections <= 2  # unbounded, eight requests would open eight


async def test_messages_that_cannot_be_sent_fail_alone_and_say_why() -> None:
    batch = [message(1, sender="ACME", text="bell\x07"), message(2), message(3, sender="ACME")]
    async with twilio(lambda r: created("SM3"), sender="") as (connector, server):
        results = await connector.send(batch)
    assert [r.outcome for r in results] == [
        SubmitOutcome.PERMANENT,
        SubmitOutcome.PERMANENT,
        SubmitOutcome.ACCEPTED,
    ]
    assert "character 5" in (results[0].error or "")
    assert "no sender" in (results[1].error or "")
    assert [r.form["From"] for r in server.received] == ["ACME"]


async def test_every_exchange_is_logged_without_the_auth_token() -> None:
    async with twilio(lambda r: created("SM9")) as (connector, _):
        await connector.send([message(41), message(42)])
        logs = await drain_logs(connector)
    assert sorted(entry.refs for entry in logs) == [(41,), (42,)]
    for entry in logs:
        assert entry.connector == "tw" and entry.kind == "submit"
        assert TOKEN not in entry.request and TOKEN not in entry.response
        assert "Basic [redacted]" in entry.request
        assert "HTTP 201" in entry.response and "SM9" in entry.response


async def test_a_message_past_its_validity_fails_without_a_request() -> None:
    async with twilio(lambda r: created("SM1")) as (connector, server):
        (result,) = await connector.send([message(valid_until=datetime.now(UTC) - timedelta(1))])
    assert result.outcome is SubmitOutcome.PERMANENT
    assert server.received == []


async def test_stopping_waits_for_messages_still_paced_by_the_rate_limit() -> None:
    async with twilio(lambda r: created("SM1"), rate=20) as (connector, server):
        sending = asyncio.create_task(connector.send([message(ref) for ref in range(1, 4)]))
        while not server.received:
            await asyncio.sleep(0.01)
        await connector.stop()
        results = await sending
    assert [r.outcome for r in results] == [SubmitOutcome.ACCEPTED] * 3
    assert len(server.received) == 3


async def test_a_stopped_connector_takes_no_work_and_ends_its_events() -> None:
    async with twilio(lambda r: created("SM1")) as (connector, server):
        await connector.stop()
        (result,) = await connector.send([message()])
        assert [event async for event in connector.events()] == []
    assert result.outcome is SubmitOutcome.TEMPORARY
    assert server.received == []


# -- signatures: the worked example of Twilio's webhook security documentation -------

DOC_TOKEN = "12345"
DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"


def doc_params(number: str) -> dict[str, str]:
    return {
        "CallSid": "CA1234567890ABCDE",
        "Caller": number,
        "Digits": "1234",
        "From": number,
        "To": "+18005551212",
    }


@pytest.mark.parametrize(
    ("number", "signature"),
    [
        ("+14158675310", "GvWf1cFY/Q7PnoempGyD5oXAezc="),  # the current docs page
        ("+14158675309", "RSOYDt4T1cUTdK1PDd93/VVr8B8="),  # Twilio's SDK test suites
    ],
)
def test_twilios_documented_signatures_verify(number: str, signature: str) -> None:
    assert twilio_signature(DOC_TOKEN, DOC_URL, doc_params(number)) == signature
    assert verify_twilio_signature(DOC_TOKEN, DOC_URL, doc_params(number), signature)
    reordered = list(reversed(doc_params(number).items()))
    assert verify_twilio_signature(DOC_TOKEN, DOC_URL, reordered, signature)


def test_forged_or_tampered_callbacks_fail_verification() -> None:
    good = "GvWf1cFY/Q7PnoempGyD5oXAezc="
    params = doc_params("+14158675310")
    assert not verify_twilio_signature(DOC_TOKEN, DOC_URL, params, "GvWf1cFY/Q7PnoempGyD5oXAezd=")
    assert not verify_twilio_signature(DOC_TOKEN, DOC_URL, {**params, "Digits": "9999"}, good)
    assert not verify_twilio_signature(DOC_TOKEN, DOC_URL + "&x=1", params, good)
    assert not verify_twilio_signature("54321", DOC_URL, params, good)
    assert not verify_twilio_signature(DOC_TOKEN, DOC_URL, params, "")


def test_a_forged_callback_is_rejected_with_the_reason() -> None:
    with pytest.raises(WebhookRejected) as forged:
        check_twilio_signature(TOKEN, CALLBACK, {"MessageSid": "SM1"}, "bm90IGEgc2lnbmF0dXJl")
    assert forged.value.status == 403
    assert "does not match" in forged.value.reason
    with pytest.raises(WebhookRejected) as unsigned:
        check_twilio_signature(TOKEN, CALLBACK, {"MessageSid": "SM1"}, None)
    assert "no X-Twilio-Signature" in unsigned.value.reason


def test_a_genuine_callback_passes() -> None:
    form = {"MessageSid": "SM1", "MessageStatus": "delivered"}
    check_twilio_signature(TOKEN, CALLBACK, form, twilio_signature(TOKEN, CALLBACK, form))


# -- callbacks -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("delivered", ReportState.DELIVERED),
        ("undelivered", ReportState.UNDELIVERED),
        ("failed", ReportState.REJECTED),
        ("sent", ReportState.ACCEPTED),
        ("queued", ReportState.ACCEPTED),
        ("something-new", ReportState.UNKNOWN),
    ],
)
def test_status_callbacks_become_delivery_reports(status: str, state: ReportState) -> None:
    report = parse_twilio_status_callback(
        {"MessageSid": "SM5", "MessageStatus": status, "AccountSid": SID, "To": "+48500100200"}
    )
    assert report.carrier_id == "SM5"
    assert report.state is state
    assert "MessageStatus=" + status in report.raw


def test_an_undelivered_callback_carries_twilios_error_code() -> None:
    report = parse_twilio_status_callback(
        {"MessageSid": "SM5", "MessageStatus": "undelivered", "ErrorCode": "30003"}
    )
    assert report.error_code == "30003"


def test_a_status_callback_without_a_message_sid_is_rejected() -> None:
    with pytest.raises(WebhookRejected, match="MessageSid"):
        parse_twilio_status_callback({"MessageStatus": "delivered"})


def test_an_inbound_webhook_becomes_an_inbound_message() -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    inbound = parse_twilio_inbound(
        {
            "MessageSid": "SM77",
            "From": "+48500100200",
            "To": "+15005550006",
            "Body": "STOP",
            "NumSegments": "1",
        },
        now,
    )
    assert (inbound.sender, inbound.recipient, inbound.text) == (
        "+48500100200",
        "+15005550006",
        "STOP",
    )
    assert inbound.carrier_ids == ("SM77",) and inbound.received_at == now and inbound.parts == 1


def test_an_inbound_webhook_without_a_sender_is_rejected() -> None:
    with pytest.raises(WebhookRejected, match="'From'"):
        parse_twilio_inbound({"MessageSid": "SM1", "To": "+1", "Body": "x"}, datetime.now(UTC))
