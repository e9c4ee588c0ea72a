"""Web push from the sign-up page to the browser: a subscription made on the public page
records the person's push opt-in with its evidence; a push message queued in the outbox
leaves through the real dispatcher with that subscription's keys, and the payload the
push service fake took decrypts with the browser's key (made here, as a browser would)."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import http_ece
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from mo_harness import SHORT, setup_numbers
from outbound_helpers import RunningClock, wait_for
from sqlalchemy import Engine, select

from smscast.channels.push.vapid import b64url, generate_vapid_keys, public_key_text
from smscast.channels.simulator.push import PushFake, start_push_fake
from smscast.config import Settings
from smscast.engine.accounts.auth import Caller
from smscast.engine.accounts.workspace_settings import update_workspace
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.contacts.consent import consent_history
from smscast.engine.contacts.push_subscriptions import (
    PushStatus,
    PushSubscriptionInput,
    list_push_subscriptions,
    push_key_for_page,
    subscribe_on_sign_up_page,
    unsubscribe_on_sign_up_page,
)
from smscast.engine.contacts.records import count_contacts
from smscast.engine.db_thread import DbThread
from smscast.engine.events import EventPump
from smscast.engine.sending.connectors import (
    add_connector,
    build_connector,
    load_connector,
    update_connector,
)
from smscast.engine.sending.dispatcher import Dispatcher, DispatchLimits, retry_policy
from smscast.engine.sending.leases import take_lease
from smscast.engine.sending.outbox import enqueue_messages
from smscast.engine.sending.outgoing import OutgoingExtras
from smscast.store.channel_models import PushSubscription
from smscast.store.messaging_models import Message
from smscast.store.models import table_of

TEXT = "I agree to get offers from Shop, up to 4 a month. Turn them off at any time."
ADDRESS = "203.0.113.7"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"
KEYS = generate_vapid_keys()
WORKER = "push-test"
subscriptions = table_of(PushSubscription)
messages = table_of(Message)


class Browser:
    """PushManager.subscribe's work: a P-256 key pair and a 16-byte auth secret."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)

    def subscription(self) -> PushSubscriptionInput:
        return PushSubscriptionInput(self.endpoint, public_key_text(self.key.public_key()),
                                     b64url(self.auth), BROWSER)  # fmt: skip

    def read(self, body: bytes) -> dict[str, Any]:
        plain = http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth,
                                 version="aes128gcm")  # fmt: skip
        document: dict[str, Any] = json.loads(plain)
        return document


@pytest.fixture
async def fake() -> AsyncIterator[PushFake]:
    running = await start_push_fake(vapid_public=KEYS.public)
    yield running
    await running.close()


@pytest.fixture
def page(engine: Engine, workspace: WorkspaceRef, now: datetime) -> int:
    """An open sign-up page at /join/shop and a webpush connector; returns its id."""
    setup_numbers(engine, workspace, now)
    caller = Caller("user", 1, workspace, "owner", "owner@example.com")
    form = {"sign_up_text": TEXT, "sign_up_open": True, "sign_up_slug": "shop",
            "sign_up_number": SHORT}  # fmt: skip
    update_workspace(engine, workspace, {"settings": form}, caller=caller, now=now)
    row = add_connector(
        engine, workspace, name="web", kind="webpush",
        settings={"vapid_private_key": KEYS.private, "vapid_public": KEYS.public,
                  "subject": "mailto:push@example.com", "endpoint_hosts": "127.0.0.1"},
        rate_per_s=0, window=4, actor="test", now=now,
    )  # fmt: skip
    return row.id


def subscribe(engine: Engine, browser: Browser, now: datetime, **changes: Any) -> Any:
    values: dict[str, Any] = {"phone": "600 100 200", "agreed": True,
                              "consent_text_shown": TEXT, "client_address": ADDRESS}  # fmt: skip
    values.update(changes)
    return subscribe_on_sign_up_page(engine, "shop", browser.subscription(), now=now, **values)


def test_the_page_gets_the_key_of_the_enabled_push_connector_only(
    engine: Engine, workspace: WorkspaceRef, now: datetime, page: int
) -> None:
    key = push_key_for_page(engine, "shop")
    assert key is not None and (key.vapid_public, key.connector_id) == (KEYS.public, page)
    assert push_key_for_page(engine, "elsewhere") is None
    update_connector(engine, workspace, page, enabled=False, actor="test", now=now)
    assert push_key_for_page(engine, "shop") is None  # nothing could send to it


async def test_subscribing_records_the_subscription_and_the_push_opt_in(
    engine: Engine, workspace: WorkspaceRef, now: datetime, page: int, fake: PushFake
) -> None:
    browser = Browser(fake.subscribe())
    outcome = subscribe(engine, browser, now)
    assert outcome.status == PushStatus.SUBSCRIBED, outcome
    assert outcome.phone == "+48600100200"
    with engine.connect() as conn:
        [row] = conn.execute(select(subscriptions)).all()
        listed = list_push_subscriptions(conn, workspace.id, row.contact_id)
    assert (row.id, row.contact_id, row.endpoint) == (
        outcome.subscription_id, outcome.contact_id, browser.endpoint,
    )  # fmt: skip
    assert row.user_agent == BROWSER
    assert [(s["id"], s["service"]) for s in listed] == [(row.id, "127.0.0.1")]
    history = consent_history(engine, workspace, "+48600100200")
    [event] = history["events"]
    assert (event["channel"], event["purpose"], event["action"], event["source"]) == (
        "push", "promotional", "opt_in", "push_subscribe",
    )  # fmt: skip
    for evidence in (TEXT, BROWSER, ADDRESS, "/join/shop"):
        assert evidence in event["evidence"]
    state = {(s["channel"], s["purpose"]): s["status"] for s in history["state"]}
    assert state == {("push", "promotional"): "opted_in"}

    # The same browser again (keys renewed) is the same subscription, not a second one.
    again = Browser(browser.endpoint)
    assert subscribe(engine, again, now).subscription_id == outcome.subscription_id
    with engine.connect() as conn:
        [row] = conn.execute(select(subscriptions)).all()
    assert row.auth == b64url(again.auth)


async def test_a_wrong_form_names_every_field_and_stores_nothing(
    engine: Engine, workspace: WorkspaceRef, now: datetime, page: int, fake: PushFake
) -> None:
    bad = Browser("https://intranet.example/steal")
    outcome = subscribe(engine, bad, now, phone="12", agreed=False, consent_text_shown="old")
    assert outcome.status == PushStatus.INVALID
    fields = sorted(problem.field or "" for problem in outcome.errors)
    assert fields == ["agreed", "consent_text", "endpoint", "phone"]
    broken = PushSubscriptionInput(fake.subscribe(), "AAAA", "short", BROWSER)
    outcome = subscribe_on_sign_up_page(
        engine, "shop", broken, phone="600 100 200", agreed=True, consent_text_shown=TEXT,
        client_address=ADDRESS, now=now,
    )  # fmt: skip
    assert sorted(p.field or "" for p in outcome.errors) == ["auth", "p256dh"]
    with engine.connect() as conn:
        assert conn.execute(select(subscriptions)).all() == []
        assert count_contacts(engine, workspace)["contacts"] == 0


async def test_unsubscribing_the_last_browser_opts_out_of_push(
    engine: Engine, workspace: WorkspaceRef, now: datetime, page: int, fake: PushFake
) -> None:
    first, second = Browser(fake.subscribe()), Browser(fake.subscribe())
    subscribe(engine, first, now)
    subscribe(engine, second, now + timedelta(minutes=1))
    later = now + timedelta(minutes=2)
    assert unsubscribe_on_sign_up_page(engine, "shop", first.endpoint, user_agent=BROWSER,
                                       client_address=ADDRESS, now=later)  # fmt: skip
    state = consent_history(engine, workspace, "+48600100200")["state"]
    assert {s["status"] for s in state if s["channel"] == "push"} == {"opted_in"}
    assert unsubscribe_on_sign_up_page(engine, "shop", second.endpoint, user_agent=BROWSER,
                                       client_address=ADDRESS, now=later)  # fmt: skip
    assert not unsubscribe_on_sign_up_page(engine, "shop", second.endpoint, user_agent=BROWSER,
                                           client_address=ADDRESS, now=later)  # fmt: skip
    history = consent_history(engine, workspace, "+48600100200")
    state = {(s["channel"], s["purpose"]): s["status"] for s in history["state"]}
    assert state == {("push", "promotional"): "opted_out", ("push", "informational"): "opted_out"}
    assert history["events"][-1]["purpose"] == "all"


def queue_push(engine: Engine, workspace: WorkspaceRef, outcome: Any, now: datetime) -> int:
    with engine.begin() as conn:
        [message_id] = enqueue_messages(conn, [{
            "workspace_id": workspace.id, "kind": "campaign", "purpose": "promotional",
            "contact_id": outcome.contact_id, "phone": outcome.phone, "channel": "push",
            "address": str(outcome.subscription_id), "body": "Winter sale: 30% off today",
            "payload": {"title": "Shop", "url": "https://shop.example/winter"},
            "send_after": now, "created_at": now,
        }])  # fmt: skip
    return int(message_id)


async def dispatch_until(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, connector_id: int,
    now: datetime, message_id: int, status: str,
) -> None:  # fmt: skip
    """Runs the connector's dispatcher and event pump, as a worker does, until the message
    has `status`; then stops both, so every event the connector had is written."""
    with engine.begin() as conn:
        assert take_lease(conn, connector_id, WORKER, now, seconds=3600)
    connector = build_connector(_row(engine, connector_id))
    await connector.start()
    db, clock = DbThread(engine, name=WORKER), RunningClock(now)
    dispatcher = Dispatcher(
        db, connector, connector_id, WORKER,
        DispatchLimits(in_flight=4, least_claim=1, idle_s=0.05),
        retry_policy(5.0, 300.0, 48.0), clock, OutgoingExtras(b"k"),
    )  # fmt: skip
    pump = EventPump(db, settings, connector, connector_id, workspace.id, clock)
    running = [asyncio.create_task(dispatcher.run()), asyncio.create_task(pump.run())]
    try:

        def reached() -> bool:
            """the push message's status after the push service's answer"""
            with engine.connect() as conn:
                found = conn.execute(
                    select(messages.c.status).where(messages.c.id == message_id)
                ).scalar()
            return found == status

        await wait_for(reached)
    finally:
        dispatcher.stop()
        await running[0]
        await connector.stop()  # ends its events: the pump writes what is left and returns
        await running[1]
        db.close()


async def test_a_push_message_leaves_with_the_subscriptions_keys(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime, page: int,
    fake: PushFake,
) -> None:  # fmt: skip
    browser = Browser(fake.subscribe())
    outcome = subscribe(engine, browser, now)
    message_id = queue_push(engine, workspace, outcome, now)
    with engine.connect() as conn:
        [queued] = conn.execute(select(messages).where(messages.c.id == message_id)).all()
    assert queued.connector_id == page  # routed to the push connector by its channel
    await dispatch_until(engine, settings, workspace, page, now, message_id, "sent")
    [received] = fake.received_for(browser.endpoint)
    assert browser.read(received.body) == {
        "title": "Shop", "body": "Winter sale: 30% off today",
        "url": "https://shop.example/winter", "ref": message_id,
    }  # fmt: skip


async def test_a_subscription_the_push_service_forgot_is_deleted(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime, page: int,
    fake: PushFake,
) -> None:  # fmt: skip
    gone, kept = Browser(fake.subscribe()), Browser(fake.subscribe())
    outcome = subscribe(engine, gone, now)
    subscribe(engine, kept, now)
    fake.expire(gone.endpoint)
    message_id = queue_push(engine, workspace, outcome, now)
    await dispatch_until(engine, settings, workspace, page, now, message_id, "failed")
    with engine.connect() as conn:
        left = conn.execute(select(subscriptions.c.endpoint)).scalars().all()
        error = conn.execute(
            select(messages.c.error_code).where(messages.c.id == message_id)
        ).scalar()
    assert left == [kept.endpoint] and error == "gone"
    assert fake.received == []


def _row(engine: Engine, connector_id: int) -> Any:
    with engine.connect() as conn:
        row = load_connector(conn, connector_id)
    assert row is not None
    return row
