"""An email's unsubscribe link on a real database: a valid link opts the person out of
email (and only email) with the link as evidence, once however often it is used; a link
we did not sign, or that names something else than an email we sent, does nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, insert, select

from smscast.core.consent import Action, Purpose, Source
from smscast.engine.accounts.workspaces import WorkspaceRef, create_workspace
from smscast.engine.contacts.records import create_contact_for_phone
from smscast.engine.contacts.unsubscribe import (
    UnsubscribeHow,
    unsubscribe_from_email,
    unsubscribe_link,
)
from smscast.engine.inbound.consent_by_text import record_text_consent
from smscast.engine.sending.outgoing import unsubscribe_token
from smscast.store.messaging_models import Campaign, Message
from smscast.store.models import AuditEvent, ConsentEvent, ConsentState, Contact, table_of

KEY = b"instance key of the test"
AGENT = "Mozilla/5.0 (compatible; GoogleMail one-click)"
contacts = table_of(Contact)
messages = table_of(Message)
campaigns = table_of(Campaign)
events = table_of(ConsentEvent)
states = table_of(ConsentState)
audits = table_of(AuditEvent)


def email_sent(
    engine: Engine, workspace: WorkspaceRef, now: datetime, *, phone: str = "+48600100200",
    address: str = "ann@example.test", channel: str = "email",
) -> tuple[int, int]:  # fmt: skip
    """A contact opted in to email and SMS, and a campaign email sent to them: (contact id,
    message id)."""
    with engine.begin() as conn:
        contact = create_contact_for_phone(conn, workspace, phone, now)
        conn.execute(contacts.update().where(contacts.c.id == contact.id).values(email=address))
        for on in ("email", "sms"):
            record_text_consent(conn, workspace.id, contact.id, Action.OPT_IN, Purpose.ALL.value,
                                Source.IMPORT, "imported", "test", now, channel=on)  # fmt: skip
        campaign_id = conn.execute(
            insert(campaigns).values(workspace_id=workspace.id, name="Spring tulips",
                                     status="running", created_at=now).returning(campaigns.c.id)
        ).scalar_one()  # fmt: skip
        message_id = conn.execute(
            insert(messages).values(
                workspace_id=workspace.id, direction="out", kind="campaign",
                purpose="promotional", contact_id=contact.id, phone=phone,
                campaign_id=campaign_id, body="Hi Ann", status="sent", created_at=now,
                channel=channel, address=address,
            ).returning(messages.c.id)
        ).scalar_one()  # fmt: skip
    return contact.id, int(message_id)


def consent(engine: Engine, contact_id: int) -> dict[tuple[str, str], str]:
    with engine.connect() as conn:
        rows = conn.execute(select(states).where(states.c.contact_id == contact_id))
        return {(row.channel, row.purpose): row.status for row in rows}


def test_one_click_opts_out_of_email_only_with_the_link_as_evidence(
    engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    contact_id, message_id = email_sent(engine, workspace, now)
    token = unsubscribe_token(KEY, message_id)
    link = unsubscribe_link(engine, KEY, message_id, token)
    assert link is not None and not link.unsubscribed
    assert (link.address, link.brand, link.campaign_name) == ("ann@example.test", "Shop",
                                                             "Spring tulips")  # fmt: skip

    outcome = unsubscribe_from_email(engine, KEY, message_id, token, how=UnsubscribeHow.ONE_CLICK,
                                     user_agent=AGENT, now=now)  # fmt: skip
    assert outcome is not None and outcome.recorded and outcome.link.unsubscribed
    assert consent(engine, contact_id) == {
        ("email", "promotional"): "opted_out", ("email", "informational"): "opted_out",
        ("sms", "promotional"): "opted_in", ("sms", "informational"): "opted_in",
    }  # fmt: skip
    with engine.connect() as conn:
        last = conn.execute(select(events).order_by(events.c.id.desc()).limit(1)).one()
        audit = conn.execute(select(audits).where(audits.c.action == "contact.unsubscribed")).one()
    assert (last.channel, last.action, last.source) == ("email", "opt_out", "unsubscribe")
    assert last.actor == "email:ann@example.test"
    assert f"email message #{message_id}" in last.evidence
    assert 'campaign #1 "Spring tulips"' in last.evidence
    assert "one-click" in last.evidence and AGENT in last.evidence
    assert audit.subject == f"contact #{contact_id}"
    assert audit.details["how"] == "one_click" and audit.details["message_id"] == message_id


def test_a_second_use_records_nothing_more(
    engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    _, message_id = email_sent(engine, workspace, now)
    token = unsubscribe_token(KEY, message_id)
    first = unsubscribe_from_email(engine, KEY, message_id, token, how=UnsubscribeHow.PAGE,
                                   user_agent=AGENT, now=now)  # fmt: skip
    again = unsubscribe_from_email(engine, KEY, message_id, token, how=UnsubscribeHow.ONE_CLICK,
                                   user_agent=AGENT, now=now + timedelta(minutes=1))  # fmt: skip
    assert first is not None and first.recorded
    assert again is not None and not again.recorded and again.link.unsubscribed
    with engine.connect() as conn:
        unsubscribes = conn.execute(
            select(events.c.id).where(events.c.source == "unsubscribe")
        ).all()
        audited = conn.execute(
            select(audits.c.id).where(audits.c.action == "contact.unsubscribed")
        ).all()
    assert len(unsubscribes) == 1 and len(audited) == 1
    assert unsubscribe_link(engine, KEY, message_id, token).unsubscribed  # type: ignore[union-attr]


def test_a_link_that_is_not_ours_does_nothing(
    engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    contact_id, message_id = email_sent(engine, workspace, now)
    _, sms_id = email_sent(engine, workspace, now, phone="+48600100300",
                           address="bob@example.test", channel="sms")  # fmt: skip
    forged = [
        (message_id, "not-the-token"),
        (message_id, unsubscribe_token(b"another key", message_id)),
        (message_id + 1000, unsubscribe_token(KEY, message_id + 1000)),  # no such message
        (sms_id, unsubscribe_token(KEY, sms_id)),  # a text message, not an email
        (message_id + 1, unsubscribe_token(KEY, message_id)),  # another message's token
    ]
    for forged_id, token in forged:
        assert unsubscribe_link(engine, KEY, forged_id, token) is None
        assert unsubscribe_from_email(engine, KEY, forged_id, token, how=UnsubscribeHow.ONE_CLICK,
                                      user_agent="", now=now) is None  # fmt: skip
    assert consent(engine, contact_id)[("email", "promotional")] == "opted_in"


def test_each_workspace_unsubscribes_its_own_contact(engine: Engine, now: datetime) -> None:
    shop = create_workspace(engine, "Shop", "PL", "Europe/Warsaw", actor="test", now=now)
    bakery = create_workspace(engine, "Bakery", "PL", "Europe/Warsaw", actor="test", now=now)
    shop_contact, shop_message = email_sent(engine, shop, now)
    bakery_contact, _ = email_sent(engine, bakery, now)
    token = unsubscribe_token(KEY, shop_message)
    outcome = unsubscribe_from_email(engine, KEY, shop_message, token, how=UnsubscribeHow.PAGE,
                                     user_agent=AGENT, now=now)  # fmt: skip
    assert outcome is not None and outcome.link.brand == "Shop"
    assert consent(engine, shop_contact)[("email", "promotional")] == "opted_out"
    assert consent(engine, bakery_contact)[("email", "promotional")] == "opted_in"
