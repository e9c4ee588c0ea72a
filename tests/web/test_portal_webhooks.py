"""The webhooks page through the real site on a real database and a loopback receiver:
subscribing (the secret shown once), the address policy's refusal beside the field, a
test event and its delivery log, resending, editing, deleting, the callback secret,
and who may open the pages."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from portal_site import Clock, build_site, csrf_of, make_user, sign_in
from sqlalchemy import Engine

from smscast.config import Settings
from smscast.engine.accounts.audit import list_audit_events
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.webhooks.endpoints import list_deliveries, list_webhooks
from smscast.engine.webhooks.sender import deliver_due_webhooks

sys.path.insert(0, str(Path(__file__).parent.parent / "api"))
from webhook_receiver import Receiver, webhook_receiver

OWNER = "olga@shop.test"
MARKETER = "marta@shop.test"


@pytest.fixture
def open_settings(settings: Settings) -> Settings:
    """Private addresses allowed, so that the loopback receiver may be subscribed."""
    return settings.model_copy(update={"webhook_allow_private": True})


@pytest.fixture
def clock(now: datetime) -> Clock:
    return Clock(now)


@pytest.fixture
def owner(open_settings: Settings, engine: Engine, workspace: WorkspaceRef, clock: Clock,
          now: datetime) -> TestClient:  # fmt: skip
    site = TestClient(build_site(open_settings, engine, clock), raise_server_exceptions=True)
    make_user(engine, [workspace], OWNER, now=now)
    sign_in(site, OWNER)
    return site


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as found:
        yield found


def post_form(client: TestClient, path: str, form_page: str, **data: object) -> httpx.Response:
    token = csrf_of(client.get(form_page).text)
    answer: httpx.Response = client.post(
        path, data={**data, "csrf_token": token}, follow_redirects=False
    )
    return answer


def text_of(fragment: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", fragment).split())


def delivery_rows(html: str) -> list[str]:
    return [text_of(r) for r in re.findall(r'<tr data-testid="delivery-row".*?</tr>', html, re.S)]


def deliver(engine: Engine, settings: Settings, moment: datetime) -> int:
    with httpx.Client() as client:
        return deliver_due_webhooks(engine, settings, client, moment)


def subscribe(owner: TestClient, url: str, *events: str) -> httpx.Response:
    return post_form(owner, "/settings/webhooks", "/settings/webhooks/new",
                     url=url, description="CRM sync", events=list(events))  # fmt: skip


def test_a_subscription_shows_its_secret_once_and_its_test_delivery_in_the_log(
    owner: TestClient,
    open_settings: Settings,
    engine: Engine,
    workspace: WorkspaceRef,
    receiver: Receiver,
    now: datetime,
) -> None:
    assert "No webhooks yet." in owner.get("/settings/webhooks").text
    made = subscribe(owner, receiver.url, "message.delivered", "contact.opted_out")
    assert made.status_code == 201
    secret = re.search(r'value="(whsec_[^"]+)"', made.text)
    assert secret, "the signing secret is shown"
    [hook] = list_webhooks(engine, workspace, after=0, limit=10)
    assert hook["events"] == ["message.delivered", "contact.opted_out"]

    listed = owner.get("/settings/webhooks").text
    assert secret.group(1) not in listed
    assert receiver.url in listed and "a text was delivered" in listed
    assert "a contact opted out" in listed and ">active<" in listed

    page = owner.get(f"/settings/webhooks/{hook['id']}").text
    assert "Nothing was sent to this webhook yet." in page
    assert secret.group(1) not in page
    tested = post_form(owner, f"/settings/webhooks/{hook['id']}/test",
                       f"/settings/webhooks/{hook['id']}")  # fmt: skip
    assert tested.status_code == 303
    waiting = owner.get(tested.headers["location"]).text
    assert "A test event is on its way" in waiting
    [row] = delivery_rows(waiting)
    assert "webhook.test" in row and "pending" in row and "not tried yet" in row
    assert 'hx-trigger="every 2s"' in waiting  # the log follows the pending delivery

    assert deliver(engine, open_settings, now) == 1
    fragment = owner.get(f"/settings/webhooks/{hook['id']}/deliveries").text
    [row] = delivery_rows(fragment)
    assert "succeeded" in row and "HTTP 200" in row
    assert "hx-trigger" not in fragment  # nothing left to wait for
    headers, _ = receiver.posts[0]
    assert headers["Smscast-Event"] == "webhook.test"


def test_a_failed_delivery_shows_the_answer_and_is_resent(
    owner: TestClient,
    open_settings: Settings,
    engine: Engine,
    workspace: WorkspaceRef,
    receiver: Receiver,
    clock: Clock,
    now: datetime,
) -> None:
    receiver.statuses = [503]
    subscribe(owner, receiver.url, "*")
    [hook] = list_webhooks(engine, workspace, after=0, limit=10)
    path = f"/settings/webhooks/{hook['id']}"
    post_form(owner, f"{path}/test", path)
    deliver(engine, open_settings, now)
    [row] = delivery_rows(owner.get(path).text)
    assert "pending" in row and "HTTP 503" in row and "next attempt" in row
    [first] = list_deliveries(engine, workspace, hook["id"], after=0, limit=10)
    assert first["attempts"] == 1

    tried = post_form(owner, f"{path}/deliveries/{first['id']}/resend", path)  # "Try now"
    assert tried.status_code == 303
    assert len(list_deliveries(engine, workspace, hook["id"], after=0, limit=10)) == 1
    assert deliver(engine, open_settings, now + timedelta(seconds=1)) == 1  # due at once
    [row] = delivery_rows(owner.get(path).text)
    assert "succeeded" in row and "HTTP 200" in row

    clock.now = now + timedelta(minutes=5)
    resent = post_form(owner, f"{path}/deliveries/{first['id']}/resend", path)
    shown = owner.get(resent.headers["location"]).text
    assert "The delivery is queued again" in shown
    newest, oldest = list_deliveries(engine, workspace, hook["id"], after=0, limit=10)
    assert (newest["status"], oldest["status"]) == ("pending", "delivered")
    assert newest["payload"] == oldest["payload"]  # the same event, same id
    deliver(engine, open_settings, clock.now)
    assert len(receiver.posts) == 3
    [audit] = list_audit_events(engine, workspace.id, before=0, limit=1)
    assert audit["action"] == "webhook.delivery_resent" and audit["actor"] == f"user:{OWNER}"


def test_an_internal_address_is_refused_beside_the_field_with_what_it_means(
    settings: Settings, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    site = TestClient(build_site(settings, engine, Clock(now)))  # the default policy
    make_user(engine, [workspace], OWNER, now=now)
    sign_in(site, OWNER)
    refused = subscribe(site, "http://127.0.0.1:9/hook", "message.delivered")
    assert refused.status_code == 422
    assert 'id="url-error"' in refused.text
    assert "not this server, not a private network" in refused.text
    assert "127.0.0.1 is an internal address" in refused.text  # the engine's own detail
    assert 'value="http://127.0.0.1:9/hook"' in refused.text  # kept
    assert re.search(r'value="message.delivered" checked', refused.text)
    assert list_webhooks(engine, workspace, after=0, limit=10) == []


def test_no_events_or_no_address_are_refused(owner: TestClient, engine: Engine,
                                             workspace: WorkspaceRef) -> None:  # fmt: skip
    refused = subscribe(owner, "")
    assert refused.status_code == 422
    assert 'id="url-error"' in refused.text and 'id="events-error"' in refused.text
    assert "Choose at least one event." in refused.text
    assert list_webhooks(engine, workspace, after=0, limit=10) == []


def test_a_webhook_is_edited_paused_and_deleted(
    owner: TestClient, engine: Engine, workspace: WorkspaceRef, receiver: Receiver
) -> None:
    subscribe(owner, receiver.url, "message.delivered")
    [hook] = list_webhooks(engine, workspace, after=0, limit=10)
    path = f"/settings/webhooks/{hook['id']}"
    assert 'value="message.delivered" checked' in owner.get(f"{path}/edit").text
    saved = post_form(
        owner,
        path,
        f"{path}/edit",
        url=receiver.url + "/v2",
        description="",
        events=["ticket.created"],
    )  # fmt: skip  (no "enabled")
    assert saved.status_code == 303
    page = owner.get(saved.headers["location"]).text
    assert "The webhook was saved." in page and "inactive" in page
    assert 'data-testid="send-test"' not in page  # a paused webhook takes no test
    [hook] = list_webhooks(engine, workspace, after=0, limit=10)
    assert (hook["url"], hook["events"], hook["enabled"]) == (
        receiver.url + "/v2",
        ["ticket.created"],
        False,
    )
    assert post_form(owner, f"{path}/test", path).status_code == 409

    assert "Delete this webhook?" in owner.get(f"{path}/delete").text
    deleted = post_form(owner, f"{path}/delete", f"{path}/delete")
    assert "The webhook was deleted" in owner.get(deleted.headers["location"]).text
    assert list_webhooks(engine, workspace, after=0, limit=10) == []
    assert owner.get(path).status_code == 404


def test_the_callback_secret_is_shown_on_request(owner: TestClient) -> None:
    shown = post_form(owner, "/settings/webhooks/callback-secret", "/settings/webhooks")
    assert shown.status_code == 200
    secret = re.search(r'value="(whsec_[^"]+)"', shown.text)
    assert secret
    again = post_form(owner, "/settings/webhooks/callback-secret", "/settings/webhooks")
    assert secret.group(1) in again.text  # the same one


def test_a_marketer_may_not_open_the_webhooks(
    settings: Settings, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    site = TestClient(build_site(settings, engine, Clock(now)))
    make_user(engine, [workspace], MARKETER, role="marketer", now=now)
    sign_in(site, MARKETER)
    assert site.get("/settings/webhooks").status_code == 403
    assert site.get("/settings/webhooks/new").status_code == 403
    token = csrf_of(site.get("/dashboard").text)
    refused = site.post("/settings/webhooks/callback-secret", data={"csrf_token": token})
    assert refused.status_code == 403 and "whsec_" not in refused.text
