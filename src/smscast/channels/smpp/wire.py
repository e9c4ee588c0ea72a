"""What every SMPP 3.4 PDU shares: the header, the errors, field and TLV codecs.

The PDU classes themselves are in `pdu.py` (import from there). Decoding never
trusts a length it reads: every failure is a `PduError` that names the PDU, the
field and the offset, and says which command_status to answer with.

Optional parameters (TLVs) are kept as `{tag: value_bytes}` in the order they
came, unknown tags included, so a PDU decoded and encoded again is the same.
"""

from __future__ import annotations

import dataclasses
import struct
from dataclasses import dataclass, field
from typing import Any, ClassVar

from smscast.channels.smpp.constants import (
    RESPONSE_BIT,
    TLV_FIXED_LENGTHS,
    CommandStatus,
    Tag,
)

HEADER = struct.Struct(">IIII")
HEADER_SIZE = 16
DEFAULT_MAX_LENGTH = 64 * 1024
_TLV_HEAD = struct.Struct(">HH")
_U8 = struct.Struct(">B")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")


class PduError(Exception):
    """A PDU that cannot be decoded or encoded, and how to answer it.

    `status` is the command_status for the answer (a generic_nack, or the
    request's own response when the command is known); `command_id` and
    `sequence_number` are set when the header could be read, so the answer can
    carry the sequence number of the PDU it refers to.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int = CommandStatus.ESME_RSYSERR,
        command_id: int | None = None,
        sequence_number: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.command_id = command_id
        self.sequence_number = sequence_number


class FrameError(PduError):
    """The byte stream cannot be split any further (a command_length out of range):
    answer generic_nack and close, because the next PDU boundary is unknown."""


# --- the base class -------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class Pdu:
    """Header fields and TLVs common to every PDU; subclasses add the body."""

    command_id: ClassVar[int]
    name: ClassVar[str]
    #: (field name, kind, max octets incl. NUL) for the table-driven codec, in wire
    #: order; kind is "c" (C-octet string), "B" (one octet) or "sm" (sm_length +
    #: short_message). `register` derives it from the dataclass fields.
    layout: ClassVar[tuple[tuple[str, str, int], ...]] = ()
    #: the response class of a request (None for responses and outbind/alerts)
    response_class: ClassVar[type[Pdu] | None] = None

    sequence_number: int = 0
    command_status: int = 0
    tlvs: dict[int, bytes] = field(default_factory=dict)

    @property
    def is_response(self) -> bool:
        return bool(self.command_id & RESPONSE_BIT)

    def encode(self) -> bytes:
        """The whole PDU, header included, ready for the socket."""
        body = self._encode_body()
        if self.tlvs:
            body += encode_tlvs(self.tlvs)
        return (
            HEADER.pack(
                HEADER_SIZE + len(body), self.command_id, self.command_status, self.sequence_number
            )
            + body
        )

    def _encode_body(self) -> bytes:
        return _encode_layout(self, self.layout)

    @classmethod
    def _decode_body(cls, frame: bytes, sequence_number: int, status: int) -> Pdu:
        if cls.command_id & RESPONSE_BIT and len(frame) == HEADER_SIZE:
            # An error response may come without a body (section 3.3).
            return cls(sequence_number=sequence_number, command_status=status)
        values, offset = _decode_layout(cls, cls.layout, frame, HEADER_SIZE)
        return cls(
            sequence_number=sequence_number,
            command_status=status,
            tlvs=decode_tlvs(frame, offset, cls.name),
            **values,
        )

    def response(self, status: int = 0, **values: Any) -> Pdu:
        """This request's response with the same sequence number."""
        if self.response_class is None:
            raise TypeError(f"{self.name} has no response")
        return self.response_class(
            sequence_number=self.sequence_number, command_status=status, **values
        )


# --- table-driven codec ---------------------------------------------------------


def _encode_cstring(value: str, size: int, pdu: str, name: str) -> bytes:
    try:
        raw = value.encode("latin-1")
    except UnicodeEncodeError as exc:
        raise PduError(f"{pdu}: {name} {value!r} is not a C-octet string") from exc
    if len(raw) >= size or b"\0" in raw:
        raise PduError(
            f"{pdu}: {name} {value!r} does not fit a C-octet string of {size - 1} characters"
        )
    return raw + b"\0"


def _encode_short_message(value: bytes, pdu: str) -> bytes:
    if len(value) > 254:
        raise PduError(
            f"{pdu}: short_message of {len(value)} octets is longer than 254; "
            "use the message_payload TLV",
            status=CommandStatus.ESME_RINVMSGLEN,
        )
    return _U8.pack(len(value)) + value


def _encode_layout(pdu: Pdu, layout: tuple[tuple[str, str, int], ...]) -> bytes:
    out: list[bytes] = []
    for name, kind, size in layout:
        value = getattr(pdu, name)
        if kind == "c":
            out.append(_encode_cstring(value, size, pdu.name, name))
        elif kind == "B":
            if not 0 <= value <= 255:
                raise PduError(f"{pdu.name}: {name}={value} does not fit one octet")
            out.append(_U8.pack(value))
        else:
            out.append(_encode_short_message(value, pdu.name))
    return b"".join(out)


def _read_cstring(
    frame: bytes, offset: int, size: int, pdu: str, name: str, lenient_tail: bool = False
) -> tuple[str, int]:
    """Reads a NUL-terminated string of at most `size` octets (NUL included).

    `lenient_tail` accepts a last field that runs to the end of the PDU without
    its NUL, which some SMSCs send in submit_sm_resp message ids.
    """
    end = len(frame)
    nul = frame.find(b"\0", offset, min(offset + size, end))
    if nul < 0:
        if lenient_tail and end - offset < size:
            return frame[offset:end].decode("latin-1"), end
        if end - offset < size:
            raise PduError(
                f"{pdu}: {name} at offset {offset} runs past the end of the PDU",
                status=CommandStatus.ESME_RINVCMDLEN,
            )
        raise PduError(
            f"{pdu}: {name} at offset {offset} has no NUL within {size} octets",
            status=_STRING_STATUS.get(name, CommandStatus.ESME_RINVPARLEN),
        )
    return frame[offset:nul].decode("latin-1"), nul + 1


def _read_octet(frame: bytes, offset: int, pdu: str, name: str) -> int:
    if offset >= len(frame):
        raise PduError(
            f"{pdu}: PDU ends before {name} (offset {offset})",
            status=CommandStatus.ESME_RINVCMDLEN,
        )
    return frame[offset]


def _read_short_message(frame: bytes, offset: int, pdu: str) -> tuple[bytes, int]:
    length = _read_octet(frame, offset, pdu, "sm_length")
    start = offset + 1
    if start + length > len(frame):
        raise PduError(
            f"{pdu}: sm_length {length} at offset {offset} runs past the end of the PDU "
            f"({len(frame) - start} octets left)",
            status=CommandStatus.ESME_RINVMSGLEN,
        )
    return frame[start : start + length], start + length


def _decode_layout(
    cls: type[Pdu], layout: tuple[tuple[str, str, int], ...], frame: bytes, offset: int
) -> tuple[dict[str, Any], int]:
    values: dict[str, Any] = {}
    last = len(layout) - 1
    for index, (name, kind, size) in enumerate(layout):
        if kind == "c":
            lenient = index == last and bool(cls.command_id & RESPONSE_BIT)
            values[name], offset = _read_cstring(frame, offset, size, cls.name, name, lenient)
        elif kind == "B":
            values[name] = _read_octet(frame, offset, cls.name, name)
            offset += 1
        else:
            values[name], offset = _read_short_message(frame, offset, cls.name)
    return values, offset


_STRING_STATUS: dict[str, int] = {
    "source_addr": CommandStatus.ESME_RINVSRCADR,
    "destination_addr": CommandStatus.ESME_RINVDSTADR,
    "message_id": CommandStatus.ESME_RINVMSGID,
    "system_id": CommandStatus.ESME_RINVSYSID,
    "password": CommandStatus.ESME_RINVPASWD,
    "system_type": CommandStatus.ESME_RINVSYSTYP,
    "service_type": CommandStatus.ESME_RINVSERTYP,
    "schedule_delivery_time": CommandStatus.ESME_RINVSCHED,
    "validity_period": CommandStatus.ESME_RINVEXPIRY,
}


# --- TLVs -----------------------------------------------------------------------


def encode_tlvs(tlvs: dict[int, bytes]) -> bytes:
    out = []
    for tag, value in tlvs.items():
        if len(value) > 0xFFFF:
            raise PduError(f"TLV 0x{tag:04X} of {len(value)} octets is longer than 65535")
        out.append(_TLV_HEAD.pack(tag, len(value)))
        out.append(value)
    return b"".join(out)


def decode_tlvs(frame: bytes, offset: int, pdu: str) -> dict[int, bytes]:
    """Reads TLVs from `offset` to the end of the PDU, unknown tags included."""
    tlvs: dict[int, bytes] = {}
    end = len(frame)
    unpack, fixed_lengths = _TLV_HEAD.unpack_from, TLV_FIXED_LENGTHS
    while offset < end:
        if end - offset < 4:
            raise PduError(
                f"{pdu}: {end - offset} stray octets at offset {offset} where a TLV should start",
                status=CommandStatus.ESME_RINVOPTPARSTREAM,
            )
        tag, length = unpack(frame, offset)
        start = offset + 4
        offset = start + length
        if offset > end:
            raise PduError(
                f"{pdu}: TLV 0x{tag:04X} at offset {start - 4} says {length} octets "
                f"but only {end - start} are left",
                status=CommandStatus.ESME_RINVOPTPARSTREAM,
            )
        fixed = fixed_lengths.get(tag)
        if fixed is not None and fixed != length:
            raise PduError(
                f"{pdu}: TLV 0x{tag:04X} at offset {start - 4} has length {length}, "
                f"the specification says {fixed}",
                status=CommandStatus.ESME_RINVPARLEN,
            )
        tlvs[tag] = frame[start:offset]
    return tlvs


def tlv_int(value: int, size: int) -> bytes:
    """An unsigned integer TLV value of `size` octets (1, 2 or 4)."""
    return value.to_bytes(size, "big")


def tlv_cstring(value: str) -> bytes:
    """A C-octet string TLV value (receipted_message_id, additional_status_info_text)."""
    return value.encode("latin-1") + b"\0"


def sar_tlvs(reference: int, total: int, seq: int) -> dict[int, bytes]:
    """The three SAR TLVs that mark one part of a long message (section 5.3.2.22-24)."""
    return {
        Tag.SAR_MSG_REF_NUM: reference.to_bytes(2, "big"),
        Tag.SAR_TOTAL_SEGMENTS: bytes((total,)),
        Tag.SAR_SEGMENT_SEQNUM: bytes((seq,)),
    }


def read_tlv_int(tlvs: dict[int, bytes], tag: int) -> int | None:
    value = tlvs.get(tag)
    return None if value is None else int.from_bytes(value, "big")


def read_tlv_cstring(tlvs: dict[int, bytes], tag: int) -> str | None:
    """The string without its NUL; tolerates a missing NUL, which some SMSCs omit."""
    value = tlvs.get(tag)
    if value is None:
        return None
    return value.split(b"\0", 1)[0].decode("latin-1")


# --- the registry of PDU classes ---------------------------------------------------

_CLASSES: dict[int, type[Pdu]] = {}


def register(cls: type[Pdu]) -> type[Pdu]:
    """Class decorator: derives the wire layout from the fields, and lets `decode`
    find the class by its command_id."""
    cls.layout = layout_of(cls)
    _CLASSES[cls.command_id] = cls
    return cls


def layout_of(cls: type[Pdu]) -> tuple[tuple[str, str, int], ...]:
    """The body fields in wire order: a `str` field is a C-octet string of the
    size given by `cstring(size)`, an `int` one octet, `bytes` the short message.
    Fields of other types (lists in submit_multi) need the class's own codec."""
    layout = []
    for f in dataclasses.fields(cls):
        if f.name in _HEADER_FIELDS:
            continue
        if f.type == "str":
            layout.append((f.name, "c", int(f.metadata["size"])))
        elif f.type == "int":
            layout.append((f.name, "B", 1))
        elif f.type == "bytes":
            layout.append((f.name, "sm", 255))
    return tuple(layout)


def cstring(size: int) -> Any:
    """Declares a C-octet string field of at most `size` octets, NUL included."""
    return field(default="", metadata={"size": size})


_HEADER_FIELDS = frozenset(("sequence_number", "command_status", "tlvs"))


def pdu_class(command_id: int) -> type[Pdu] | None:
    return _CLASSES.get(command_id)
