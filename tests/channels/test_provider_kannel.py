"""Kannel connector against a loopback sendsms server, and Kannel's dlr-url callbacks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from loopback_http import LoopbackHttp, Received, Reply, text_reply

from smscast.channels.base import LogEntry, OutgoingMessage, ReportState, SubmitOutcome
from smscast.channels.providers.kannel import (
    KannelConnector,
    KannelSettings,
    check_kannel_dlr,
    parse_kannel_dlr,
)
from smscast.channels.providers.webhooks import WebhookRejected, message_token

PASSWORD = "kannel-pass-0123"
DLR_SECRET = "dlr-secret-abcdef"
DLR_BASE = "https://smscast.example/hooks/kannel/dlr"


def settings(base_url: str, **overrides: object) -> KannelSettings:
    values: dict[str, object] = {
        "name": "kn",
        "base_url": base_url,
        "username": "smscast",
        "password": PASSWORD,
        "sender": "1234",
        "dlr_url": DLR_BASE,
        "dlr_secret": DLR_SECRET,
        "rate": 0,
    }
    values.update(overrides)
    return KannelSettings(**values)  # type: ignore[arg-type]


def accepted(request: Received) -> Reply:
    return text_reply(202, "0: Accepted for delivery")


@asynccontextmanager
async def kannel(
    handler, **overrides: object
) -> AsyncIterator[tuple[KannelConnector, LoopbackHttp]]:
    async with LoopbackHttp(handler) as server:
        connector = KannelConnector(settings(server.url, **overrides))
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


async def test_a_message_is_a_sendsms_get_with_a_per_message_dlr_url() -> None:
    async with kannel(accepted) as (connector, server):
        (result,) = await connector.send([message(5, text="Hello [world]")])
    assert result.outcome is SubmitOutcome.ACCEPTED and result.ref == 5
    (request,) = server.received
    assert request.method == "GET" and request.path == "/cgi-bin/sendsms"
    query = dict(request.query)
    dlr_url = query.pop("dlr-url")
    assert query == {
        "username": "smscast",
        "password": PASSWORD,
        "from": "1234",
        "to": "+48500100200",
        "text": "Hello [world]",
        "charset": "UTF-8",
        "coding": "0",
        "dlr-mask": "31",
    }
    assert dlr_url.startswith(DLR_BASE + "?ref=5&token=")
    assert "type=%d" in dlr_url and "reply=%A" in dlr_url and "foreign=%F" in dlr_url


async def test_text_outside_gsm7_is_sent_as_ucs2() -> None:
    async with kannel(accepted) as (connector, server):
        await connector.send([message(text="Zażółć 😀")])
    assert server.received[0].query["coding"] == "2"
    assert server.received[0].query["text"] == "Zażółć 😀"


async def test_no_dlr_is_asked_for_when_none_is_wanted_and_the_smsc_route_is_passed() -> None:
    async with kannel(accepted, smsc="operator-a") as (connector, server):
        await connector.send([message(want_report=False)])
    query = server.received[0].query
    assert "dlr-url" not in query and "dlr-mask" not in query
    assert query["smsc"] == "operator-a"


async def test_queued_for_later_delivery_is_accepted() -> None:
    async with kannel(lambda r: text_reply(202, "3: Queued for later delivery")) as (connector, _):
        (result,) = await connector.send([message()])
    assert result.outcome is SubmitOutcome.ACCEPTED


async def test_a_kannel_refusal_is_permanent_with_kannels_text() -> None:
    reply = text_reply(400, "Sender missing and no global set, rejected")
    async with kannel(lambda r: reply) as (connector, _):
        (result,) = await connector.send([message()])
    assert result.outcome is SubmitOutcome.PERMANENT
    assert result.error == "Kannel: Sender missing and no global set, rejected"


async def test_wrong_credentials_keep_the_message() -> None:
    reply = text_reply(403, "Authorization failed for sendsms")
    async with kannel(lambda r: reply) as (connector, _):
        (result,) = await connector.send([message()])
    assert result.outcome is SubmitOutcome.TEMPORARY
    assert "Authorization failed" in (result.error or "")


async def test_kannel_unavailable_is_temporary() -> None:
    async with kannel(lambda r: text_reply(503, "Sendsms temporarily unavailable")) as (c, _):
        (result,) = await c.send([message()])
    assert result.outcome is SubmitOutcome.TEMPORARY


async def test_the_log_shows_the_request_without_password_or_dlr_token() -> None:
    async with kannel(accepted) as (connector, _):
        await connector.send([message(9)])
        await connector.stop()
        (entry,) = [e async for e in connector.events() if isinstance(e, LogEntry)]
    token = message_token(DLR_SECRET, "kn", 9)
    assert PASSWORD not in entry.request and token not in entry.request
    assert "username=smscast" in entry.request
    assert "HTTP 202" in entry.response and "Accepted for delivery" in entry.response
    assert entry.refs == (9,)


# -- dlr-url callbacks, as Kannel makes them -------------------------------------------


def kannel_fills(dlr_url: str, escapes: dict[str, str]) -> dict[str, str]:
    """Does what Kannel does with a dlr-url: URL-encodes each value into its escape code."""
    for code, value in escapes.items():
        dlr_url = dlr_url.replace(code, quote(value, safe=""))
    return dict(parse_qsl(urlsplit(dlr_url).query, keep_blank_values=True))


async def sent_dlr_url(ref: int) -> str:
    async with kannel(accepted) as (connector, server):
        await connector.send([message(ref)])
    return server.received[0].query["dlr-url"]


DELIVERED_RECEIPT = (
    "id:0a1b2c sub:001 dlvrd:001 submit date:2603011200 done date:2603011201 "
    "stat:DELIVRD err:000 text:Hi"
)


async def test_a_delivery_report_from_kannel_names_our_message() -> None:
    params = kannel_fills(
        await sent_dlr_url(31),
        {
            "%d": "1",
            "%A": DELIVERED_RECEIPT,
            "%i": "smsc-a",
            "%F": "0a1b2c",
            "%q": "+48500100200",
            "%T": "1772366460",
        },
    )
    report = parse_kannel_dlr(DLR_SECRET, "kn", params)
    assert report.ref == 31
    assert report.state is ReportState.DELIVERED
    assert report.carrier_id == "0a1b2c"
    assert report.error_code is None
    assert report.done_at == datetime.fromtimestamp(1772366460, UTC)
    assert "stat%3ADELIVRD" in report.raw and "token" not in report.raw


@pytest.mark.parametrize(
    ("kind", "reply", "state", "error_code"),
    [
        ("2", "id:1 stat:EXPIRED err:000", ReportState.EXPIRED, None),
        ("2", "id:1 stat:UNDELIV err:001", ReportState.UNDELIVERED, "001"),
        ("2", "id:1 stat:REJECTD err:00B", ReportState.REJECTED, "00B"),
        ("4", "", ReportState.ACCEPTED, None),
        ("8", "ACK/", ReportState.ACCEPTED, None),
        (
            "16",
            "NACK/0x00000045/Message submit failed",
            ReportState.REJECTED,
            "NACK/0x00000045/Message submit failed",
        ),
    ],
)
async def test_every_report_type_maps_to_a_state(
    kind: str, reply: str, state: ReportState, error_code: str | None
) -> None:
    params = kannel_fills(
        await sent_dlr_url(4), {"%d": kind, "%A": reply, "%i": "", "%F": "", "%q": "", "%T": ""}
    )
    report = parse_kannel_dlr(DLR_SECRET, "kn", params)
    assert (report.ref, report.state, report.error_code) == (4, state, error_code)


def genuine(ref: int) -> dict[str, str]:
    return {"ref": str(ref), "token": message_token(DLR_SECRET, "kn", ref), "type": "1"}


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({**genuine(3), "token": "0" * 32}, "wrong token for message 3"),
        ({**genuine(3), "ref": "4"}, "wrong token for message 4"),  # a token replayed
        ({k: v for k, v in genuine(3).items() if k != "token"}, "no token"),
        ({**genuine(3), "ref": "3; DROP"}, "not a message id"),
        ({"token": "x", "type": "1"}, "'ref' is missing"),
    ],
)
def test_forged_dlr_callbacks_are_rejected_with_the_reason(
    params: dict[str, str], reason: str
) -> None:
    with pytest.raises(WebhookRejected) as rejected:
        parse_kannel_dlr(DLR_SECRET, "kn", params)
    assert reason in rejected.value.reason
    assert rejected.value.status == 403


def test_a_token_from_another_connector_or_secret_does_not_pass() -> None:
    with pytest.raises(WebhookRejected):
        check_kannel_dlr(DLR_SECRET, "other-connector", genuine(3))
    with pytest.raises(WebhookRejected):
        check_kannel_dlr("another-secret", "kn", genuine(3))
    assert check_kannel_dlr(DLR_SECRET, "kn", genuine(3)) == 3


def test_a_dlr_with_a_type_kannel_never_sends_is_rejected() -> None:
    with pytest.raises(WebhookRejected, match="not a Kannel report type"):
        parse_kannel_dlr(DLR_SECRET, "kn", {**genuine(3), "type": "3"})
