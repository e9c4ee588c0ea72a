"""Mail that comes back to us, read into events: bounces, complaints and replies.

Three kinds of mail reach the return path and the reply address of our emails:

- a delivery status notification (RFC 3464: `multipart/report;
  report-type=delivery-status`): a permanent failure (status 5.x.x) says the address
  does not exist, which becomes an UNDELIVERED report for the message it returns and
  the address gone (suppressed); a transient one (4.x.x, "still trying") is only logged,
  as the sending server will tell us again if it gives up;
- a spam complaint relayed by a mailbox provider's feedback loop (ARF, RFC 5965:
  `multipart/report; report-type=feedback-report`): the person's no, the address gone;
- anything else is a person writing to us: an inbound message, its own words only
  (the quoted history under "On … wrote:" and `>` lines dropped), tied by In-Reply-To
  to the email it answers.

Mail that says it was sent by a machine (`Auto-Submitted`, RFC 3834; vacation notices)
is no one writing and gets no answer: it is read but gives no event. Pure: bytes in,
events out, so every odd mail can be tested without a socket.
"""

from __future__ import annotations

import email
import email.policy
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr

from smscast.channels.base import (
    AddressGone,
    DeliveryReport,
    GoneReason,
    InboundMessage,
    ReportState,
)
from smscast.core.channels import Channel, normalise_email
from smscast.core.errors import UserError

log = logging.getLogger(__name__)
MAX_TEXT = 20_000  # characters of a reply kept: enough for any answer, not a whole thread
MAX_RAW = 2_000  # characters of a report kept as the delivery report's `raw`
#: Feedback types that are the person's complaint (RFC 5965 §7.3); "not-spam" and
#: "virus" say something else and suppress nothing.
COMPLAINT_TYPES = frozenset({"abuse", "fraud"})
_ID = re.compile(r"<([^<>\s]+)>")
_WROTE = re.compile(
    r"^\s*(On\s.+wrote:|W\s+dniu\s.+(pisze|napisał|napisała|napisał\(a\)):|"
    r"Am\s.+schrieb.*:|Le\s.+a\s+écrit\s*:|El\s.+escribió:)\s*$",
    re.IGNORECASE,
)
_ORIGINAL = re.compile(
    r"^\s*(-{2,}\s*(Original Message|Oryginalna wiadomość|Wiadomość oryginalna)\s*-{2,}|"
    r"_{10,}|From:\s.+|Od:\s.+)\s*$",
    re.IGNORECASE,
)
_TAG = re.compile(r"<[^>]*>")


class MailRejected(Exception):
    """Mail we cannot read: the listener answers it 550 and goes on with the next."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Envelope:
    """What the sending server said in the SMTP dialogue, beside the mail itself."""

    mail_from: str
    rcpt_tos: tuple[str, ...]


MailEvent = DeliveryReport | AddressGone | InboundMessage


def read_mail(raw: bytes, envelope: Envelope, received_at: datetime) -> list[MailEvent]:
    """The events one received mail carries (none for a notice that needs no action).

    Raises MailRejected for mail that is not mail: no headers, no sender, a report
    without its fields.
    """
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
    except Exception as error:  # the parser is lenient; anything it raises is garbage
        raise MailRejected(f"unreadable message: {error}") from None
    if not isinstance(message, EmailMessage) or not message.keys():
        raise MailRejected("no message headers")
    if message.get_content_type() == "multipart/report":
        report_type = str(message.get_param("report-type", "") or "").lower()
        if report_type == "delivery-status":
            return read_dsn(message, received_at)
        if report_type == "feedback-report":
            return read_feedback(message, received_at)
    if _looks_like_bounce(message, envelope):
        log.info("a non-standard bounce from %s (no RFC 3464 report): not read",
                 _header(message, "From"))  # fmt: skip
        return []
    return read_reply(message, envelope, received_at)


# --- delivery status notifications ----------------------------------------------------


def read_dsn(message: EmailMessage, received_at: datetime) -> list[MailEvent]:
    """A DSN's per-recipient verdicts: a permanent failure → the message undelivered and
    the address gone; a transient one or a success → logged, nothing else."""
    status_part = _part_of_type(message, ("message/delivery-status",))
    if status_part is None:
        raise MailRejected("a delivery-status report without its message/delivery-status part")
    blocks = _field_blocks(status_part)
    if len(blocks) < 2:
        raise MailRejected("a delivery-status report names no recipient")
    original = original_message_id(message)
    events: list[MailEvent] = []
    for fields in blocks[1:]:
        address = _address_field(fields.get("final-recipient") or fields.get("original-recipient"))
        status = _status_code(fields.get("status", ""))
        action = fields.get("action", "").strip().lower()
        diagnostic = " ".join(fields.get("diagnostic-code", "").split())
        if address is None or status is None:
            raise MailRejected("a delivery-status report without Final-Recipient or Status")
        if not status.startswith("5") or action not in ("failed", ""):
            log.info("delivery status %s (%s) for %s of message %s: nothing to do", status,
                     action or "no action", address, original or "unknown")  # fmt: skip
            continue
        detail = f"{status} {diagnostic}".strip()
        if original:
            events.append(DeliveryReport(
                carrier_id=original, state=ReportState.UNDELIVERED,
                error_code=f"bounce:{status}"[:40], done_at=received_at,
                raw=f"DSN {action or 'failed'} {address}: {detail}"[:MAX_RAW],
            ))  # fmt: skip
        events.append(AddressGone(
            channel=Channel.EMAIL.value, address=address, reason=GoneReason.BOUNCE,
            detail=detail[:2000], carrier_id=original, at=received_at,
        ))  # fmt: skip
    return events


def _status_code(text: str) -> str | None:
    """`5.1.1` from a Status field (which may carry a comment after it)."""
    found = re.match(r"\s*([245])\.(\d{1,3})\.(\d{1,3})", text)
    return ".".join(found.groups()) if found else None


# --- feedback reports (complaints) -----------------------------------------------------


def read_feedback(message: EmailMessage, received_at: datetime) -> list[MailEvent]:
    """A spam complaint about one of our emails: the complaining address is gone."""
    report = _part_of_type(message, ("message/feedback-report",))
    if report is None:
        raise MailRejected("a feedback report without its message/feedback-report part")
    blocks = _field_blocks(report)
    fields = blocks[0] if blocks else {}
    kind = fields.get("feedback-type", "abuse").strip().lower() or "abuse"
    original = original_message_id(message)
    headers = _original_headers(message)
    address = _address_field(fields.get("original-rcpt-to")) or (
        _first_address(headers.get_all("To", [])) if headers is not None else None
    )
    if address is None:
        raise MailRejected("a feedback report that names no recipient of ours")
    if kind not in COMPLAINT_TYPES:
        log.info("feedback report %r about %s: not a complaint, nothing to do", kind, address)
        return []
    agent = " ".join(fields.get("user-agent", "").split())
    detail = f"complaint ({kind}) reported by {agent or 'a mailbox provider'}"
    return [AddressGone(
        channel=Channel.EMAIL.value, address=address, reason=GoneReason.COMPLAINT,
        detail=detail[:2000], carrier_id=original, at=received_at,
    )]  # fmt: skip


# --- replies ---------------------------------------------------------------------------


def read_reply(message: EmailMessage, envelope: Envelope, received_at: datetime) -> list[MailEvent]:
    """A person's email: their own words, who wrote to which of our addresses, and which
    email of ours it answers."""
    sender = _first_address(message.get_all("From", [])) or _address_field(envelope.mail_from)
    if sender is None:
        raise MailRejected("no sender address (From)")
    if _automatic(message):
        log.info("automatic mail from %s (%s): no answer, nothing to route", sender,
                 _header(message, "Auto-Submitted") or _header(message, "Precedence"))  # fmt: skip
        return []
    recipient = _first_address(message.get_all("To", [])) or next(
        (a for a in (_address_field(r) for r in envelope.rcpt_tos) if a), ""
    )
    message_id = _first_id(_header(message, "Message-ID"))
    return [InboundMessage(
        sender=sender, recipient=recipient, text=own_words(body_text(message)),
        received_at=received_at, carrier_ids=(message_id,) if message_id else (),
        channel=Channel.EMAIL.value, in_reply_to=answered_id(message),
        subject=" ".join(_header(message, "Subject").split())[:500],
    )]  # fmt: skip


def answered_id(message: Message) -> str | None:
    """The Message-ID the mail answers: In-Reply-To, else the last of References."""
    replied = _first_id(_header(message, "In-Reply-To"))
    if replied:
        return replied
    references = _ID.findall(_header(message, "References"))
    return references[-1] if references else None


def body_text(message: EmailMessage) -> str:
    """The mail's text: its text/plain part, else its HTML with the tags taken out."""
    try:
        part = message.get_body(preferencelist=("plain", "html"))
    except Exception:
        part = None
    if part is None:
        return ""
    try:
        content = part.get_content()
    except Exception:  # an unknown charset or broken transfer encoding
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if not isinstance(content, str):
        return ""
    if part.get_content_subtype() == "html":
        content = re.sub(r"(?is)<(script|style)\b.*?</\1>", "", content)
        content = re.sub(r"(?i)<br\s*/?>|</p>|</div>", "\n", content)
        content = _TAG.sub("", content)
        content = re.sub(r"&nbsp;", " ", content).replace("&lt;", "<").replace("&gt;", ">")
        content = content.replace("&amp;", "&")
    return content


def own_words(text: str) -> str:
    """What the person wrote above the history their mail program quoted: everything
    from "On … wrote:" (or "-----Original Message-----", or a signature's "-- ") down is
    dropped, and so is every line starting with ">"."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        joined = f"{line} {lines[index + 1]}" if index + 1 < len(lines) else line
        if line.rstrip() == "--" or line == "-- ":
            break
        if _WROTE.match(line) or _ORIGINAL.match(line):
            break
        if line.strip() and not line.rstrip().endswith(":") and _WROTE.match(joined):
            break  # "On Mon, 1 Dec 2026, Ann <ann@example.com>\nwrote:" split over two lines
        if line.lstrip().startswith(">"):
            continue
        kept.append(line.rstrip())
    return "\n".join(kept).strip()[:MAX_TEXT]


def _automatic(message: Message) -> bool:
    auto = _header(message, "Auto-Submitted").strip().lower()
    precedence = _header(message, "Precedence").strip().lower()
    return (auto not in ("", "no")) or precedence in ("bulk", "junk", "auto_reply", "list")


def _looks_like_bounce(message: Message, envelope: Envelope) -> bool:
    """A bounce that is not an RFC 3464 report (some old servers): sent with an empty
    return path from a mailer-daemon. Never routed as a person's reply."""
    sender = (_first_address(message.get_all("From", [])) or "").lower()
    return envelope.mail_from in ("", "<>") and sender.split("@")[0] in (
        "mailer-daemon", "postmaster"
    )  # fmt: skip


# --- shared ----------------------------------------------------------------------------


def original_message_id(message: EmailMessage) -> str | None:
    """The Message-ID of our email a report returns (its message/rfc822 part or its
    text/rfc822-headers), without the angle brackets."""
    headers = _original_headers(message)
    if headers is None:
        return None
    return _first_id(str(headers.get("Message-ID", "") or ""))


def _original_headers(message: EmailMessage) -> Message | None:
    part = _part_of_type(message, ("message/rfc822", "text/rfc822-headers",
                                   "message/rfc822-headers"))  # fmt: skip
    if part is None:
        return None
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            return inner[0]
        return None
    payload = part.get_payload(decode=True)
    text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(payload)
    return email.message_from_string(text.lstrip(), policy=email.policy.compat32)


def _part_of_type(message: Message, types: tuple[str, ...]) -> Message | None:
    for part in message.walk():
        if part.get_content_type() in types:
            return part
    return None


def _field_blocks(part: Message) -> list[dict[str, str]]:
    """The blocks of `Name: value` fields of a report part, lower-case names.

    The email package parses message/delivery-status into one Message per block (and
    other message/* types into one message); a part it left as text is split here."""
    payload = part.get_payload()
    blocks: list[dict[str, str]] = []
    if isinstance(payload, list) and all(isinstance(p, Message) for p in payload):
        for block in (p for p in payload if isinstance(p, Message)):
            fields = {k.lower(): str(v) for k, v in block.items()}
            if fields:
                blocks.append(fields)
            inner = block.get_payload()  # fields after a blank line inside one block
            if isinstance(inner, str) and ":" in inner:
                blocks += _text_blocks(inner)
        return blocks
    raw = part.get_payload(decode=True)
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(payload)
    return _text_blocks(text)


def _text_blocks(text: str) -> list[dict[str, str]]:
    blocks: list[dict[str, str]] = []
    for chunk in re.split(r"\r?\n\s*\r?\n", text.strip()):
        fields: dict[str, str] = {}
        last = ""
        for line in chunk.splitlines():
            if line[:1] in (" ", "\t") and last:
                fields[last] += " " + line.strip()
            elif ":" in line:
                name, _, value = line.partition(":")
                last = name.strip().lower()
                fields[last] = value.strip()
        if fields:
            blocks.append(fields)
    return blocks


def _address_field(value: str | None) -> str | None:
    """The address of `rfc822; ann@example.com` (a DSN's or ARF's recipient field) or of
    a plain or angle-bracketed address; None when there is none."""
    if not value:
        return None
    text = str(value).strip()
    if ";" in text:
        kind, _, text = text.partition(";")
        if kind.strip().lower() not in ("rfc822", "utf-8"):
            return None
    return _clean_address(parseaddr(text.strip())[1] or text.strip().strip("<>"))


def _first_address(values: Sequence[object]) -> str | None:
    for _, address in getaddresses([str(v) for v in values]):
        clean = _clean_address(address)
        if clean:
            return clean
    return None


def _clean_address(address: str) -> str | None:
    try:
        return normalise_email(address)
    except UserError:
        return None


def _first_id(value: str) -> str | None:
    found = _ID.search(value)
    if found:
        return found.group(1)
    bare = value.strip()
    return bare if bare and " " not in bare and "@" in bare else None


def _header(message: Message, name: str) -> str:
    try:
        value = message.get(name, "")
    except Exception:  # a header the policy cannot parse
        return ""
    return str(value or "")
