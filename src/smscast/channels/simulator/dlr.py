"""Delivery reports as carriers send them: a deliver_sm with esm_class 0x04 whose
short_message is the Appendix B text and whose TLVs say the same in numbers.

Both forms are always sent, so a client can be tested on either: the text
`id:… sub:001 dlvrd:001 submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DELIVRD
err:000 text:…` and the receipted_message_id, message_state and (on failure)
network_error_code TLVs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime

from smscast.channels.simulator.config import SimulatorConfig
from smscast.channels.smpp import pdu
from smscast.channels.smpp.constants import (
    ESM_TYPE_DELIVERY_RECEIPT,
    RECEIPT_STAT,
    REG_RECEIPT_ALWAYS,
    REG_RECEIPT_MASK,
    REG_RECEIPT_ON_FAILURE,
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


@dataclass(slots=True)
class Submitted:
    """What the simulator remembers of one accepted message until its report."""

    message_id: str
    report_id: str  # the id as the report writes it (may differ in form)
    source_addr: str
    source_addr_ton: int
    source_addr_npi: int
    destination_addr: str
    dest_addr_ton: int
    dest_addr_npi: int
    registered_delivery: int
    submitted_at: float  # time.time(), turned into a date only if a report is sent
    text: str  # the first 20 characters, for the text: field
    system_id: str | None = None  # the ESME whose receiver gets the report
    state: int = MessageState.ENROUTE
    final_at: datetime | None = None


def report_id(number: int, config: SimulatorConfig) -> tuple[str, str]:
    """(submit_sm_resp id, delivery report id) of the `number`th message."""
    message_id = format_id(number, config.message_ids)
    form = config.message_ids if config.dlr_ids == "same" else config.dlr_ids
    return message_id, format_id(number, form)


def format_id(number: int, form: str) -> str:
    return f"{number:x}" if form == "hex" else str(number)


def draw_outcome(rng: random.Random, weights: tuple[float, float, float, float]) -> int:
    return rng.choices(OUTCOMES, weights)[0]


def wants_report(registered_delivery: int, state: int) -> bool:
    """Whether the ESME asked for a report on this outcome (section 5.2.17)."""
    asked = registered_delivery & REG_RECEIPT_MASK
    if asked == REG_RECEIPT_ALWAYS:
        return True
    return asked == REG_RECEIPT_ON_FAILURE and state != MessageState.DELIVERED


def receipt_text(message: Submitted, state: int, done_at: datetime) -> str:
    delivered = 1 if state == MessageState.DELIVERED else 0
    submitted_at = datetime.fromtimestamp(message.submitted_at, UTC)
    return (
        f"id:{message.report_id} sub:001 dlvrd:{delivered:03d} "
        f"submit date:{submitted_at:%y%m%d%H%M} done date:{done_at:%y%m%d%H%M} "
        f"stat:{RECEIPT_STAT[state]} err:{ERROR_CODES.get(state, 0):03d} "
        f"text:{message.text}"
    )


def build_report(message: Submitted, state: int, done_at: datetime) -> pdu.DeliverSm:
    """The deliver_sm that reports `state` for `message`, from the recipient back."""
    tlvs: dict[int, bytes] = {
        Tag.RECEIPTED_MESSAGE_ID: pdu.tlv_cstring(message.report_id),
        Tag.MESSAGE_STATE: bytes((state,)),
    }
    error = ERROR_CODES.get(state, 0)
    if error:
        tlvs[Tag.NETWORK_ERROR_CODE] = bytes((_GSM_ERROR,)) + error.to_bytes(2, "big")
    return pdu.DeliverSm(
        source_addr_ton=message.dest_addr_ton,
        source_addr_npi=message.dest_addr_npi,
        source_addr=message.destination_addr,
        dest_addr_ton=message.source_addr_ton,
        dest_addr_npi=message.source_addr_npi,
        destination_addr=message.source_addr,
        esm_class=ESM_TYPE_DELIVERY_RECEIPT,
        short_message=receipt_text(message, state, done_at).encode("ascii"),
        tlvs=tlvs,
    )


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
    return "".join(c if " " <= c <= "~" else "?" for c in text[:20])
