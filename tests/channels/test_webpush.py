"""The webpush connector against the loopback push service: a browser's keys made here,
the payload decrypted here with them, as only that browser could."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import http_ece
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from smscast.channels.base import (
    AddressGone,
    ChannelEvent,
    GoneReason,
    LogEntry,
    OutgoingMessage,
    SubmitOutcome,
)
from smscast.channels.push import KINDS
from smscast.channels.push.vapid import b64url, generate_vapid_keys, public_key_text
from smscast.channels.push.webpush import (
    WebPushConnector,
    WebPushSettings,
    endpoint_refusal,
)
from smscast.channels.simulator.push import PushFake, start_push_fake

NOW = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)
KEYS = generate_vapid_keys()


class Browser:
    """What PushManager.subscribe makes in a browser: a P-256 key pair and a 16-byte secret."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)

    def subscription(self) -> dict[str, str]:
        return {"endpoint": self.endpoint, "p256dh": public_key_text(self.key.public_key()),
                "auth": b64url(self.auth)}  # fmt: skip

    def read(self, body: bytes) -> dict[str, object]:
        plain = http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth,
                                 version="aes128gcm")  # fmt: skip
        document: dict[str, object] = json.loads(plain)
        return document


def settings(**changes: object) -> WebPushSettings:
    values: dict[str, object] = {
        "name": "web", "vapid_private_key": KEYS.private, "vapid_public": KEYS.public,
        "subject": "mailto:push@example.com", "endpoint_hosts": "127.0.0.1", "rate": 0,
        "concurrency": 4,
    }  # fmt: skip
    values.update(changes)
    return WebPushSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def fake() -> AsyncIterator[PushFake]:
    running = await start_push_fake(vapid_public=KEYS.public, clock=lambda: NOW)
    yield running
    await running.close()


@pytest.fixture
async def connector() -> AsyncIterator[WebPushConnector]:
    running = WebPushConnector(settings(), clock=lambda: NOW)
    await running.start()
    yield running
    await running.stop()


def push(
    ref: int, browser: Browser, text: str = "20% off today", **extras: object
) -> OutgoingMessage:
    return OutgoingMessage(ref=ref, sender="", recipient=str(ref * 10), text=text, channel="push",
                           extras={"subscription": browser.subscription(), **extras})  # fmt: skip


async def drain(connector: WebPushConnector) -> list[ChannelEvent]:
    await connector.stop()
    return [event async for event in connector.events()]


async def test_the_browser_decrypts_title_body_link_and_ref(
    fake: PushFake, connector: WebPushConnector
) -> None:
    browser = Browser(fake.subscribe())
    message = push(
        7, browser, "Żółta kartka: 20% taniej", title="ACME", url="https://acme.example/s"
    )
    [result] = await connector.send([message])
    assert result.outcome == SubmitOutcome.ACCEPTED, result
    assert result.carrier_ids == (f"{fake.url}/message/1",)
    [received] = fake.received_for(browser.endpoint)
    assert browser.read(received.body) == {
        "title": "ACME", "body": "Żółta kartka: 20% taniej", "url": "https://acme.example/s",
        "ref": 7,
    }  # fmt: skip
    assert received.claims["aud"] == fake.url
    assert received.claims["sub"] == "mailto:push@example.com"
    assert received.claims["exp"] == int((NOW + timedelta(hours=12)).timestamp())
    assert received.ttl == 86_400 and received.urgency == "normal"
    # Another browser cannot read it: the body is for this subscription's keys alone.
    with pytest.raises(http_ece.ECEException):
        Browser(browser.endpoint).read(received.body)


async def test_validity_shortens_the_ttl_and_urgency_is_passed(
    fake: PushFake, connector: WebPushConnector
) -> None:
    browser = Browser(fake.subscribe())
    message = OutgoingMessage(
        ref=1, sender="", recipient="1", text="flash sale", channel="push",
        valid_until=NOW + timedelta(minutes=30),
        extras={"subscription": browser.subscription(), "urgency": "high"},
    )  # fmt: skip
    [result] = await connector.send([message])
    assert result.outcome == SubmitOutcome.ACCEPTED
    [received] = fake.received
    assert (received.ttl, received.urgency) == (1800, "high")


async def test_an_expired_subscription_fails_for_good_and_is_reported_gone(
    fake: PushFake, connector: WebPushConnector
) -> None:
    alive, gone = Browser(fake.subscribe()), Browser(fake.subscribe())
    fake.expire(gone.endpoint)
    results = await connector.send([push(1, alive), push(2, gone)])
    assert [r.outcome for r in results] == [SubmitOutcome.ACCEPTED, SubmitOutcome.PERMANENT]
    assert results[1].error_code == "gone"
    events = await drain(connector)
    [event] = [e for e in events if isinstance(e, AddressGone)]
    assert (event.channel, event.address, event.reason, event.ref) == (
        "push", "20", GoneReason.GONE, 2,
    )  # fmt: skip
    assert len(fake.received) == 1


async def test_the_connector_log_shows_the_exchange_without_keys(
    fake: PushFake, connector: WebPushConnector
) -> None:
    browser = Browser(fake.subscribe())
    await connector.send([push(3, browser, "hello")])
    [entry] = [e for e in await drain(connector) if isinstance(e, LogEntry)]
    assert entry.refs == (3,) and entry.error is None
    assert f"POST {browser.endpoint}" in entry.request
    assert "authorization: vapid [redacted]" in entry.request.lower()
    assert '"body":"hello"' in entry.request and "HTTP 201" in entry.response
    assert KEYS.private not in entry.request and "t=ey" not in entry.request


async def test_a_key_the_subscription_was_not_made_with_is_refused(fake: PushFake) -> None:
    other = generate_vapid_keys()
    connector = WebPushConnector(
        settings(vapid_private_key=other.private, vapid_public=other.public), clock=lambda: NOW
    )
    await connector.start()
    [result] = await connector.send([push(1, Browser(fake.subscribe()))])
    await connector.stop()
    assert result.outcome == SubmitOutcome.PERMANENT and result.error_code == "403"
    assert fake.refused == [(403, "the VAPID key is not the one the subscription was made with")]


async def test_throttling_and_server_errors_are_tried_again_after_retry_after() -> None:
    import httpx

    answers = iter([httpx.Response(429, headers={"Retry-After": "30"}), httpx.Response(503)])
    transport = httpx.MockTransport(lambda request: next(answers))
    connector = WebPushConnector(settings(endpoint_hosts="fcm.googleapis.com"),
                                 transport=transport, clock=lambda: NOW)  # fmt: skip
    await connector.start()
    browser = Browser("https://fcm.googleapis.com/fcm/send/abc")
    first = await connector.send([push(1, browser)])
    second = await connector.send([push(2, browser)])
    await connector.stop()
    assert (first[0].outcome, first[0].retry_after) == (SubmitOutcome.TEMPORARY, 30.0)
    assert second[0].outcome == SubmitOutcome.TEMPORARY and second[0].error_code == "503"


async def test_endpoints_outside_the_push_services_are_never_called(
    connector: WebPushConnector,
) -> None:
    inside = Browser("http://10.0.0.5:8080/admin")
    [result] = await connector.send([push(1, inside)])
    assert result.outcome == SubmitOutcome.PERMANENT and "not https" in (result.error or "")
    hosts = "fcm.googleapis.com,notify.windows.com"
    assert endpoint_refusal("https://fcm.googleapis.com/fcm/send/x", hosts) is None
    assert endpoint_refusal("https://wns2-by3p.notify.windows.com/w/?token=x", hosts) is None
    assert "not a push service" in (endpoint_refusal("https://evil-fcm.googleapis.com.example/x",
                                                     hosts) or "")  # fmt: skip
    assert endpoint_refusal("https://intranet.local/x", "*") is None
    assert endpoint_refusal("http://fcm.googleapis.com/x", hosts) == "the endpoint is not https"


async def test_a_message_without_a_subscription_or_too_long_is_refused_before_sending(
    fake: PushFake, connector: WebPushConnector
) -> None:
    browser = Browser(fake.subscribe())
    orphan = OutgoingMessage(ref=1, sender="", recipient="9", text="hi", channel="push",
                             extras={"subscription": {}})  # fmt: skip
    results = await connector.send([orphan, push(2, browser, "x" * 4000)])
    assert [r.outcome for r in results] == [SubmitOutcome.PERMANENT] * 2
    assert "too long" in (results[1].error or "") or "at most" in (results[1].error or "")
    assert fake.received == []


def test_a_connector_without_vapid_settings_names_them_and_how_to_make_them() -> None:
    settings_class, _ = KINDS["webpush"]
    with pytest.raises(ValueError) as error:
        settings_class(name="web", rate=10.0, concurrency=4)
    text = str(error.value)
    assert "vapid_private_key, vapid_public, subject" in text
    assert "python -m smscast.channels.push --generate-keys" in text
    other = generate_vapid_keys()
    with pytest.raises(ValueError, match="not the public key"):
        settings(vapid_public=other.public)
    with pytest.raises(ValueError, match="mailto"):
        settings(subject="push@example.com")


def test_a_pem_private_key_is_taken_as_well() -> None:
    from cryptography.hazmat.primitives import serialization

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()  # fmt: skip
    made = settings(vapid_private_key=pem, vapid_public=public_key_text(key.public_key()))
    assert made.vapid_private_key == pem
