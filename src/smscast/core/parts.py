"""Parts on the wire: splitting a text, the SMPP form of each part, and the way back.

Outbound, `wire_parts` gives each part's `short_message` with its user data header
(concatenation and national language shift IEs) or the SAR values for an SMSC that
builds the header itself.  Inbound, `decode_short_message` and `reassemble` undo
that for mobile-originated messages, refusing garbage with a clear error.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

from smscast.core.alphabet import LOCKING_SHIFT_IEI, SINGLE_SHIFT_IEI, alphabet_for
from smscast.core.encoding import (
    MAX_PARTS,
    NO_TABLES,
    National,
    TextInfo,
    check_sendable,
    check_text,
    concat_ie_length,
    plan_text,
    plan_ucs2,
)
from smscast.core.errors import UserError
from smscast.core.national import LANGUAGE_BY_ID, NationalTables

DC_GSM7 = 0
DC_LATIN1 = 3
DC_UCS2 = 8
_GSM_DATA_CODINGS = frozenset({0x00, 0xF0, 0xF1, 0xF2, 0xF3})
CONCAT_8BIT_IEI = 0x00
CONCAT_16BIT_IEI = 0x08
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class WirePart:
    short_message: bytes
    """What goes in SMPP short_message (the UDH included when `udhi`)."""
    data_coding: int
    """0 GSM-7 (one septet per octet, unpacked, as SMPP carries it), 8 UCS-2, 3 Latin-1."""
    udhi: bool
    """Set esm_class 0x40."""
    sar: tuple[int, int, int] | None
    """(sar_msg_ref_num, sar_total_segments, sar_segment_seqnum) when concat="sar"."""


@dataclass(frozen=True, slots=True)
class DecodedPart:
    text: str
    concat: tuple[int, int, int] | None
    """(reference, total, seq) from UDH IE 0x00 or 0x08, or SAR TLVs."""


class SplitText(NamedTuple):
    info: TextInfo
    parts: tuple[str, ...]


def split_text(
    text: str,
    *,
    national: National = (None, None),
    tables: NationalTables = NO_TABLES,
    reference_bits: int = 8,
) -> SplitText:
    """The text of each part, cut where the phone will see the cuts (none for an empty text)."""
    plan = plan_text(text, national=national, tables=tables, reference_bits=reference_bits)
    ends = plan.ends
    if not ends:
        return SplitText(plan.info, ())
    if len(ends) == 1:
        return SplitText(plan.info, (text,))
    starts = (0, *ends[:-1])
    return SplitText(plan.info, tuple([text[a:b] for a, b in zip(starts, ends, strict=True)]))


def _concat_ie(reference: int, total: int, seq: int, reference_bits: int) -> bytes:
    if reference_bits == 8:
        return bytes((CONCAT_8BIT_IEI, 3, reference & 0xFF, total, seq))
    ref = reference & 0xFFFF
    return bytes((CONCAT_16BIT_IEI, 4, ref >> 8, ref & 0xFF, total, seq))


def _with_udh(ies: bytes, body: bytes) -> bytes:
    return bytes((len(ies),)) + ies + body if ies else body


def _latin1_parts(text: str, reference_bits: int) -> list[str]:
    check_text(text)
    try:
        text.encode("latin-1")
    except UnicodeEncodeError as exc:
        raise UserError.of(
            "encoding.not_latin1",
            f"character {exc.start + 1} ({text[exc.start]!r}) is not in Latin-1 (data_coding 3)",
            field="text",
            column=exc.start + 1,
        ) from None
    if len(text) <= 140:
        return [text]
    per_part = 140 - 1 - concat_ie_length(reference_bits)
    parts = [text[i : i + per_part] for i in range(0, len(text), per_part)]
    if len(parts) > MAX_PARTS:
        raise UserError.of(
            "encoding.too_long",
            f"the text needs {len(parts)} Latin-1 parts; at most {MAX_PARTS}",
            field="text",
        )
    return parts


def _encoded_bodies(
    text: str,
    data_coding: int | None,
    national: National,
    tables: NationalTables,
    reference_bits: int,
) -> tuple[list[bytes], int, bytes]:
    """(part bodies, data_coding used, national IEs every part carries)."""
    if data_coding == DC_LATIN1:
        return [p.encode("latin-1") for p in _latin1_parts(text, reference_bits)], DC_LATIN1, b""
    if data_coding == DC_UCS2:
        plan = plan_ucs2(text, reference_bits=reference_bits)
    elif data_coding in (None, DC_GSM7):
        plan = plan_text(text, national=national, tables=tables, reference_bits=reference_bits)
    else:
        raise UserError.of(
            "encoding.data_coding",
            f"data_coding {data_coding} is not one smscast sends; use 0, 3 or 8",
            field="data_coding",
        )
    alphabet = plan.alphabet
    if data_coding == DC_GSM7 and alphabet is None:
        shown = " ".join(plan.info.non_gsm)
        raise UserError.of(
            "encoding.not_gsm7",
            f"data_coding 0 (GSM-7) cannot carry {shown}; send it as UCS-2 (8)",
            field="text",
        )
    ends = plan.ends
    starts = (0, *ends[:-1])
    pieces = [text] if len(ends) == 1 else [text[a:b] for a, b in zip(starts, ends, strict=True)]
    if alphabet is not None:
        return [alphabet.encode(p) for p in pieces], DC_GSM7, plan.header
    return [p.encode("utf-16-be") for p in pieces], DC_UCS2, b""


def wire_parts(
    text: str,
    *,
    reference: int,
    concat: Literal["udh", "sar"] = "udh",
    reference_bits: int = 8,
    data_coding: int | None = None,
    national: National = (None, None),
    tables: NationalTables = NO_TABLES,
) -> list[WirePart]:
    """Each part of `text` as SMPP carries it.

    `data_coding` None picks GSM-7 when the text fits the alphabet in use, else UCS-2;
    0, 3 or 8 force that coding and fail clearly when the text cannot be carried in it.
    `national` and `tables` allow national shift tables as `plan_text` does; every
    part then names them in its header (IEs 0x24/0x25, after the concatenation IE).
    `reference` is masked to `reference_bits`, as counters wrap.  An empty text is
    refused: there is nothing to send.
    """
    concat_ie_length(reference_bits)  # validates reference_bits
    if not text:
        check_sendable(text)  # an empty text has no part to send
    bodies, coding, header = _encoded_bodies(text, data_coding, national, tables, reference_bits)
    total = len(bodies)
    if total == 1:
        return [WirePart(_with_udh(header, bodies[0]), coding, bool(header), None)]
    out: list[WirePart] = []
    mask = 0xFF if reference_bits == 8 else 0xFFFF
    for seq, body in enumerate(bodies, start=1):
        if concat == "udh":
            ies = _concat_ie(reference, total, seq, reference_bits) + header
            out.append(WirePart(_with_udh(ies, body), coding, True, None))
        else:
            sar = (reference & mask, total, seq)
            out.append(WirePart(_with_udh(header, body), coding, bool(header), sar))
    return out


@dataclass(frozen=True, slots=True)
class _Header:
    concat: tuple[int, int, int] | None = None
    single: str | None = None
    locking: str | None = None


def _bad_pdu(message: str) -> UserError:
    return UserError.of("pdu.invalid", message, field="short_message")


def _language(ie_data: bytes, kind: str) -> str:
    language = LANGUAGE_BY_ID.get(ie_data[0])
    if language is None:
        raise _bad_pdu(f"{kind} shift IE names unknown national language id {ie_data[0]}")
    return language


def _concat_values(iei: int, data: bytes) -> tuple[int, int, int]:
    reference = data[0] if iei == CONCAT_8BIT_IEI else (data[0] << 8) | data[1]
    total, seq = data[-2], data[-1]
    if total == 0 or not 1 <= seq <= total:
        raise _bad_pdu(f"concatenation IE says part {seq} of {total}")
    return reference, total, seq


def _parse_udh(payload: bytes) -> tuple[_Header, bytes]:
    """Splits a user data header from the body and reads the IEs smscast understands."""
    if not payload:
        raise _bad_pdu("udhi is set but short_message is empty")
    udhl = payload[0]
    if 1 + udhl > len(payload):
        raise _bad_pdu(f"user data header says {udhl} octets but only {len(payload) - 1} follow")
    udh, body = payload[1 : 1 + udhl], payload[1 + udhl :]
    expected = {CONCAT_8BIT_IEI: 3, CONCAT_16BIT_IEI: 4, SINGLE_SHIFT_IEI: 1, LOCKING_SHIFT_IEI: 1}
    header = _Header()
    i = 0
    while i < len(udh):
        if i + 2 > len(udh):
            raise _bad_pdu(f"user data header is cut inside an IE at octet {i + 1}")
        iei, length = udh[i], udh[i + 1]
        data = udh[i + 2 : i + 2 + length]
        if len(data) != length:
            raise _bad_pdu(f"IE 0x{iei:02X} says {length} octets but only {len(data)} remain")
        if iei in expected and length != expected[iei]:
            raise _bad_pdu(f"IE 0x{iei:02X} must be {expected[iei]} octets, not {length}")
        if iei in (CONCAT_8BIT_IEI, CONCAT_16BIT_IEI):
            header = _Header(_concat_values(iei, data), header.single, header.locking)
        elif iei == SINGLE_SHIFT_IEI:
            header = _Header(header.concat, _language(data, "single"), header.locking)
        elif iei == LOCKING_SHIFT_IEI:
            header = _Header(header.concat, header.single, _language(data, "locking"))
        i += 2 + length
    return header, body


def _decode_ucs2(body: bytes, concatenated: bool) -> str:
    if len(body) % 2:
        raise _bad_pdu(f"UCS-2 text has an odd number of octets ({len(body)})")
    text = body.decode("utf-16-be", "surrogatepass")
    lone = _lone_surrogate(text)
    # A phone may cut a surrogate pair across two parts; keep the halves at the cut
    # for `reassemble` to join, refuse any other.
    if lone is not None and not (concatenated and lone in (0, len(text) - 1)):
        raise _bad_pdu(f"UCS-2 text has half a surrogate pair at character {lone + 1}")
    return text


def _lone_surrogate(text: str) -> int | None:
    i = 0
    while i < len(text):
        c = text[i]
        if "\ud800" <= c <= "\udbff" and i + 1 < len(text) and "\udc00" <= text[i + 1] <= "\udfff":
            i += 2
            continue
        if "\ud800" <= c <= "\udfff":
            return i
        i += 1
    return None


def _decode_gsm(body: bytes, header: _Header) -> str:
    for offset, value in enumerate(body):
        if value > 0x7F:
            raise _bad_pdu(f"octet {offset + 1} (0x{value:02X}) is not a GSM-7 septet")
    return alphabet_for(header.locking, header.single).decode(body)


def decode_short_message(payload: bytes, *, data_coding: int, udhi: bool) -> DecodedPart:
    """The text and concatenation values of one inbound short_message."""
    header, body = _parse_udh(payload) if udhi else (_Header(), payload)
    if data_coding in _GSM_DATA_CODINGS:
        text = _decode_gsm(body, header)
    elif data_coding == DC_UCS2:
        text = _decode_ucs2(body, header.concat is not None)
    elif data_coding == DC_LATIN1:
        text = body.decode("latin-1")
    elif data_coding == 1:
        try:
            text = body.decode("ascii")
        except UnicodeDecodeError as exc:
            raise _bad_pdu(f"octet {exc.start + 1} is not IA5 (ASCII) text") from None
    else:
        raise _bad_pdu(f"data_coding {data_coding} is not a text coding smscast reads")
    return DecodedPart(text, header.concat)


def reassemble(parts: Sequence[DecodedPart]) -> str:
    """The message the parts came from; refuses a mix of messages or a missing part."""
    if not parts:
        raise _bad_pdu("no parts to reassemble")
    if len(parts) == 1 and parts[0].concat is None:
        return _join_surrogates(parts[0].text)
    by_seq: dict[int, str] = {}
    first = parts[0].concat
    if first is None:
        raise _bad_pdu("several parts, but not all carry concatenation values")
    for part in parts:
        if part.concat is None:
            raise _bad_pdu("several parts, but not all carry concatenation values")
        reference, total, seq = part.concat
        if (reference, total) != first[:2]:
            raise _bad_pdu(
                f"parts of different messages: reference {reference} of {total} "
                f"and reference {first[0]} of {first[1]}"
            )
        if by_seq.setdefault(seq, part.text) != part.text:
            raise _bad_pdu(f"two different texts for part {seq} of message {reference}")
    missing = [seq for seq in range(1, first[1] + 1) if seq not in by_seq]
    if missing:
        shown = ", ".join(str(s) for s in missing[:10])
        raise _bad_pdu(f"message {first[0]} is missing part(s) {shown} of {first[1]}")
    return _join_surrogates("".join(by_seq[seq] for seq in range(1, first[1] + 1)))


def _join_surrogates(text: str) -> str:
    if _SURROGATE.search(text) is None:
        return text
    if _lone_surrogate(text) is None:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
    raise _bad_pdu("the message has half a surrogate pair that no other part completes")
