"""The texts the simulator was handed, decoded as a phone would show them.

A test (or a person at the simulator's console) checks what reached the "phone":
each submit's user data header is read (concatenation, and the national language
single and locking shift IEs of 3GPP TS 23.040 9.2.3.24.15/16 with which the
septets are decoded), and the parts of one message are joined again.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from smscast.channels.smpp import pdu
from smscast.channels.smpp.constants import ESM_UDHI, Tag
from smscast.core.parts import DecodedPart, decode_short_message, reassemble


class ReceivedText(NamedTuple):
    recipient: str
    text: str
    parts: int


def _sar(tlvs: dict[int, bytes]) -> tuple[int, int, int] | None:
    ref = pdu.read_tlv_int(tlvs, Tag.SAR_MSG_REF_NUM)
    total = pdu.read_tlv_int(tlvs, Tag.SAR_TOTAL_SEGMENTS)
    seq = pdu.read_tlv_int(tlvs, Tag.SAR_SEGMENT_SEQNUM)
    if ref is None or total is None or seq is None:
        return None
    return ref, total, seq


def received_texts(submits: Iterable[pdu.Pdu]) -> list[ReceivedText]:
    """Whole texts from submit_sm PDUs, in the order their last part came.

    Parts are grouped by recipient and concatenation reference; a message still
    missing parts is left out. Raises UserError for a part no phone could read.
    """
    pending: dict[tuple[str, int, int], list[DecodedPart]] = {}
    out: list[ReceivedText] = []
    for submit in submits:
        if not isinstance(submit, pdu.SubmitSm):
            continue
        payload = submit.short_message or submit.tlvs.get(Tag.MESSAGE_PAYLOAD, b"")
        part = decode_short_message(
            payload, data_coding=submit.data_coding, udhi=bool(submit.esm_class & ESM_UDHI)
        )
        sar = _sar(submit.tlvs)
        if part.concat is None and sar is not None:
            part = DecodedPart(part.text, sar)
        recipient = submit.destination_addr
        if part.concat is None:
            out.append(ReceivedText(recipient, reassemble([part]), 1))
            continue
        reference, total, _ = part.concat
        key = (recipient, reference, total)
        parts = pending.setdefault(key, [])
        parts.append(part)
        if len({p.concat for p in parts}) == total:
            out.append(ReceivedText(recipient, reassemble(pending.pop(key)), total))
    return out
