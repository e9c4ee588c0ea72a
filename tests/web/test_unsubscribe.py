"""The public unsubscribe pages `/u/<message id>/<token>` through the real site on a real
database: a mail provider's one-click POST (RFC 8058, no CSRF token, no page), the page
a link opens (which changes nothing) and its button, a link that is not ours, Polish."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from portal_site import Clock, build_site
from sqlalchemy import Engine, insert, select

from smscast.config import Settings
from smscast.core.consent import Action, Purpose, Source
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.contacts.records import create_contact_for_phone
from smscast.engine.inbound.consent_by_text import record_text_consent
from smscast.engine.sending.outgoing import unsubscribe_token
from smscast.store.messaging_models import Message
from smscast.store.models import ConsentEvent, ConsentState, Contact, table_of

GMAIL = "Mozilla/5.0 (compatible; Google-Unsubscribe)"
contacts = table_of(Contact)
messages = table_of(Message)
states = table_of(ConsentState)
events = table_of(ConsentEvent)


@pytest.fixture
def app(settings: Settings, engine: Engine, now: datetime) -> FastAPI:
    return build_site(settings, engine, Clock(now))


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    return TestClient(app, raise_server_exceptions=True)


def email_sent(engine: Engine, workspace: WorkspaceRef, now: datetime) -> tuple[int, int]:
    """A contact opted in to email, and an email sent to them: (contact id, message id)."""
    with engine.begin() as conn:
        contact = create_contact_for_phone(conn, workspace, "+48600100200", now)
        conn.execute(contacts.update().where(contacts.c.id == contact.id)
                     .values(email="ann@example.test"))  # fmt: skip
        record_text_consent(conn, workspace.id, contact.id, Action.OPT_IN, Purpose.ALL.value,
                            Source.IMPORT, "imported", "test", now, channel="email")  # fmt: skip
        message_id = conn.execute(
            insert(messages).values(
                workspace_id=workspace.id, direction="out", kind="campaign",
                purpose="promotional", contact_id=contact.id, phone="+48600100200",
                body="Hi Ann", status="sent", created_at=now, channel="email",
                address="ann@example.test",
            ).returning(messages.c.id)
        ).scalar_one()  # fmt: skip
    return contact.id, int(message_id)


def email_consent(engine: Engine, contact_id: int) -> str:
    with engine.connect() as conn:
        return str(conn.execute(select(states.c.status).where(
            states.c.contact_id == contact_id, states.c.channel == "email",
            states.c.purpose == "promotional",
        )).scalar_one())  # fmt: skip


def url_of(app: FastAPI, message_id: int) -> str:
    return f"/u/{message_id}/{unsubscribe_token(app.state.portal_key, message_id)}"


def test_one_click_post_unsubscribes_with_no_page_and_no_csrf_token(
    app: FastAPI, client: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    contact_id, message_id = email_sent(engine, workspace, now)
    # As a mail provider posts it (RFC 8058 3.2): a form body, no cookie, no token.
    answer = client.post(url_of(app, message_id), data={"List-Unsubscribe": "One-Click"},
                         headers={"User-Agent": GMAIL})  # fmt: skip
    assert answer.status_code == 200
    assert answer.content == b""
    assert email_consent(engine, contact_id) == "opted_out"
    with engine.connect() as conn:
        evidence = conn.execute(
            select(events.c.evidence).where(events.c.source == "unsubscribe")
        ).scalar_one()
    assert "one-click" in evidence and GMAIL in evidence
    again = client.post(url_of(app, message_id), files={"List-Unsubscribe": (None, "One-Click")})
    assert again.status_code == 200  # multipart/form-data, as RFC 8058 also allows


def test_opening_the_link_changes_nothing_and_the_button_unsubscribes(
    app: FastAPI, client: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    contact_id, message_id = email_sent(engine, workspace, now)
    page = client.get(url_of(app, message_id))
    assert page.status_code == 200
    assert "ann@example.test" in page.text and "Shop" in page.text
    assert 'data-testid="unsubscribe"' in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert email_consent(engine, contact_id) == "opted_in"  # a link scanner's GET did nothing

    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert token is not None
    done = client.post(url_of(app, message_id), data={"csrf_token": token.group(1)})
    assert done.status_code == 200
    assert "You are unsubscribed" in done.text
    assert email_consent(engine, contact_id) == "opted_out"
    reopened = client.get(url_of(app, message_id))
    assert "You are unsubscribed" in reopened.text
    assert 'data-testid="unsubscribe"' not in reopened.text


@pytest.mark.parametrize("path", ["/u/{id}/wrong-token", "/u/{id}0/{token}", "/u/abc/{token}"])
def test_a_link_that_is_not_ours_is_a_404_page_and_changes_nothing(
    app: FastAPI, client: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime,
    path: str,
) -> None:  # fmt: skip
    contact_id, message_id = email_sent(engine, workspace, now)
    token = unsubscribe_token(app.state.portal_key, message_id)
    url = path.format(id=message_id, token=token)
    page = client.get(url)
    assert page.status_code == 404
    assert "This unsubscribe link is not valid" in page.text
    one_click = client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 404
    assert email_consent(engine, contact_id) == "opted_in"


def test_the_page_speaks_polish(
    app: FastAPI, client: TestClient, engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    _, message_id = email_sent(engine, workspace, now)
    page = client.get(url_of(app, message_id), headers={"Accept-Language": "pl"})
    assert 'lang="pl"' in page.text
    assert "Wypisz się" in page.text
    assert "Unsubscribe from emails" not in page.text
