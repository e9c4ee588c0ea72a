"""Reading SMPP delivery reports and putting carrier message ids into one form.

A report arrives as a deliver_sm whose short_message holds the de-facto text
form of SMPP 3.4 Appendix B (`id:… sub:… dlvrd:… submit date:… done date:…
stat:… err:… text:…`) and, from better carriers, the `receipted_message_id` and
`message_state` TLVs. The TLVs win where both are present; the text fills in
what they lack (error code, dates).

Carriers disagree with themselves about ids: hex in submit_sm_resp and decimal
in the report, leading zeros, upper versus lower case. `normalise_id` turns
both sides into one canonical string so they can be matched by equality.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from smscast.channels.base import ReportState
from smscast.channels.smpp.settings import IdFormat


class ReportError(ValueError):
    """A deliver_sm flagged as a delivery report that we could not read."""


_TEXT_STATES = {
    "DELIVRD": ReportState.DELIVERED,
    "DELIVERED": ReportState.DELIVERED,
    "EXPIRED": ReportState.EXPIRED,
    "DELETED": ReportState.DELETED,
    "UNDELIV": ReportState.UNDELIVERED,
    "UNDELIVERABLE": ReportState.UNDELIVERED,
    "FAILED": ReportState.UNDELIVERED,
    "NOROUTE": ReportState.UNDELIVERED,
    "ACCEPTD": ReportState.ACCEPTED,
    "ACCEPTED": ReportState.ACCEPTED,
    "ENROUTE": ReportState.ACCEPTED,
    "BUFFRED": ReportState.ACCEPTED,
    "REJECTD": ReportState.REJECTED,
    "REJECTED": ReportState.REJECTED,
    "UNKNOWN": ReportState.UNKNOWN,
}

# message_state TLV (SMPP 3.4 section 5.2.28): 0 scheduled and 1 enroute are not final.
_TLV_STATES = {
    0: ReportState.ACCEPTED,
    1: ReportState.ACCEPTED,
    2: ReportState.DELIVERED,
    3: ReportState.EXPIRED,
    4: ReportState.DELETED,
    5: ReportState.UNDELIVERED,
    6: ReportState.ACCEPTED,
    7: ReportState.UNKNOWN,
    8: ReportState.REJECTED,
    9: ReportState.UNDELIVERED,
}

_USUAL_KEYS = ("id", "sub", "dlvrd", "submit date", "done date", "stat", "err", "text")
_USUAL = re.compile(
    r"id:(\S*) sub:(\S*) dlvrd:(\S*) submit date:(\S*) done date:(\S*) stat:(\S*) "
    r"err:(\S*)(?: text:(.*))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
# The layout every carrier we know writes, in lower case: tried first, because a
# case-sensitive match is about twice as fast as the case-insensitive one below it.
_USUAL_LOWER = re.compile(
    r"id:(\S*) sub:(\S*) dlvrd:(\S*) submit date:(\S*) done date:(\S*) stat:(\S*) "
    r"err:(\S*)(?: text:(.*))?\s*$",
    re.DOTALL,
)
_FIELD = re.compile(r"(?i)\b(id|sub|dlvrd|submit date|done date|stat|err|text)\s*:")


@dataclass(frozen=True, slots=True)
class ReadReport:
    """A delivery report as the carrier wrote it, before its id is matched."""

    carrier_id: str
    state: ReportState
    error_code: str | None
    done_at: datetime | None
    raw: str


def split_receipt_text(text: str) -> dict[str, str]:
    """The `key:value` fields of a receipt text, keys lower-case; `text` runs to the end."""
    usual = _USUAL_LOWER.match(text) or _USUAL.match(text)
    if usual is not None:
        # The common layout in one regex call: this runs once per report, at thousands a second.
        pairs = zip(_USUAL_KEYS, usual.groups(), strict=True)
        return {key: value.strip() for key, value in pairs if value is not None}
    return _split_any_layout(text)


def _split_any_layout(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    matches = list(_FIELD.finditer(text))
    for i, match in enumerate(matches):
        key = " ".join(match.group(1).lower().split())
        if key in fields:
            continue
        last = key == "text" or i + 1 == len(matches)
        end = len(text) if last else matches[i + 1].start()
        fields[key] = text[match.end() : end].strip()
        if key == "text":
            break
    return fields


@functools.lru_cache(maxsize=1024)
def parse_receipt_time(value: str) -> datetime | None:
    """YYMMDDhhmm or YYMMDDhhmmss, read as UTC; None when it is neither.

    Cached: reports come in bursts that share their done date to the minute, and
    building a datetime costs more than the rest of reading the report.
    """
    digits = value.strip()
    if not digits.isdigit() or len(digits) not in (10, 12):
        return None
    try:
        return datetime(
            2000 + int(digits[0:2]),
            int(digits[2:4]),
            int(digits[4:6]),
            int(digits[6:8]),
            int(digits[8:10]),
            int(digits[10:12] or 0),
            tzinfo=UTC,
        )
    except ValueError:
        return None


def read_report(
    text: str,
    *,
    receipted_id: str | None = None,
    message_state: int | None = None,
    network_error: bytes | None = None,
) -> ReadReport:
    """Reads one report from its text and TLVs; raises ReportError naming what is missing."""
    usual = _USUAL_LOWER.match(text) or _USUAL.match(text)
    if usual is not None:
        # The fields of the usual layout straight from the match (no whitespace in them).
        text_id, done_date, stat, err = usual.group(1, 5, 6, 7)
    else:
        fields = _split_any_layout(text)
        text_id, done_date = fields.get("id", ""), fields.get("done date", "")
        stat, err = fields.get("stat"), fields.get("err")
    carrier_id = (receipted_id or "").strip("\x00 ") or text_id.strip()
    if not carrier_id:
        raise ReportError(f"delivery report without a message id: {text[:80]!r}")
    state = _state(stat, message_state, text)
    error_code = _error_code(err, network_error)
    raw = text or f"receipted_message_id={carrier_id} message_state={message_state}"
    done_at = parse_receipt_time(done_date) if done_date else None
    return ReadReport(carrier_id, state, error_code, done_at, raw)


def _state(stat: str | None, message_state: int | None, text: str) -> ReportState:
    if message_state is not None:
        if message_state not in _TLV_STATES:
            raise ReportError(f"delivery report with unknown message_state {message_state}")
        return _TLV_STATES[message_state]
    if stat is None or not stat.strip():
        raise ReportError(f"delivery report without stat: {text[:80]!r}")
    word = stat.split()[0].upper()
    return _TEXT_STATES.get(word, ReportState.UNKNOWN)


def _error_code(err: str | None, network_error: bytes | None) -> str | None:
    if err == "000" and network_error is None:
        return None  # the usual "no error", without the general case's splitting
    if err is not None:
        code = err.strip().split()[0] if err.strip() else ""
        if code and code.strip("0"):
            return code
    if network_error is not None and len(network_error) == 3:
        code_value = int.from_bytes(network_error[1:3], "big")
        if code_value:
            return f"{network_error[0]}:{code_value}"
    return None


def normalise_id(raw: str, written_as: IdFormat, shown_as: IdFormat | None = None) -> str:
    """The canonical form of a carrier message id, for matching and for display.

    `written_as` is how this side (submit_sm_resp or report) writes ids; `shown_as`
    is the form both sides are turned into (the connector's submit id format),
    so a hex submit id and its decimal report id come out equal. Raises
    ValueError naming the id when it is not a number of the announced base.
    """
    target = shown_as or written_as
    cleaned = raw.strip().strip("\x00").strip()
    if written_as is IdFormat.TEXT:
        lowered = cleaned.lower()
        return lowered.lstrip("0") or ("0" if lowered else "")
    number = _as_number(cleaned, written_as)
    return format(number, "x") if target is IdFormat.HEX else str(number)


def _as_number(cleaned: str, written_as: IdFormat) -> int:
    hexadecimal = written_as is IdFormat.HEX
    digits = cleaned[2:] if hexadecimal and cleaned[:2] in ("0x", "0X") else cleaned
    # ASCII letters and digits only (int() alone would take "_", signs and spaces); int()
    # then refuses letters past f. Cheaper than a regex, and this runs twice per message.
    if digits.isascii() and (digits.isalnum() if hexadecimal else digits.isdigit()):
        try:
            return int(digits, 16 if hexadecimal else 10)
        except ValueError:
            pass
    kind = "hexadecimal" if hexadecimal else "decimal"
    raise ValueError(f"message id {cleaned!r} is not {kind}")
