"""An email's unsubscribe link: the person's opt-out of email, with the link as evidence.

Every email we send carries `/u/<message id>/<token>` (see `engine.sending.outgoing`):
in its `List-Unsubscribe` header, which a mail provider's "unsubscribe" button posts to
(RFC 8058 one-click), and usually in its footer, which opens a page with one button. The
token is an HMAC of the message id with the instance's key, so the link needs no row of
its own and nobody can unsubscribe someone else by counting ids.

Unsubscribing is an opt-out of the email channel for every purpose in the consent ledger
(source `unsubscribe`), recorded with what the link was (message, campaign, one-click or
the page's button, the browser or mail provider that asked) and audited. SMS and the
other channels are untouched: the link speaks for the mailbox it was sent to. A second
click finds the person already unsubscribed and records nothing more.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, select

from smscast.core.channels import Channel
from smscast.core.consent import SPECIFIC_PURPOSES, Action, Purpose, Source, Status
from smscast.engine.accounts.audit import record_audit
from smscast.engine.contacts.addresses import contact_of_address
from smscast.engine.inbound.consent_by_text import record_text_consent
from smscast.engine.sending.outgoing import unsubscribe_token_valid
from smscast.store.messaging_models import Campaign, Message
from smscast.store.models import ConsentState, Contact, Workspace, table_of

messages = table_of(Message)
campaigns = table_of(Campaign)
contacts = table_of(Contact)
states = table_of(ConsentState)
workspaces = table_of(Workspace)
MAX_USER_AGENT = 300


class UnsubscribeHow(enum.StrEnum):
    ONE_CLICK = "one_click"  # the mail provider's button: a POST to the List-Unsubscribe URL
    PAGE = "page"  # the button on our page, opened from the link in the email


@dataclass(frozen=True, slots=True)
class UnsubscribeLink:
    """What a valid link is about: the message, where it went, whose list it is."""

    message_id: int
    workspace_id: int
    contact_id: int | None  # None: the contact was erased since
    address: str
    brand: str  # the workspace's name, as the page shows it
    campaign_id: int | None
    campaign_name: str
    unsubscribed: bool  # the address gets no email from the workspace any more


@dataclass(frozen=True, slots=True)
class UnsubscribeOutcome:
    link: UnsubscribeLink
    recorded: bool  # False: already unsubscribed (or nobody left to unsubscribe)


def unsubscribe_link(
    engine: Engine, key: bytes, message_id: int, token: str
) -> UnsubscribeLink | None:
    """The link's message if the token is ours and it is an email we sent, else None."""
    if not unsubscribe_token_valid(key, message_id, token):
        return None
    with engine.connect() as conn:
        return _link(conn, message_id)


def unsubscribe_from_email(
    engine: Engine,
    key: bytes,
    message_id: int,
    token: str,
    *,
    how: UnsubscribeHow,
    user_agent: str,
    now: datetime,
) -> UnsubscribeOutcome | None:
    """Opts the person the email went to out of email; None for a link that is not ours.

    Safe to run twice (a provider retrying its POST, a second click): the second finds
    the opt-out in place and records nothing.
    """
    if not unsubscribe_token_valid(key, message_id, token):
        return None
    with engine.begin() as conn:
        link = _link(conn, message_id, lock=True)
        if link is None:
            return None
        if link.contact_id is None or link.unsubscribed:
            return UnsubscribeOutcome(link, recorded=False)
        agent = " ".join(user_agent.split())[:MAX_USER_AGENT]
        clicked = (
            "one-click unsubscribe (RFC 8058 POST)"
            if how == UnsubscribeHow.ONE_CLICK
            else "the unsubscribe page's button"
        )
        campaign = (
            f' of campaign #{link.campaign_id} "{link.campaign_name}"' if link.campaign_id else ""
        )
        evidence = (
            f"{clicked} in email message #{link.message_id}{campaign} to {link.address} at "
            f'{now:%Y-%m-%d %H:%M:%S}Z (user agent "{agent}")'
        )
        record_text_consent(
            conn, link.workspace_id, link.contact_id, Action.OPT_OUT, Purpose.ALL.value,
            Source.UNSUBSCRIBE, evidence, f"email:{link.address}", now, channel=Channel.EMAIL,
        )  # fmt: skip
        record_audit(
            conn, link.workspace_id, f"email:{link.address}", "contact.unsubscribed",
            f"contact #{link.contact_id}",
            {"channel": Channel.EMAIL.value, "message_id": link.message_id,
             "campaign_id": link.campaign_id, "how": how.value},
            now,
        )  # fmt: skip
    return UnsubscribeOutcome(dataclasses.replace(link, unsubscribed=True), recorded=True)


def _link(conn: Connection, message_id: int, *, lock: bool = False) -> UnsubscribeLink | None:
    query = (
        select(
            messages.c.id, messages.c.workspace_id, messages.c.contact_id, messages.c.address,
            messages.c.campaign_id, workspaces.c.name.label("brand"),
            campaigns.c.name.label("campaign_name"),
        )
        .join(workspaces, workspaces.c.id == messages.c.workspace_id)
        .join(campaigns, campaigns.c.id == messages.c.campaign_id, isouter=True)
        .where(messages.c.id == message_id, messages.c.direction == "out",
               messages.c.channel == Channel.EMAIL.value)
    )  # fmt: skip
    row = conn.execute(query).first()
    if row is None or not row.address:
        return None
    contact_id = row.contact_id
    if contact_id is not None:
        # The contact's row is the lock two clicks at once take turns on (PostgreSQL),
        # so the second sees the first's opt-out and records nothing.
        found = select(contacts.c.id).where(contacts.c.id == contact_id)
        if lock and conn.dialect.name == "postgresql":
            found = found.with_for_update()
        contact_id = conn.execute(found).scalar()
    if contact_id is None:
        contact_id = contact_of_address(conn, row.workspace_id, Channel.EMAIL, row.address)
    return UnsubscribeLink(
        message_id=row.id,
        workspace_id=row.workspace_id,
        contact_id=contact_id,
        address=row.address,
        brand=row.brand,
        campaign_id=row.campaign_id,
        campaign_name=row.campaign_name or "",
        unsubscribed=contact_id is None or _opted_out_of_email(conn, contact_id),
    )


def _opted_out_of_email(conn: Connection, contact_id: int) -> bool:
    rows = conn.execute(
        select(states.c.purpose, states.c.status).where(
            states.c.contact_id == contact_id, states.c.channel == Channel.EMAIL.value
        )
    )
    status = {row.purpose: row.status for row in rows}
    return all(status.get(p.value) == Status.OPTED_OUT for p in SPECIFIC_PURPOSES)
