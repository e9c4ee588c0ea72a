"""One message at a time, as the send API asks: check its consent and enqueue it.

Finding messages afterwards (list, detail) is `messages_view`.

Sending goes through the outbox like every other text (`outbox.enqueue_messages`),
so consent, quiet hours and rate limits apply at dispatch as they do to campaigns.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select

from smscast.core.consent import Purpose, Status, may_send
from smscast.core.errors import UserError
from smscast.core.phones import PhoneError, parse_phone
from smscast.engine.accounts.audit import record_audit
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.contacts.records import ContactRef, contact_for_phone
from smscast.engine.delivery.messages_view import SHOWN
from smscast.engine.inbound.numbers import number_by_text
from smscast.engine.sending.outbox import enqueue_messages
from smscast.engine.webhooks.message_callbacks import add_callback_target, check_callback_url
from smscast.store.messaging_models import Message
from smscast.store.models import ConsentState, table_of

messages = table_of(Message)
consent_states = table_of(ConsentState)


def send_message(
    engine: Engine,
    workspace: WorkspaceRef,
    to: str,
    body: str,
    *,
    sender: str | None,
    purpose: str,
    valid_until: datetime | None,
    actor: str,
    now: datetime,
    callback_url: str | None = None,
    allow_private: bool = False,
) -> dict[str, Any]:
    """Queues one text to `to` (from `sender`, or the workspace's default number).

    With `callback_url`, every status change of the message is posted there, signed
    (see `message_callbacks`); `allow_private` is the webhook setting for its check.
    """
    try:
        phone = parse_phone(to, workspace.country).e164
    except PhoneError as error:
        raise UserError.of(error.problem.code, error.problem.message, field="to") from None
    if purpose not in ("informational", "promotional"):
        raise UserError.of(
            "unknown_purpose", f'"{purpose}" is not informational or promotional', field="purpose"
        )
    if callback_url is not None:
        check_callback_url(callback_url, allow_private=allow_private)
    with engine.begin() as conn:
        number_id = _sender(conn, workspace, sender) if sender else None
        contact = contact_for_phone(conn, workspace, phone, must_exist=False)
        if purpose == "promotional":
            _check_opt_in(conn, phone, contact)
        row: dict[str, Any] = {
            "workspace_id": workspace.id,
            "phone": phone,
            "body": body,
            "kind": "api",
            "purpose": purpose,
            "contact_id": contact.id if contact else None,
            "created_at": now,
            "valid_until": valid_until,
            "callback_url": callback_url,
        }
        if number_id is not None:
            row["number_id"] = number_id
        message_id = enqueue_messages(conn, [row])[0]
        if callback_url is not None:
            add_callback_target(conn, workspace.id, message_id, callback_url, now)
        record_audit(
            conn,
            workspace.id,
            actor,
            "message.queued",
            f"message #{message_id}",
            {"to": phone},
            now,
        )
        return _message(conn, workspace, message_id)


def _check_opt_in(conn: Connection, phone: str, contact: ContactRef | None) -> None:
    """A promotional text needs the person's opt-in on record, found by phone: a number
    that is no contact (never one, or erased: only a keyed hash of it is left) has none.

    The dispatcher looks again before the text leaves (`dispatch_checks`), so an
    opt-out recorded meanwhile still stops it.
    """
    status = None
    if contact is not None:
        status = conn.execute(
            select(consent_states.c.status).where(
                consent_states.c.contact_id == contact.id,
                consent_states.c.channel == "sms",
                consent_states.c.purpose == Purpose.PROMOTIONAL.value,
            )
        ).scalar()
    if may_send(None if status is None else Status(status), Purpose.PROMOTIONAL):
        return
    if status == Status.OPTED_OUT.value:
        raise UserError.of("opted_out", f"{phone} opted out of promotional texts", field="to")
    raise UserError.of(
        "no_consent",
        f"{phone} has no opt-in on record: promotional texts need one "
        "(record it with consent opt-in, or send as informational)",
        field="to",
    )


def _sender(conn: Any, workspace: WorkspaceRef, sender: str) -> int:
    try:
        return number_by_text(conn, workspace, sender).id
    except UserError as error:
        raise UserError.of("unknown_sender", error.problem.message, field="from") from None


def _message(conn: Any, workspace: WorkspaceRef, message_id: int) -> dict[str, Any]:
    row = conn.execute(
        select(*(messages.c[c] for c in SHOWN)).where(
            messages.c.id == message_id, messages.c.workspace_id == workspace.id
        )
    ).first()
    if row is None:
        raise UserError.of("unknown_message", f"no message #{message_id}", field="message_id")
    shown = dict(row._mapping)
    shown["cost"] = float(shown["cost"] or 0)
    return shown
