"""Turning one outgoing message into the submit_sm bodies of its parts.

The message core cuts and encodes the text (`wire_parts`); this module adds what
the connector's settings decide: addresses with their TON/NPI, UDH or SAR TLVs,
registered_delivery, validity. Each part is encoded once, without its header,
so a part pushed back by the carrier is resent with a new sequence number at
the cost of one `struct.pack`.
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta
from typing import Literal

from smscast.channels.base import OutgoingMessage
from smscast.channels.smpp import pdu
from smscast.channels.smpp.constants import ESM_UDHI, CommandId, Tag
from smscast.channels.smpp.settings import SmppSettings
from smscast.core.errors import UserError
from smscast.core.parts import DC_GSM7, DC_LATIN1, DC_UCS2, WirePart, wire_parts

_HEADER = struct.Struct(">IIII")
SUBMIT_SM = int(CommandId.SUBMIT_SM)


def submit_frame(body: bytes, sequence_number: int) -> bytes:
    """A whole submit_sm PDU from a body made by `compose_parts`."""
    return _HEADER.pack(16 + len(body), SUBMIT_SM, 0, sequence_number) + body


def compose_parts(message: OutgoingMessage, settings: SmppSettings, reference: int) -> list[bytes]:
    """The submit_sm body of each part, in order.

    Raises UserError when the text cannot be sent at all (too long, not
    encodable) and pdu.PduError when an address does not fit the PDU; both name
    what is wrong and fail only this message.
    """
    parts = _encode_text(message, settings, reference)
    source_ton, source_npi, source = source_address(message.sender, settings)
    destination = message.recipient.lstrip("+")
    validity = validity_period(message.valid_until, settings.validity_s)
    registered = settings.registered_delivery if message.want_report else 0
    head = _fixed_fields(
        settings.service_type,
        source_ton,
        source_npi,
        source,
        settings.dest_ton,
        settings.dest_npi,
        destination,
        validity,
    )
    if head is not None and 0 <= registered <= 0xFF:
        # The fields all parts share were checked once: each part is a concatenation.
        before, after = head
        bodies = []
        for part in parts:
            sm = part.short_message
            if len(sm) > 254:
                break  # the codec below names the fault
            tlvs = b""
            if part.sar is not None:
                ref, total, seq = part.sar
                tlvs = _SAR.pack(_SAR_REF, 2, ref, _SAR_TOTAL, 1, total, _SAR_SEQ, 1, seq)
            esm = ESM_UDHI if part.udhi else 0
            tail = bytes((registered, 0, part.data_coding, 0, len(sm)))
            bodies.append(b"".join((before, bytes((esm,)), after, tail, sm, tlvs)))
        else:
            return bodies
    return [
        _encoded_body(
            part, settings, source_ton, source_npi, source, destination, validity, registered
        )
        for part in parts
    ]


# One part's SAR TLVs (reference, total, sequence) in one pack.
_SAR = struct.Struct(">HHHHHBHHB")
_SAR_REF = int(Tag.SAR_MSG_REF_NUM)
_SAR_TOTAL = int(Tag.SAR_TOTAL_SEGMENTS)
_SAR_SEQ = int(Tag.SAR_SEGMENT_SEQNUM)


def _fixed_fields(
    service_type: str,
    source_ton: int,
    source_npi: int,
    source: str,
    dest_ton: int,
    dest_npi: int,
    destination: str,
    validity: str,
) -> tuple[bytes, bytes] | None:
    """The submit_sm octets before esm_class and from protocol_id to validity_period,
    the same for every part of a message; None when a field does not fit its C-octet
    string (the general codec then names it)."""
    try:
        st = service_type.encode("latin-1")
        src = source.encode("latin-1")
        dst = destination.encode("latin-1")
        valid = validity.encode("latin-1")
    except UnicodeEncodeError:
        return None
    fits = (
        len(st) < 6
        and len(src) < 21
        and len(dst) < 21
        and len(valid) < 17
        and not (0 in st or 0 in src or 0 in dst or 0 in valid)
        and min(source_ton, source_npi, dest_ton, dest_npi) >= 0
        and max(source_ton, source_npi, dest_ton, dest_npi) <= 0xFF
    )
    if not fits:
        return None
    before = b"%b\0%c%c%b\0%c%c%b\0" % (st, source_ton, source_npi, src, dest_ton, dest_npi, dst)
    # protocol_id 0, priority_flag 0, schedule_delivery_time empty, validity_period
    return before, b"\0\0\0%b\0" % valid


def _encoded_body(
    part: WirePart,
    settings: SmppSettings,
    source_ton: int,
    source_npi: int,
    source: str,
    destination: str,
    validity: str,
    registered: int,
) -> bytes:
    """One part through the PDU codec, which raises a PduError naming what does not fit."""
    tlvs: dict[int, bytes] = {}
    if part.sar is not None:
        ref, total, seq = part.sar
        tlvs[Tag.SAR_MSG_REF_NUM] = pdu.tlv_int(ref, 2)
        tlvs[Tag.SAR_TOTAL_SEGMENTS] = pdu.tlv_int(total, 1)
        tlvs[Tag.SAR_SEGMENT_SEQNUM] = pdu.tlv_int(seq, 1)
    submit = pdu.SubmitSm(
        service_type=settings.service_type,
        source_addr_ton=source_ton,
        source_addr_npi=source_npi,
        source_addr=source,
        dest_addr_ton=settings.dest_ton,
        dest_addr_npi=settings.dest_npi,
        destination_addr=destination,
        esm_class=ESM_UDHI if part.udhi else 0,
        validity_period=validity,
        registered_delivery=registered,
        data_coding=part.data_coding,
        short_message=part.short_message,
        tlvs=tlvs,
    )
    return submit.encode()[16:]


def _encode_text(message: OutgoingMessage, settings: SmppSettings,
                 reference: int) -> list[WirePart]:  # fmt: skip
    """Parts in the connector's alphabet, or in UCS-2 when the text does not fit it.

    The national tables are the ones the engine chose and counted for this message
    (`OutgoingMessage.national`), so the parts sent are the parts billed; a message
    that names none is planned with the tables the settings allow.
    """
    text = message.text
    tables: tuple[str, ...]
    if message.national is not None:
        national, tables = message.national, ()
    else:
        national = (settings.national_locking, settings.national_single)
        tables = settings.national_tables
    bits = settings.reference_bits
    concat: Literal["udh", "sar"] = "sar" if settings.concat == "sar" else "udh"
    if settings.data_coding == DC_LATIN1:
        try:
            return wire_parts(
                text,
                reference=reference,
                concat=concat,
                reference_bits=bits,
                data_coding=DC_LATIN1,
            )
        except UserError as exc:
            if exc.problem.code != "encoding.not_latin1":
                raise
    coding = None if settings.data_coding == DC_GSM7 else DC_UCS2
    return wire_parts(
        text,
        reference=reference,
        concat=concat,
        reference_bits=bits,
        data_coding=coding,
        national=national,
        tables=tables,
    )


def source_address(sender: str, settings: SmppSettings) -> tuple[int, int, str]:
    """(TON, NPI, address) for a sender: +E.164, a short code or an alphanumeric name.

    The connector's source_ton/source_npi win when set; carriers disagree on
    what a short code is, so those two are the usual knobs to turn.
    """
    if sender.startswith("+") and sender[1:].isdigit():
        ton, npi, address = 1, 1, sender[1:]
    elif sender.isdigit():
        ton, npi, address = (3, 0, sender) if len(sender) <= 8 else (1, 1, sender)
    else:
        ton, npi, address = 5, 0, sender
    if settings.source_ton is not None:
        ton = settings.source_ton
    if settings.source_npi is not None:
        npi = settings.source_npi
    return ton, npi, address


def validity_period(valid_until: datetime | None, validity_s: int | None) -> str:
    """SMPP time: absolute UTC for a message deadline, else relative, else empty."""
    if valid_until is not None:
        at = valid_until.astimezone(UTC) if valid_until.tzinfo else valid_until
        return at.strftime("%y%m%d%H%M%S") + f"{at.microsecond // 100_000}00+"
    if validity_s:
        span = timedelta(seconds=validity_s)
        days, rest = span.days, span.seconds
        years, days = divmod(days, 365)
        months, days = divmod(days, 30)
        hours, rest = divmod(rest, 3600)
        minutes, seconds = divmod(rest, 60)
        return f"{years:02}{months:02}{days:02}{hours:02}{minutes:02}{seconds:02}000R"
    return ""
