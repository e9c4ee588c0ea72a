"""Delivery reports as carriers send them: a deliver_sm with esm_class 0x04 whose
short_message is the Appendix B text and whose TLVs say the same in numbers.

Both forms are always sent, so a client can be tested on either: the text
`id:… sub:001 dlvrd:001 submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DELIVRD
err:000 text:…` and the receipted_message_id, message_state and (on failure)
network_error_code TLVs.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import random
import re
import struct
from datetime import UTC, datetime
from typing import NamedTuple

from smscast.channels.simulator.config import SimulatorConfig
from smscast.channels.smpp import pdu
from smscast.channels.smpp.constants import (
    ESM_TYPE_DELIVERY_RECEIPT,
    ESM_UDHI,
    RECEIPT_STAT,
    REG_RECEIPT_ALWAYS,
    REG_RECEIPT_MASK,
    REG_RECEIPT_ON_FAILURE,
    CommandId,
    MessageState,
    Tag,
)

OUTCOMES = (
    MessageState.DELIVERED,
    MessageState.UNDELIVERABLE,
    MessageState.EXPIRED,
    MessageState.REJECTED,
)

#: The err: value (and GSM network error) each outcome carries: 0 for success;
#: GSM MAP causes for failures (1 unknown subscriber, 27 absent subscriber,
#: 11 teleservice not provisioned), as real SMSCs tend to report them.
ERROR_CODES: dict[int, int] = {
    MessageState.DELIVERED: 0,
    MessageState.UNDELIVERABLE: 1,
    MessageState.EXPIRED: 27,
    MessageState.REJECTED: 11,
}
_GSM_ERROR = 3  # network_error_code type: GSM
# Plain ints: a report is built per message, and enum attribute lookups add up.
_RECEIPTED_MESSAGE_ID = int(Tag.RECEIPTED_MESSAGE_ID)
_MESSAGE_STATE = int(Tag.MESSAGE_STATE)
_NETWORK_ERROR_CODE = int(Tag.NETWORK_ERROR_CODE)


Address = tuple[int, int, str]  # TON, NPI, digits


class Submitted(NamedTuple):
    """What the simulator remembers of one accepted message until its report.

    A tuple of immutable values, not the decoded request: the garbage collector
    stops tracking such tuples, so a hundred thousand remembered messages cost
    it nothing, where as many live objects would slow every collection.
    """

    message_id: str
    report_id: str  # the id as the report writes it (may differ in form)
    system_id: str | None  # the ESME whose receiver gets the report
    registered_delivery: int  # what reports the ESME asked for
    submitted_at: float  # time.time()
    sender: Address
    recipient: Address
    text: str  # the report's text: field (empty when no report was asked for)


def remember(
    request: pdu.SubmitSm | pdu.DataSm | pdu.SubmitMulti,
    ids: tuple[str, str],
    system_id: str | None,
    now: float,
) -> list[Submitted]:
    """One record per recipient (submit_multi has several) of an accepted submit."""
    registered = request.registered_delivery
    text = ""
    if registered & REG_RECEIPT_MASK:
        text = preview(body_of(request), request.data_coding, bool(request.esm_class & ESM_UDHI))
    sender = (request.source_addr_ton, request.source_addr_npi, request.source_addr)
    if isinstance(request, pdu.SubmitMulti):
        recipients = [(d.ton, d.npi, d.address) for d in request.dest_addresses]
    else:
        recipients = [(request.dest_addr_ton, request.dest_addr_npi, request.destination_addr)]
    return [
        Submitted(ids[0], ids[1], system_id, registered, now, sender, recipient, text)
        for recipient in recipients
    ]


def remember_fields(
    fields: pdu.ShortMessageFields, ids: tuple[str, str], system_id: str | None, now: float
) -> Submitted:
    """`remember` for a submit_sm read with `pdu.read_short_message` (the fast path)."""
    registered = fields.registered_delivery
    text = ""
    if registered & REG_RECEIPT_MASK:
        text = preview(fields.short_message, fields.data_coding, bool(fields.esm_class & ESM_UDHI))
    return Submitted(
        ids[0],
        ids[1],
        system_id,
        registered,
        now,
        (fields.source_addr_ton, fields.source_addr_npi, fields.source_addr),
        (fields.dest_addr_ton, fields.dest_addr_npi, fields.destination_addr),
        text,
    )


def report_id(number: int, config: SimulatorConfig) -> tuple[str, str]:
    """(submit_sm_resp id, delivery report id) of the `number`th message."""
    message_id = format_id(number, config.message_ids)
    form = config.message_ids if config.dlr_ids == "same" else config.dlr_ids
    return message_id, format_id(number, form)


def format_id(number: int, form: str) -> str:
    return f"{number:x}" if form == "hex" else str(number)


class OutcomeDraw:
    """Draws DELIVRD/UNDELIV/EXPIRED/REJECTD with the configured weights."""

    def __init__(self, rng: random.Random, weights: tuple[float, float, float, float]) -> None:
        self.random = rng.random
        total = sum(weights)
        self.bounds = list(itertools.accumulate(w / total for w in weights))

    def __call__(self) -> int:
        index = bisect.bisect(self.bounds, self.random())
        return OUTCOMES[min(index, len(OUTCOMES) - 1)]


def wants_report(registered_delivery: int, state: int) -> bool:
    """Whether the ESME asked for a report on this outcome (section 5.2.17)."""
    asked = registered_delivery & REG_RECEIPT_MASK
    if asked == REG_RECEIPT_ALWAYS:
        return True
    return asked == REG_RECEIPT_ON_FAILURE and state != MessageState.DELIVERED


@functools.lru_cache(maxsize=4096)
def receipt_date(minute: int) -> str:
    """YYMMDDhhmm (UTC) of a time.time() // 60; cached, as reports come in bursts."""
    return f"{datetime.fromtimestamp(minute * 60, UTC):%y%m%d%H%M}"


def body_of(request: pdu.SubmitSm | pdu.DataSm | pdu.SubmitMulti) -> bytes:
    if isinstance(request, pdu.DataSm):
        return request.tlvs.get(Tag.MESSAGE_PAYLOAD, b"")
    return request.short_message or request.tlvs.get(Tag.MESSAGE_PAYLOAD, b"")


def receipt_text(message: Submitted, state: int, done_at: float) -> str:
    return (
        f"id:{message.report_id} sub:001 dlvrd:{int(state == MessageState.DELIVERED):03d} "
        f"submit date:{receipt_date(int(message.submitted_at) // 60)} "
        f"done date:{receipt_date(int(done_at) // 60)} "
        f"stat:{RECEIPT_STAT[state]} err:{ERROR_CODES.get(state, 0):03d} text:{message.text}"
    )


def build_report(message: Submitted, state: int, done_at: float) -> pdu.DeliverSm:
    """The deliver_sm that reports `state` for `message`, from the recipient back."""
    tlvs = {
        _RECEIPTED_MESSAGE_ID: pdu.tlv_cstring(message.report_id),
        _MESSAGE_STATE: bytes((state,)),
    }
    error = ERROR_CODES.get(state, 0)
    if error:
        tlvs[_NETWORK_ERROR_CODE] = bytes((_GSM_ERROR,)) + error.to_bytes(2, "big")
    recipient, sender = message.recipient, message.sender
    return pdu.DeliverSm(
        source_addr_ton=recipient[0],
        source_addr_npi=recipient[1],
        source_addr=recipient[2],
        dest_addr_ton=sender[0],
        dest_addr_npi=sender[1],
        destination_addr=sender[2],
        esm_class=ESM_TYPE_DELIVERY_RECEIPT,
        short_message=receipt_text(message, state, done_at).encode("ascii"),
        tlvs=tlvs,
    )


_REPORT_HEAD = struct.Struct(">IIII")
_DELIVER_SM = int(CommandId.DELIVER_SM)
# deliver_sm body: service_type "", source (the recipient), destination (the sender),
# esm_class 0x04, protocol_id, priority_flag, no schedule or validity, registered_delivery,
# replace_if_present_flag, data_coding, sm_default_msg_id 0, then short_message and the
# receipted_message_id and message_state TLVs.
_REPORT_BODY = b"\0%c%c%b\0%c%c%b\0%c\0\0\0\0\0\0\0\0%c%b\0\x1e%c%c%b\0\x04\x27\0\x01%c"
_NETWORK_ERROR_TLV = struct.Struct(">HHBH")


def encode_report(message: Submitted, state: int, done_at: float) -> bytes:
    """`build_report(...).encode()` without the PDU object: the same octets (sequence
    number 0, which `Session.deliver` sets), at a fraction of the cost, because the
    simulator writes one per submit."""
    recipient, sender = message.recipient, message.sender
    try:
        source, destination = recipient[2].encode("latin-1"), sender[2].encode("latin-1")
        receipted = message.report_id.encode("ascii")
        preview_text = message.text.encode("ascii")
    except UnicodeEncodeError:
        return build_report(message, state, done_at).encode()
    dlvrd, stat, err = _STATE_WORDS[state]
    text = _RECEIPT % (
        receipted,
        dlvrd,
        _receipt_date(int(message.submitted_at) // 60),
        _receipt_date(int(done_at) // 60),
        stat,
        err,
        preview_text,
    )
    plain = (
        len(source) < 21
        and len(destination) < 21
        and len(text) < 255
        and len(receipted) < 0xFFFF
        and not (0 in source or 0 in destination or 0 in receipted)
        and max(recipient[0], recipient[1], sender[0], sender[1]) <= 0xFF
    )
    if not plain:
        return build_report(message, state, done_at).encode()  # the codec names the fault
    receipted_length = len(receipted) + 1
    body = _REPORT_BODY % (
        recipient[0],
        recipient[1],
        source,
        sender[0],
        sender[1],
        destination,
        ESM_TYPE_DELIVERY_RECEIPT,
        len(text),
        text,
        receipted_length >> 8,
        receipted_length & 0xFF,
        receipted,
        state,
    )
    error = ERROR_CODES.get(state, 0)
    if error:
        body += _NETWORK_ERROR_TLV.pack(_NETWORK_ERROR_CODE, 3, _GSM_ERROR, error)
    return _REPORT_HEAD.pack(16 + len(body), _DELIVER_SM, 0, 0) + body


# `receipt_text` as bytes, with each state's dlvrd, stat and err words ready.
_RECEIPT = b"id:%b sub:001 dlvrd:%b submit date:%b done date:%b stat:%b err:%b text:%b"
_STATE_WORDS: dict[int, tuple[bytes, bytes, bytes]] = {
    int(state): (
        b"001" if state == MessageState.DELIVERED else b"000",
        word.encode("ascii"),
        b"%03d" % ERROR_CODES.get(state, 0),
    )
    for state, word in RECEIPT_STAT.items()
}


@functools.lru_cache(maxsize=4096)
def _receipt_date(minute: int) -> bytes:
    return receipt_date(minute).encode("ascii")


def preview(short_message: bytes, data_coding: int, udhi: bool) -> str:
    """The first 20 characters of a submitted text, in printable ASCII, for `text:`.

    Cheap on purpose (it runs for every reported message): the user data header
    is skipped, UCS-2 is read as UTF-16, anything else octet by octet, which is
    right for the letters and digits of GSM-7 and Latin-1. Whatever is not
    printable ASCII shows as '?' so the report stays ASCII.
    """
    body = short_message
    if udhi and body:
        body = body[1 + body[0] :]
    if data_coding == 8:
        text = body[:40].decode("utf-16-be", "replace")
    else:
        text = body[:20].decode("latin-1")
    text = text[:20]
    if text.isascii() and text.isprintable():
        return text
    return _NOT_PRINTABLE.sub("?", text)


_NOT_PRINTABLE = re.compile("[^ -~]")
