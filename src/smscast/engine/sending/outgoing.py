"""What the dispatcher hands a connector beside the text: the channel's extras.

A message row keeps its channel content in `payload` (an email's subject and HTML, a
WhatsApp template and its parameters, a call's language). A few things are only known
when it leaves: the one-click unsubscribe link of a campaign email (RFC 8058) names the message
and is signed with the instance's key; a push message needs its subscription's keys;
a call or a chat template speaks the contact's language unless the message says.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, select

from smscast.channels.base import OutgoingMessage
from smscast.core.campaign_rules import DEFAULT_SHORT_DOMAIN
from smscast.core.channels import Channel
from smscast.core.national import parse_national_label
from smscast.engine.sending.outbox import Claimed
from smscast.store.channel_models import PushSubscription
from smscast.store.models import Contact, Workspace, table_of

workspaces = table_of(Workspace)
contacts = table_of(Contact)
subscriptions = table_of(PushSubscription)
UNSUBSCRIBE_PATH = "/u"


def unsubscribe_token(key: bytes, message_id: int) -> str:
    """The signature that makes `/u/<message id>/<token>` ours: nobody can opt a person out
    by guessing ids, and the link needs no row of its own."""
    digest = hmac.new(key, b"unsubscribe:%d" % message_id, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode().rstrip("=")


def unsubscribe_token_valid(key: bytes, message_id: int, token: str) -> bool:
    return hmac.compare_digest(unsubscribe_token(key, message_id), token)


class OutgoingExtras:
    """Fills in the extras of claimed messages; `learn` runs in the database thread."""

    def __init__(self, key: bytes, served_url: str = DEFAULT_SHORT_DOMAIN) -> None:
        self.key = key
        self.served_url = served_url.rstrip("/")
        self._bases: dict[int, str] = {}
        self._subscriptions: dict[str, dict[str, str]] = {}
        self._languages: dict[int, str] = {}

    def learn(self, conn: Connection, batch: Sequence[Claimed]) -> None:
        """Reads what the batch's extras need: link bases, push keys, languages."""
        new_workspaces = sorted(
            {m.workspace_id for m in batch if m.channel == Channel.EMAIL} - set(self._bases)
        )
        if new_workspaces:
            rows = conn.execute(
                select(workspaces.c.id, workspaces.c.settings).where(
                    workspaces.c.id.in_(bindparam("ids", expanding=True))
                ),
                {"ids": new_workspaces},
            )
            for row in rows:
                base = str((row.settings or {}).get("short_domain") or self.served_url)
                self._bases[row.id] = base.rstrip("/")
        wanted = sorted({m.recipient for m in batch if m.channel == Channel.PUSH})
        if wanted:
            ids = [int(value) for value in wanted if value.isdigit()]
            ids_in = subscriptions.c.id.in_(bindparam("ids", expanding=True))
            rows = conn.execute(select(subscriptions).where(ids_in), {"ids": ids})
            self._subscriptions = {
                str(row.id): {"endpoint": row.endpoint, "p256dh": row.p256dh, "auth": row.auth}
                for row in rows
            }
        speakers = sorted(
            {
                m.contact_id
                for m in batch
                if m.contact_id is not None
                and m.channel in (Channel.VOICE, Channel.WHATSAPP)
                and not (m.payload or {}).get("language")
            }
        )
        if speakers:
            rows = conn.execute(
                select(contacts.c.id, contacts.c.language).where(
                    contacts.c.id.in_(bindparam("ids", expanding=True))
                ),
                {"ids": speakers},
            )
            self._languages.update((row.id, row.language or "") for row in rows)

    def outgoing(self, message: Claimed, sender: str) -> OutgoingMessage:
        return OutgoingMessage(
            ref=message.id,
            sender=sender,
            recipient=message.recipient,
            text=message.body,
            valid_until=message.valid_until,
            national=parse_national_label(message.national),
            channel=message.channel,
            extras=self.extras(message),
        )

    def extras(self, message: Claimed) -> dict[str, Any]:
        if message.channel == Channel.SMS:
            return {}
        extras = {k: v for k, v in (message.payload or {}).items() if k != "next"}
        if message.channel == Channel.EMAIL and message.kind == "campaign":
            # Bulk mail carries the one-click unsubscribe (RFC 8058); an agent's answer
            # to someone who wrote to us is a conversation, not a list.
            base = self._bases.get(message.workspace_id, self.served_url)
            token = unsubscribe_token(self.key, message.id)
            extras["unsubscribe_url"] = f"{base}{UNSUBSCRIBE_PATH}/{message.id}/{token}"
        elif message.channel == Channel.PUSH:
            extras["subscription"] = self._subscriptions.get(message.recipient, {})
        if message.channel in (Channel.VOICE, Channel.WHATSAPP) and not extras.get("language"):
            extras["language"] = self._languages.get(message.contact_id or -1, "") or "en"
        return extras
