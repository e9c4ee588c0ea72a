"""Message status changes as webhook events and as posts to the send API's callback URL.

The real path: `POST /api/v1/messages` → outbox → dispatcher → SMPP → the simulator →
delivery reports; then the webhook worker's round posts to loopback receivers.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from api_checks import problem_of
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from webhook_receiver import Receiver, webhook_receiver

from smscast.api.app import create_app
from smscast.channels.base import SubmitOutcome, SubmitResult
from smscast.channels.simulator import SimulatorConfig, start_simulator
from smscast.config import Settings
from smscast.core.webhook_signing import verify_signature_header
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.delivery.reports import expire_silent
from smscast.engine.inbound.numbers import add_number
from smscast.engine.runtime import Runtime
from smscast.engine.sending.connectors import add_connector
from smscast.engine.sending.leases import take_lease
from smscast.engine.sending.outbox import RetryPolicy, claim_due, mark_interrupted, record_results
from smscast.engine.tally import Tally
from smscast.engine.webhooks.endpoints import deliveries
from smscast.engine.webhooks.sender import deliver_due_webhooks
from smscast.store.messaging_models import Message
from smscast.store.models import table_of

messages = table_of(Message)
FINAL = {"delivered", "undelivered", "failed", "expired"}


@pytest.fixture
def open_settings(api_settings: Settings) -> Settings:
    """Private addresses allowed, so loopback receivers can be used."""
    return api_settings.model_copy(update={"webhook_allow_private": True})


@pytest.fixture
def owner(open_settings: Settings, engine: Engine, make_key: Any) -> TestClient:
    client = TestClient(create_app(open_settings, engine), raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {make_key('owner')}"
    return client


def _connector(engine: Engine, workspace: WorkspaceRef, port: int, now: datetime) -> int:
    row = add_connector(engine, workspace, name="sim", kind="smpp",
                        settings={"host": "127.0.0.1", "port": port, "system_id": "smscast"},
                        rate_per_s=0, window=20, actor="t", now=now)  # fmt: skip
    add_number(engine, workspace, "4000", connector="sim", actor="t", now=now)
    return row.id


def _statuses(engine: Engine) -> dict[int, str]:
    with engine.connect() as conn:
        return dict(conn.execute(select(messages.c.id, messages.c.status)).all())  # type: ignore[arg-type]


async def _dispatch(engine: Engine, settings: Settings, sim_config: SimulatorConfig,
                    workspace: WorkspaceRef, now: datetime, send: Any) -> list[int]:  # fmt: skip
    """Runs the runtime against the simulator until what `send` queued is final."""
    sim = await start_simulator(sim_config)
    _connector(engine, workspace, sim.port, now)
    ids: list[int] = send()
    runtime = Runtime(engine, settings, worker="w1")
    running = asyncio.create_task(runtime.run())
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while not set(_statuses(engine).values()) <= FINAL:
            assert loop.time() < deadline, f"messages not final: {_statuses(engine)}"
            await asyncio.sleep(0.05)
    finally:
        runtime.stop()
        await running
        await sim.close()
    return ids


def _received(receiver: Receiver, secret: str, at: datetime) -> list[dict[str, Any]]:
    events = []
    for headers, body in receiver.posts:
        assert verify_signature_header(secret, headers["Smscast-Signature"], body,
                                       int(at.timestamp()))  # fmt: skip
        events.append(json.loads(body))
    return events


def _deliver_all(engine: Engine, settings: Settings) -> datetime:
    at = datetime.now(UTC) + timedelta(days=3)  # after every event of the test
    with httpx.Client() as http:
        while deliver_due_webhooks(engine, settings, http, at):
            pass
    return at


def _sim(**overrides: float) -> SimulatorConfig:
    values: dict[str, Any] = {
        "port": 0, "http_port": None, "dlr_delay": 0.05, "delivered": 1.0,
        "undeliverable": 0.0, "expired": 0.0, "rejected": 0.0, "seed": 7,
    }  # fmt: skip
    values.update(overrides)
    return SimulatorConfig(**values)


@pytest.mark.parametrize(
    ("sim", "final"),
    [(_sim(), "delivered"), (_sim(delivered=0.0, undeliverable=1.0), "undelivered")],
    ids=["delivered", "undelivered"],
)
async def test_status_changes_reach_subscribers_and_the_callback_url(
    owner: TestClient, engine: Engine, open_settings: Settings, workspace: WorkspaceRef,
    now: datetime, sim: SimulatorConfig, final: str,
) -> None:  # fmt: skip
    with webhook_receiver() as subscriber, webhook_receiver() as callback:
        made = owner.post("/api/v1/webhooks", json={"url": subscriber.url, "events": [
            "message.sent", "message.delivered", "message.undelivered"]})  # fmt: skip
        assert made.status_code == 201, made.text
        callback_secret = owner.get("/api/v1/webhooks/callback-secret").json()["secret"]

        def send() -> list[int]:
            first = owner.post("/api/v1/messages", json={
                "to": "+48600100200", "body": "Your order has shipped",
                "callback_url": callback.url})  # fmt: skip
            assert first.status_code == 202, first.text
            assert first.json()["callback_url"] == callback.url
            second = owner.post("/api/v1/messages", json={"to": "+48600100300", "body": "Hi"})
            return [first.json()["id"], second.json()["id"]]

        with_callback, without = await _dispatch(engine, open_settings, sim, workspace, now, send)
        at = _deliver_all(engine, open_settings)
        heard = _received(subscriber, made.json()["secret"], at)
        called = _received(callback, callback_secret, at)
    assert sorted((e["type"], e["data"]["message_id"]) for e in heard) == sorted(
        [("message.sent", with_callback), (f"message.{final}", with_callback),
         ("message.sent", without), (f"message.{final}", without)]
    )  # fmt: skip
    assert [(e["type"], e["data"]["status"], e["data"]["to"]) for e in called] == [
        ("message.sent", "sent", "+48600100200"),
        (f"message.{final}", final, "+48600100200"),
    ]
    log = owner.get(f"/api/v1/messages/{with_callback}/callbacks").json()["items"]
    assert [(d["event"], d["status"]) for d in log] == [
        (f"message.{final}", "delivered"), ("message.sent", "delivered")
    ]  # fmt: skip
    assert owner.get(f"/api/v1/messages/{without}/callbacks").json()["items"] == []
    listed = owner.get("/api/v1/webhooks").json()["items"]
    assert [w["url"] for w in listed] == [subscriber.url]  # the callback is no subscription


async def test_without_a_subscriber_or_callback_nothing_is_queued(
    owner: TestClient, engine: Engine, open_settings: Settings, workspace: WorkspaceRef,
    now: datetime,
) -> None:  # fmt: skip
    with webhook_receiver() as other:
        owner.post("/api/v1/webhooks", json={"url": other.url, "events": ["ticket.created"]})

        def send() -> list[int]:
            return [owner.post("/api/v1/messages", json={"to": f"+4860010{i:04d}",
                                                         "body": "Hi"}).json()["id"]
                    for i in range(5)]  # fmt: skip

        await _dispatch(engine, open_settings, _sim(), workspace, now, send)
    assert set(_statuses(engine).values()) == {"delivered"}
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(deliveries)).scalar_one() == 0


def test_failed_unknown_and_expired_reach_the_callback(
    owner: TestClient, engine: Engine, open_settings: Settings, workspace: WorkspaceRef,
    now: datetime,
) -> None:  # fmt: skip
    connector_id = _connector(engine, workspace, 2775, now)
    now = datetime.now(UTC) + timedelta(seconds=30)  # the API queues with the real clock
    with webhook_receiver() as callback:
        ids = [owner.post("/api/v1/messages", json={
            "to": f"+4860010{i:04d}", "body": "Hi", "callback_url": callback.url,
            "valid_until": (now + timedelta(minutes=1)).isoformat()}).json()["id"]
            for i in range(4)]  # fmt: skip
        with engine.begin() as conn:
            assert take_lease(conn, connector_id, "w1", now, 60)
            claimed = {
                m.id: m
                for m in claim_due(
                    conn,
                    connector_id=connector_id,
                    worker="w1",
                    now=now,
                    limit=4,
                    validity=timedelta(hours=1),
                )
            }
            record_results(conn, connector_id=connector_id, worker="w1", claimed=claimed,
                           results=[
                               SubmitResult(ids[0], SubmitOutcome.PERMANENT, (), "ESME_RINVDSTADR",
                                            "bad number"),
                               SubmitResult(ids[1], SubmitOutcome.ACCEPTED, ("c1",)),
                           ], now=now, retry=RetryPolicy(5, 300), tally=Tally())  # fmt: skip
            assert mark_interrupted(conn, connector_id, now) == ids[2:]
        with engine.begin() as conn:  # the accepted one gets no report before its validity ends
            assert expire_silent(conn, now + timedelta(minutes=2), timedelta(hours=72)) == 1
        at = _deliver_all(engine, open_settings)
        secret = owner.get("/api/v1/webhooks/callback-secret").json()["secret"]
        called = _received(callback, secret, at)
    assert sorted((e["data"]["message_id"], e["type"]) for e in called) == [
        (ids[0], "message.failed"), (ids[1], "message.expired"), (ids[1], "message.sent"),
        (ids[2], "message.unknown"), (ids[3], "message.unknown"),
    ]  # fmt: skip
    [failed] = [e["data"] for e in called if e["type"] == "message.failed"]
    assert (failed["error_code"], failed["error"]) == ("ESME_RINVDSTADR", "bad number")


def test_a_callback_url_to_an_internal_address_is_refused(
    app: FastAPI, make_key: Any, engine: Engine
) -> None:
    client = TestClient(app, raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {make_key('owner')}"
    sent = {"to": "+48600100200", "body": "Hi", "callback_url": "http://169.254.169.254/latest"}
    response = client.post("/api/v1/messages", json=sent)
    body = problem_of(response, 422)
    assert (body["code"], body["field"]) == ("unsafe_url", "callback_url")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(messages)).scalar_one() == 0
