"""Notifications from the public sign-up page, through the real site on a real database:
the service worker and the key the page's script fetches, a subscription posted with the
page's CSRF token (refused without it), errors in the page's language, unsubscribing."""

from __future__ import annotations

import html
import os
import re
from datetime import datetime

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from portal_site import Clock, build_site, csrf_of
from sqlalchemy import Engine, select
from test_portal_join import open_form

from smscast.channels.push.vapid import b64url, generate_vapid_keys, public_key_text
from smscast.config import Settings
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.contacts.consent import consent_history
from smscast.engine.sending.connectors import add_connector
from smscast.store.channel_models import PushSubscription
from smscast.store.models import table_of

KEYS = generate_vapid_keys()
ENDPOINT = "https://fcm.googleapis.com/fcm/send/dGVzdA:APA91b"
BROWSER = "Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/131.0 Mobile"
subscriptions = table_of(PushSubscription)


@pytest.fixture
def site(settings: Settings, engine: Engine, now: datetime) -> TestClient:
    return TestClient(build_site(settings, engine, Clock(now)), raise_server_exceptions=True)


@pytest.fixture
def shop(engine: Engine, workspace: WorkspaceRef, now: datetime) -> None:
    open_form(engine, workspace, now, brand="Shop & Co")


def add_push_connector(engine: Engine, workspace: WorkspaceRef, now: datetime) -> None:
    add_connector(
        engine, workspace, name="web", kind="webpush",
        settings={"vapid_private_key": KEYS.private, "vapid_public": KEYS.public,
                  "subject": "mailto:push@example.com"},
        rate_per_s=10, window=4, actor="test", now=now,
    )  # fmt: skip


def subscription_json(endpoint: str = ENDPOINT) -> dict[str, object]:
    key = ec.generate_private_key(ec.SECP256R1())
    return {
        "endpoint": endpoint,
        "expirationTime": None,
        "keys": {"p256dh": public_key_text(key.public_key()), "auth": b64url(os.urandom(16))},
    }


def page_of(site: TestClient, language: str = "en") -> tuple[str, str]:
    """The page's CSRF token and the consent text it shows, as the script reads them."""
    site.cookies.set("smscast_lang", language)
    page = site.get("/join/shop", headers={"User-Agent": BROWSER})
    assert page.status_code == 200, page.text
    found = re.search(r'name="consent_text" value="([^"]*)"', page.text)
    assert found is not None
    return csrf_of(page.text), html.unescape(found[1])


def test_without_a_push_connector_the_page_offers_no_push(
    site: TestClient, shop: None, engine: Engine
) -> None:
    assert site.get("/join/shop/push-key").status_code == 404
    page = site.get("/join/shop")
    assert 'data-push="shop" hidden' in page.text  # the script shows it only with a key
    assert '<script src="/static/push.js" defer></script>' in page.text
    assert site.get("/static/push.js").status_code == 200


def test_the_service_worker_shows_the_brand_and_opens_only_web_links(
    site: TestClient, shop: None
) -> None:
    worker = site.get("/join/shop/sw.js")
    assert worker.status_code == 200
    assert worker.headers["content-type"].startswith("text/javascript")
    assert 'var FALLBACK_TITLE = "Shop & Co";' in worker.text
    assert "showNotification" in worker.text and "openWindow(url)" in worker.text
    assert site.get("/join/nobody/sw.js").status_code == 404


def test_a_browser_subscribes_with_the_pages_token_and_its_consent_is_recorded(
    site: TestClient, shop: None, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    add_push_connector(engine, workspace, now)
    assert site.get("/join/shop/push-key").json() == {"key": KEYS.public}
    token, text = page_of(site)
    body = {"subscription": subscription_json(), "phone": "600 100 200", "agreed": True,
            "consent_text": text}  # fmt: skip
    refused = site.post("/join/shop/push", json=body)
    assert refused.status_code == 403  # no CSRF token: a write like any other
    answer = site.post("/join/shop/push", json=body,
                       headers={"X-CSRF-Token": token, "User-Agent": BROWSER})  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"status": "subscribed"}
    with engine.connect() as conn:
        [row] = conn.execute(select(subscriptions)).all()
    assert (row.endpoint, row.user_agent) == (ENDPOINT, BROWSER)
    [event] = consent_history(engine, workspace, "+48600100200")["events"]
    assert (event["channel"], event["source"]) == ("push", "push_subscribe")
    assert BROWSER in event["evidence"] and "testclient" in event["evidence"]

    gone = site.post("/join/shop/push/unsubscribe", json={"endpoint": ENDPOINT},
                     headers={"X-CSRF-Token": token})  # fmt: skip
    assert gone.json() == {"status": "unsubscribed"}
    with engine.connect() as conn:
        assert conn.execute(select(subscriptions)).all() == []


def test_errors_come_back_on_their_fields_in_the_pages_language(
    site: TestClient, shop: None, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    add_push_connector(engine, workspace, now)
    token, text = page_of(site, "pl")
    body = {"subscription": subscription_json("http://10.0.0.1/x"), "phone": "",
            "agreed": False, "consent_text": text}  # fmt: skip
    answer = site.post("/join/shop/push", json=body, headers={"X-CSRF-Token": token})
    assert answer.status_code == 422
    errors = {error["field"]: error["message"] for error in answer.json()["errors"]}
    assert set(errors) == {"phone", "agreed", "push"}
    assert errors["agreed"] == "Zaznacz pole, aby wyrazić zgodę na tę treść."
    with engine.connect() as conn:
        assert conn.execute(select(subscriptions)).all() == []
