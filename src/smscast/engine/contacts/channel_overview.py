"""One contact on every channel: the address on each, whether it is suppressed and why,
their web push subscriptions (browser, since when), and consent per channel and purpose.

The contact's page, `GET /api/v1/contacts/{id}/channels` and `smscast contacts show`
read it from here, so the three say the same. Reading only: consent changes go through
`consent.record_consent`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from smscast.core.channels import Channel
from smscast.core.consent import SPECIFIC_PURPOSES
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.contacts.edits import contact_id_in
from smscast.store import consent as consent_store
from smscast.store.channel_models import PushSubscription, SuppressedAddress
from smscast.store.models import Contact, table_of

contacts = table_of(Contact)
subscriptions = table_of(PushSubscription)
suppressed = table_of(SuppressedAddress)

# Browsers as their user agents name them; the first that matches wins (Edge and Opera
# say "Chrome" too, Chrome says "Safari").
_BROWSERS = (
    ("Edge", re.compile(r"\bEdg(e|A|iOS)?/")),
    ("Opera", re.compile(r"\bOPR/|\bOpera\b")),
    ("Samsung Internet", re.compile(r"\bSamsungBrowser/")),
    ("Firefox", re.compile(r"\b(Firefox|FxiOS)/")),
    ("Chrome", re.compile(r"\b(Chrome|CriOS|Chromium)/")),
    ("Safari", re.compile(r"\bSafari/")),
)
_SYSTEMS = (
    ("Android", re.compile(r"\bAndroid\b")),
    ("iOS", re.compile(r"\b(iPhone|iPad|iPod)\b")),
    ("Windows", re.compile(r"\bWindows\b")),
    ("macOS", re.compile(r"\bMac OS X\b|\bMacintosh\b")),
    ("Linux", re.compile(r"\bLinux\b|\bX11\b")),
)


@dataclass(frozen=True, slots=True)
class Suppression:
    """Why nothing is sent to an address on a channel any more."""

    reason: str  # bounce, complaint, gone
    detail: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ChannelAddress:
    """A contact's address on one channel; `None` when they have none there."""

    channel: str
    address: str | None
    suppression: Suppression | None = None


@dataclass(frozen=True, slots=True)
class PushAddress:
    id: int
    browser: str  # "Firefox", or the user agent (shortened) when not recognised; "" for none
    system: str  # "Android", "" when not recognised
    created_at: datetime
    last_sent_at: datetime | None
    suppression: Suppression | None = None


@dataclass(frozen=True, slots=True)
class ChannelConsent:
    """The consent state of one channel per specific purpose (None: nothing recorded)."""

    channel: str
    statuses: dict[str, str | None]
    changed_at: dict[str, datetime | None]


@dataclass(frozen=True, slots=True)
class ChannelOverview:
    contact_id: int
    addresses: list[ChannelAddress]
    push: list[PushAddress]
    consent: list[ChannelConsent]

    def as_dict(self) -> dict[str, Any]:
        """For the API and `--json`: plain values."""

        def suppression(found: Suppression | None) -> dict[str, Any] | None:
            if found is None:
                return None
            return {"reason": found.reason, "detail": found.detail, "at": found.at}

        return {
            "contact_id": self.contact_id,
            "addresses": [
                {
                    "channel": a.channel,
                    "address": a.address,
                    "suppressed": suppression(a.suppression),
                }
                for a in self.addresses
            ],
            "push_subscriptions": [
                {
                    "id": p.id,
                    "browser": p.browser,
                    "system": p.system,
                    "created_at": p.created_at,
                    "last_sent_at": p.last_sent_at,
                    "suppressed": suppression(p.suppression),
                }
                for p in self.push
            ],
            "consent": [
                {
                    "channel": c.channel,
                    "purpose": purpose,
                    "status": status,
                    "changed_at": c.changed_at[purpose],
                }
                for c in self.consent
                for purpose, status in c.statuses.items()
            ],
        }


def browser_of(user_agent: str) -> tuple[str, str]:
    """`Mozilla/5.0 (Android 14; Mobile; rv:128.0) Gecko/128.0 Firefox/128.0` → (`Firefox`,
    `Android`): what a person recognises their subscription by. An unknown browser is
    its user agent (shortened); what is not known is an empty string."""
    agent = user_agent.strip()
    browser = next((name for name, pattern in _BROWSERS if pattern.search(agent)), agent[:80])
    system = next((name for name, pattern in _SYSTEMS if pattern.search(agent)), "")
    return browser, system


def channel_overview(engine: Engine, workspace: WorkspaceRef, contact_id: int) -> ChannelOverview:
    """The contact on every channel (push subscriptions oldest first); raises
    unknown_contact for another workspace's id."""
    with engine.connect() as conn:
        contact_id_in(conn, workspace, contact_id)
        contact = conn.execute(
            select(contacts.c.phone, contacts.c.email, contacts.c.whatsapp).where(
                contacts.c.id == contact_id
            )
        ).one()
        subs = conn.execute(
            select(
                subscriptions.c.id,
                subscriptions.c.endpoint,
                subscriptions.c.user_agent,
                subscriptions.c.created_at,
                subscriptions.c.last_sent_at,
            )
            .where(subscriptions.c.contact_id == contact_id)
            .order_by(subscriptions.c.created_at, subscriptions.c.id)
        ).all()
        addresses = {
            Channel.SMS.value: contact.phone,
            Channel.VOICE.value: contact.phone,
            Channel.EMAIL.value: contact.email,
            Channel.WHATSAPP.value: contact.whatsapp or contact.phone,
        }
        wanted = {(channel, address) for channel, address in addresses.items() if address}
        for sub in subs:
            wanted.update({(Channel.PUSH.value, str(sub.id)), (Channel.PUSH.value, sub.endpoint)})
        found = conn.execute(
            select(
                suppressed.c.channel,
                suppressed.c.address,
                suppressed.c.reason,
                suppressed.c.detail,
                suppressed.c.at,
            ).where(
                suppressed.c.workspace_id == workspace.id,
                suppressed.c.address.in_(sorted({address for _, address in wanted})),
            )
        ).all()
        states = consent_store.current_state(conn, contact_id)
    suppressions = {
        (row.channel, row.address): Suppression(row.reason, row.detail or "", row.at)
        for row in found
        if (row.channel, row.address) in wanted
    }
    order = (Channel.SMS, Channel.EMAIL, Channel.WHATSAPP, Channel.VOICE)
    return ChannelOverview(
        contact_id,
        [
            ChannelAddress(
                channel.value,
                addresses[channel.value],
                suppressions.get((channel.value, addresses[channel.value] or "")),
            )
            for channel in order
        ],
        [
            PushAddress(
                sub.id,
                *browser_of(sub.user_agent or ""),
                sub.created_at,
                sub.last_sent_at,
                suppressions.get((Channel.PUSH.value, str(sub.id)))
                or suppressions.get((Channel.PUSH.value, sub.endpoint)),
            )
            for sub in subs
        ],
        _consent_by_channel(states),
    )


def _consent_by_channel(states: list[dict[str, Any]]) -> list[ChannelConsent]:
    """Every channel, each with its state per specific purpose, in the channels' order."""
    found = {(s["channel"], s["purpose"]): s for s in states}
    rows = []
    for channel in Channel:
        statuses: dict[str, str | None] = {}
        changed: dict[str, datetime | None] = {}
        for purpose in SPECIFIC_PURPOSES:
            state = found.get((channel.value, purpose.value))
            statuses[purpose.value] = state["status"] if state else None
            changed[purpose.value] = state["changed_at"] if state else None
        rows.append(ChannelConsent(channel.value, statuses, changed))
    return rows
