"""WhatsApp callbacks end to end over real sockets: our connector sends to the simulator's
fake of the provider's API, the fake posts its signed webhooks to the API served by
uvicorn on loopback, and the message, its reports and the inbound text land in the
database; a forged webhook gets 403 and a line in the connector log."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine, select

from smscast.channels.base import OutgoingMessage, SubmitOutcome
from smscast.channels.simulator.whatsapp import WhatsAppFakeConfig, start_whatsapp_fake
from smscast.channels.whatsapp.webhooks import cloud_signature
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.inbound.numbers import add_number
from smscast.engine.sending.connectors import (
    ConnectorRow,
    add_connector,
    build_connector,
)
from smscast.engine.sending.leases import take_lease
from smscast.engine.sending.outbox import RetryPolicy, claim_due, enqueue_messages, record_results
from smscast.engine.tally import Tally
from smscast.store.messaging_models import ConnectorLogRow, DeliveryReportRow, Message
from smscast.store.models import table_of

APP_SECRET = "meta-app-secret-0123456789"
TOKEN = "EAAG-access-token-0123456789"
PHONE_ID = "106540352242922"
OURS = "+48500100200"
IB_SECRET = "infobip-push-secret"
IB_KEY = "infobip-api-key-0123456789"
messages = table_of(Message)
reports = table_of(DeliveryReportRow)
log = table_of(ConnectorLogRow)


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """The app on a loopback port, as `smscast serve` runs it."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def cloud_connector(
    engine: Engine, workspace: WorkspaceRef, now: datetime, base: str
) -> ConnectorRow:
    row = add_connector(
        engine, workspace, name="wa-cloud", kind="whatsapp_cloud",
        settings={"base_url": base, "phone_number_id": PHONE_ID, "access_token": TOKEN,
                  "app_secret": APP_SECRET, "verify_token": "verify-me"},
        rate_per_s=0, window=4, actor="t", now=now,
    )  # fmt: skip
    add_number(engine, workspace, OURS, connector="wa-cloud", actor="t", now=now)
    return row


async def send_through(engine: Engine, row: ConnectorRow, workspace: WorkspaceRef,
                       recipients: list[str], at: datetime) -> dict[str, int]:  # fmt: skip
    """Queues a WhatsApp template to each recipient and sends them as the dispatcher does."""
    with engine.begin() as conn:
        ids = enqueue_messages(conn, [
            {"workspace_id": workspace.id, "phone": to, "body": "Hi Ann", "kind": "agent_reply",
             "created_at": at, "connector_id": row.id, "channel": "whatsapp",
             "payload": {"template": "promo", "language": "pl", "params": ["Ann"]}}
            for to in recipients
        ])  # fmt: skip
        assert take_lease(conn, row.id, "w1", at, 60)
        claimed = claim_due(conn, connector_id=row.id, worker="w1", now=at, limit=10,
                            validity=timedelta(hours=48))  # fmt: skip
    connector: Any = build_connector(row)
    await connector.start()
    outgoing = [
        OutgoingMessage(ref=m.id, sender=OURS, recipient=m.recipient, text=m.body,
                        channel=m.channel, extras=m.payload or {})
        for m in claimed
    ]  # fmt: skip
    results = await connector.send(outgoing)
    await connector.stop()
    assert [r.outcome for r in results] == [SubmitOutcome.ACCEPTED] * len(recipients)
    with engine.begin() as conn:
        record_results(conn, connector_id=row.id, worker="w1", claimed={m.id: m for m in claimed},
                       results=results, now=at, retry=RetryPolicy(), tally=Tally())  # fmt: skip
    return dict(zip(recipients, ids, strict=True))


def status_of(engine: Engine, message_id: int) -> tuple[str, str | None]:
    with engine.connect() as conn:
        row = conn.execute(select(messages).where(messages.c.id == message_id)).one()
    return row.status, row.error_code


def log_kinds(engine: Engine) -> list[tuple[str, str | None]]:
    with engine.connect() as conn:
        return [(r.kind, r.error) for r in conn.execute(select(log).order_by(log.c.id))]


async def test_cloud_statuses_deliver_the_message_and_fail_the_one_not_on_whatsapp(
    app: FastAPI, engine: Engine, workspace: WorkspaceRef
) -> None:
    # The API stamps callbacks with the real clock and ignores reports past the late
    # window, so the messages are sent around it: what matters is the order, not the time.
    at = datetime.now(UTC)
    async with served(app) as base:
        fake = await start_whatsapp_fake(WhatsAppFakeConfig(
            phone_number_id=PHONE_ID, access_token=TOKEN, app_secret=APP_SECRET,
            display_phone_number=OURS, not_on_whatsapp={"+48601234569"},
        ))  # fmt: skip
        try:
            row = cloud_connector(engine, workspace, at, fake.url)
            fake.config.cloud_callback_url = f"{base}/hooks/whatsapp_cloud/{row.id}"
            sent = await send_through(engine, row, workspace, ["+48601234567", "+48601234569"], at)
            await fake.settle()
        finally:
            await fake.close()
    assert [w.status for w in fake.webhooks] == [200] * 4, [w.error for w in fake.webhooks]
    assert status_of(engine, sent["+48601234567"]) == ("delivered", None)
    assert status_of(engine, sent["+48601234569"]) == ("undelivered", "131026")
    with engine.connect() as conn:
        states = sorted(r.state for r in conn.execute(select(reports)))
    assert states == ["accepted", "delivered", "delivered", "undelivered"]


async def test_a_forged_cloud_webhook_is_refused_and_logged(
    app: FastAPI, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    row = cloud_connector(engine, workspace, now, "http://127.0.0.1:9")
    status = {"id": "wamid.x", "status": "read"}
    value = {"metadata": {"phone_number_id": PHONE_ID}, "statuses": [status]}
    document = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
    }
    body = json.dumps(document).encode()
    async with served(app) as base, httpx.AsyncClient(base_url=base) as client:
        url = f"/hooks/whatsapp_cloud/{row.id}"
        headers = {"Content-Type": "application/json"}
        forged = await client.post(url, content=body, headers={
            **headers, "X-Hub-Signature-256": cloud_signature("guessed-secret", body)})  # fmt: skip
        unsigned = await client.post(url, content=body, headers=headers)
        genuine = await client.post(url, content=body, headers={
            **headers, "X-Hub-Signature-256": cloud_signature(APP_SECRET, body)})  # fmt: skip
        wrong_kind = await client.post(f"/hooks/infobip_whatsapp/{row.id}/reports", content=b"{}")
    assert (forged.status_code, unsigned.status_code) == (403, 403)
    assert forged.json()["code"] == "forged_callback"
    assert genuine.status_code == 200 and genuine.json()["reports"] == 1
    assert wrong_kind.status_code == 404
    kinds = log_kinds(engine)
    assert [k for k, _ in kinds] == ["webhook.rejected", "webhook.rejected", "webhook.events"]
    assert "wrong X-Hub-Signature-256" in (kinds[0][1] or "")
    assert "no X-Hub-Signature-256" in (kinds[1][1] or "")
    with engine.connect() as conn:
        assert [r.carrier_id for r in conn.execute(select(reports))] == ["wamid.x"]


async def test_the_verification_handshake_echoes_the_challenge_for_our_token(
    app: FastAPI, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    row = cloud_connector(engine, workspace, now, "http://127.0.0.1:9")
    query = {
        "hub.mode": "subscribe",
        "hub.verify_token": "verify-me",
        "hub.challenge": "1158201444",
    }
    async with served(app) as base, httpx.AsyncClient(base_url=base) as client:
        url = f"/hooks/whatsapp_cloud/{row.id}"
        answered = await client.get(url, params=query)
        refused = await client.get(url, params={**query, "hub.verify_token": "guess"})
    assert (answered.status_code, answered.text) == (200, "1158201444")
    assert refused.status_code == 403
    kinds = log_kinds(engine)
    assert [k for k, _ in kinds] == ["webhook.verify", "webhook.rejected"]
    assert all("verify-me" not in (error or "") for _, error in kinds)


@pytest.mark.parametrize("api", ["cloud", "infobip"])
async def test_an_inbound_whatsapp_message_is_stored_as_whatsapp_inbound(
    api: str, app: FastAPI, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    async with served(app) as base:
        fake = await start_whatsapp_fake(WhatsAppFakeConfig(
            phone_number_id=PHONE_ID, access_token=TOKEN, app_secret=APP_SECRET,
            display_phone_number=OURS, api_key=IB_KEY, infobip_sender=OURS,
            infobip_webhook_secret=IB_SECRET,
        ))  # fmt: skip
        try:
            if api == "cloud":
                row = cloud_connector(engine, workspace, now, fake.url)
                fake.config.cloud_callback_url = f"{base}/hooks/whatsapp_cloud/{row.id}"
            else:
                row = add_connector(
                    engine, workspace, name="wa-ib", kind="infobip_whatsapp",
                    settings={"base_url": fake.url, "api_key": IB_KEY, "sender": OURS,
                              "webhook_secret": IB_SECRET},
                    rate_per_s=0, window=4, actor="t", now=now,
                )  # fmt: skip
                add_number(engine, workspace, OURS, connector="wa-ib", actor="t", now=now)
                fake.config.infobip_inbound_url = f"{base}/hooks/infobip_whatsapp/{row.id}/inbound"
            posted = await fake.send_inbound("+48601234567", "Is it still on?", api=api)
        finally:
            await fake.close()
    assert posted.status == 200, posted.error
    with engine.connect() as conn:
        [stored] = conn.execute(select(messages).where(messages.c.direction == "in")).all()
    assert (stored.body, stored.phone, stored.channel) == ("Is it still on?", "+48601234567",
                                                           "whatsapp")  # fmt: skip
