"""What WhatsApp providers push to us: verified first, then read into events.

Cloud API. Meta checks our webhook URL once with a GET (hub.mode=subscribe,
hub.verify_token, hub.challenge: we answer the challenge only when the token is ours),
then POSTs every event signed with the app secret: `X-Hub-Signature-256:
sha256=<hex HMAC-SHA256 of the raw body>`. One POST carries `entry[].changes[].value`
with `statuses[]` (sent, delivered, read, failed with `errors[]`) and `messages[]`
(what people write to our number, `context.id` naming the message of ours they
answer).

Infobip. Delivery reports, seen reports and inbound messages are JSON `results[]`
pushes authenticated with the shared secret as for Infobip SMS.

A status becomes a `DeliveryReport`: sent → ACCEPTED (the provider has it), delivered
and read → DELIVERED (a read's `raw` says "read"), failed → UNDELIVERED with the
provider's error code (131026: the number is not on WhatsApp, or cannot receive).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from smscast.channels.base import DeliveryReport, InboundMessage, ReportState
from smscast.channels.providers.infobip import Push
from smscast.channels.providers.webhooks import WebhookRejected, parse_carrier_time, same_secret

CLOUD = "whatsapp_cloud"
INFOBIP = "infobip_whatsapp"
SIGNATURE_HEADER = "X-Hub-Signature-256"
T = TypeVar("T")

_CLOUD_STATES = {
    "sent": ReportState.ACCEPTED,
    "delivered": ReportState.DELIVERED,
    "read": ReportState.DELIVERED,
    "failed": ReportState.UNDELIVERED,
}
_INFOBIP_STATES = {
    "DELIVERED": ReportState.DELIVERED,
    "UNDELIVERABLE": ReportState.UNDELIVERED,
    "EXPIRED": ReportState.EXPIRED,
    "REJECTED": ReportState.REJECTED,
    "PENDING": ReportState.ACCEPTED,
}


# -- Cloud API: verifying ------------------------------------------------------------


def cloud_signature(app_secret: str, body: bytes) -> str:
    """The X-Hub-Signature-256 value Meta sends with `body`, signed with `app_secret`."""
    digest = hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def check_cloud_signature(app_secret: str, body: bytes, signature: str | None) -> None:
    """Raises WebhookRejected unless `signature` is Meta's HMAC of exactly this body."""
    if not app_secret:
        raise WebhookRejected(CLOUD, "no app_secret is configured for this connector")
    if not signature:
        raise WebhookRejected(CLOUD, f"no {SIGNATURE_HEADER} header")
    if not signature.startswith("sha256="):
        raise WebhookRejected(CLOUD, f"{SIGNATURE_HEADER} is not sha256=<hex>")
    if not same_secret(signature.strip(), cloud_signature(app_secret, body)):
        raise WebhookRejected(CLOUD, f"wrong {SIGNATURE_HEADER}: the body was not signed by us")


def check_subscription(verify_token: str, query: Mapping[str, str]) -> str:
    """The challenge to echo back when Meta verifies our webhook URL, else WebhookRejected."""
    if not verify_token:
        raise WebhookRejected(CLOUD, "no verify_token is configured for this connector")
    if query.get("hub.mode") != "subscribe":
        raise WebhookRejected(CLOUD, "hub.mode is not 'subscribe'")
    if not same_secret(query.get("hub.verify_token", ""), verify_token):
        raise WebhookRejected(CLOUD, "wrong hub.verify_token")
    challenge = query.get("hub.challenge", "")
    if not challenge:
        raise WebhookRejected(CLOUD, "no hub.challenge to answer")
    return challenge


# -- Cloud API: reading --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CloudEvents:
    """What one Cloud API webhook carried, and what in it could not be read."""

    reports: list[DeliveryReport] = field(default_factory=list)
    inbound: list[InboundMessage] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def parse_cloud_webhook(payload: bytes | str, phone_number_id: str) -> CloudEvents:
    """A Cloud API webhook (already verified) as reports and inbound messages.

    Changes for another business number than the connector's are left out (one Meta
    app may serve several numbers): each is a problem line, never someone's event.
    """
    try:
        document = json.loads(payload)
    except ValueError as exc:
        raise WebhookRejected(CLOUD, f"body is not JSON: {exc}") from exc
    if not isinstance(document, dict) or document.get("object") != "whatsapp_business_account":
        raise WebhookRejected(CLOUD, "body is not a whatsapp_business_account webhook")
    entries = document.get("entry")
    if not isinstance(entries, list):
        raise WebhookRejected(CLOUD, "body has no 'entry' list")
    events = CloudEvents()
    for e, entry in enumerate(entries):
        changes = entry.get("changes") if isinstance(entry, dict) else None
        if not isinstance(changes, list):
            events.problems.append(f"entry[{e}]: no 'changes' list")
            continue
        for c, change in enumerate(changes):
            where = f"entry[{e}].changes[{c}]"
            value = change.get("value") if isinstance(change, dict) else None
            if not isinstance(value, dict) or change.get("field") != "messages":
                events.problems.append(f"{where}: not a messages change; ignored")
                continue
            _read_value(value, where, phone_number_id, events)
    return events


def _read_value(value: dict[str, Any], where: str, phone_number_id: str, out: CloudEvents) -> None:
    metadata = value.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    number_id = str(metadata.get("phone_number_id") or "")
    if phone_number_id and number_id != phone_number_id:
        out.problems.append(
            f"{where}: for phone number id {number_id or '(none)'}, "
            f"not this connector's {phone_number_id}; ignored"
        )
        return
    ours = "+" + re.sub(r"\D", "", str(metadata.get("display_phone_number") or ""))
    for index, status in enumerate(_list(value, "statuses")):
        try:
            out.reports.append(_cloud_report(status))
        except WebhookRejected as exc:
            out.problems.append(f"{where}.statuses[{index}]: {exc.reason}")
    for index, message in enumerate(_list(value, "messages")):
        try:
            out.inbound.append(_cloud_inbound(message, ours))
        except WebhookRejected as exc:
            out.problems.append(f"{where}.messages[{index}]: {exc.reason}")
    for error in _list(value, "errors"):
        if isinstance(error, dict):
            out.problems.append(f"{where}: WhatsApp error {error.get('code')}: "
                                f"{error.get('title') or error.get('message')}")  # fmt: skip


def _list(value: dict[str, Any], name: str) -> list[Any]:
    items = value.get(name)
    return items if isinstance(items, list) else []


def _text(entry: Mapping[str, Any], name: str, provider: str = CLOUD) -> str:
    value = entry.get(name)
    if value is None or value == "":
        raise WebhookRejected(provider, f"field {name!r} is missing")
    return str(value)


def _unix_time(value: str) -> datetime:
    if not value.isdigit():
        raise WebhookRejected(CLOUD, f"timestamp {value!r} is not unix seconds")
    return datetime.fromtimestamp(int(value), UTC)


def _cloud_report(status: object) -> DeliveryReport:
    if not isinstance(status, dict):
        raise WebhookRejected(CLOUD, "status is not an object")
    wamid = _text(status, "id")
    word = _text(status, "status")
    state = _CLOUD_STATES.get(word, ReportState.UNKNOWN)
    error_code = None
    errors = status.get("errors")
    if word == "failed" and isinstance(errors, list) and errors and isinstance(errors[0], dict):
        error_code = str(errors[0].get("code") or "failed")
    elif word == "failed":
        error_code = "failed"
    callback = str(status.get("biz_opaque_callback_data") or "")
    stamp = status.get("timestamp")
    return DeliveryReport(
        carrier_id=wamid,
        state=state,
        ref=int(callback) if callback.isdigit() else None,
        error_code=error_code,
        done_at=_unix_time(str(stamp)) if stamp else None,
        raw=json.dumps(status, ensure_ascii=False),
    )


def _cloud_inbound(message: object, ours: str) -> InboundMessage:
    if not isinstance(message, dict):
        raise WebhookRejected(CLOUD, "message is not an object")
    sender = re.sub(r"\D", "", _text(message, "from"))
    context = message.get("context")
    replied = context.get("id") if isinstance(context, dict) else None
    kind = str(message.get("type") or "")
    if kind == "reaction" and isinstance(message.get("reaction"), dict):
        replied = replied or message["reaction"].get("message_id")
    return InboundMessage(
        sender=f"+{sender}",
        recipient=ours if ours != "+" else "",
        text=_cloud_text(message, kind),
        received_at=_unix_time(_text(message, "timestamp")),
        carrier_ids=(_text(message, "id"),),
        channel="whatsapp",
        in_reply_to=str(replied) if replied else None,
    )


def _cloud_text(message: Mapping[str, Any], kind: str) -> str:
    """The words of an inbound message: its text, the button or list item chosen, a
    media caption; other kinds as "[kind]", so the inbox shows something came."""
    part = message.get(kind)
    part = part if isinstance(part, dict) else {}
    if kind == "text":
        return str(part.get("body", ""))
    if kind == "button":
        return str(part.get("text") or part.get("payload") or "")
    if kind == "interactive":
        for reply in ("button_reply", "list_reply"):
            chosen = part.get(reply)
            if isinstance(chosen, dict):
                return str(chosen.get("title") or chosen.get("id") or "")
    if kind == "reaction":
        return str(part.get("emoji") or "")
    if part.get("caption"):
        return str(part["caption"])
    return f"[{kind or 'unknown'}]"


# -- Infobip -------------------------------------------------------------------------


def parse_infobip_whatsapp_reports(payload: bytes | str) -> Push[DeliveryReport]:
    """A delivery report or seen report push (already authenticated) as reports."""
    return _read_push(payload, _infobip_report)


def parse_infobip_whatsapp_inbound(payload: bytes | str) -> Push[InboundMessage]:
    """An inbound WhatsApp push (already authenticated) as inbound messages."""
    return _read_push(payload, _infobip_inbound)


def _read_push(payload: bytes | str, read: Callable[[object], T]) -> Push[T]:
    try:
        document = json.loads(payload)
    except ValueError as exc:
        raise WebhookRejected(INFOBIP, f"body is not JSON: {exc}") from exc
    results = document.get("results") if isinstance(document, dict) else None
    if not isinstance(results, list):
        raise WebhookRejected(INFOBIP, "body has no 'results' list")
    push: Push[T] = Push()
    for index, entry in enumerate(results):
        try:
            push.items.append(read(entry))
        except WebhookRejected as exc:
            push.problems.append(f"results[{index}]: {exc.reason}")
    return push


def _infobip_report(entry: object) -> DeliveryReport:
    if not isinstance(entry, dict):
        raise WebhookRejected(INFOBIP, "entry is not an object")
    message_id = _text(entry, "messageId", INFOBIP)
    callback = str(entry.get("callbackData") or "")
    ref = int(callback) if callback.isdigit() else None
    if "status" not in entry and entry.get("seenAt"):
        # A seen report: the person opened the message. Its raw says "read", as the
        # Cloud API's does, so both providers' reads look alike downstream.
        seen = parse_carrier_time(INFOBIP, "seenAt", str(entry["seenAt"]))
        raw = json.dumps({"status": "read", **entry}, ensure_ascii=False)
        return DeliveryReport(message_id, ReportState.DELIVERED, ref, None, seen, raw)
    status = entry.get("status")
    group = status.get("groupName") if isinstance(status, dict) else None
    if not group:
        raise WebhookRejected(INFOBIP, "field 'status.groupName' is missing")
    error = entry.get("error")
    error_code = None
    if isinstance(error, dict) and error.get("id") not in (None, 0, "0"):
        error_code = str(error.get("name") or error.get("id"))
    done_at = entry.get("doneAt")
    return DeliveryReport(
        carrier_id=message_id,
        state=_INFOBIP_STATES.get(str(group), ReportState.UNKNOWN),
        ref=ref,
        error_code=error_code,
        done_at=parse_carrier_time(INFOBIP, "doneAt", str(done_at)) if done_at else None,
        raw=json.dumps(entry, ensure_ascii=False),
    )


def _infobip_inbound(entry: object) -> InboundMessage:
    if not isinstance(entry, dict):
        raise WebhookRejected(INFOBIP, "entry is not an object")
    message = entry.get("message")
    message = message if isinstance(message, dict) else {}
    kind = str(message.get("type") or "TEXT").upper()
    text = message.get("text")
    if text is None:
        text = message.get("caption") or message.get("title") or f"[{kind.lower()}]"
    context = message.get("context")
    replied = context.get("id") if isinstance(context, dict) else None
    replied = replied or entry.get("pairedMessageId")
    sender = re.sub(r"\D", "", _text(entry, "from", INFOBIP))
    ours = re.sub(r"\D", "", _text(entry, "to", INFOBIP))
    return InboundMessage(
        sender=f"+{sender}",
        recipient=f"+{ours}",
        text=str(text),
        received_at=parse_carrier_time(INFOBIP, "receivedAt", _text(entry, "receivedAt", INFOBIP)),
        carrier_ids=(_text(entry, "messageId", INFOBIP),),
        channel="whatsapp",
        in_reply_to=str(replied) if replied else None,
    )
