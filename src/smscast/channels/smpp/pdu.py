"""Every SMPP 3.4 PDU as a dataclass, and `decode` from one frame to one PDU.

Import everything SMPP from here: `pdu.SubmitSm(...)`, `pdu.decode(frame)`,
`pdu.Framer()`, `pdu.PduError`.

Speed matters (a connector sends, and the simulator answers, hundreds of
thousands of PDUs a second): submit_sm, deliver_sm and their responses have
hand-written codecs; every other PDU goes through the table-driven codec in
`wire.py`. Strings are `str` (latin-1, so any octet survives a round trip),
short_message is `bytes`, TLVs are `{tag: value}`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

from smscast.channels.smpp.constants import CommandId, CommandStatus
from smscast.channels.smpp.framer import Framer
from smscast.channels.smpp.multi import DestAddress, SubmitMulti, SubmitMultiResp, UnsuccessSme
from smscast.channels.smpp.wire import (
    _CLASSES,
    DEFAULT_MAX_LENGTH,
    HEADER,
    HEADER_SIZE,
    FrameError,
    Pdu,
    PduError,
    _encode_cstring,
    _read_cstring,
    _read_short_message,
    decode_tlvs,
    encode_tlvs,
    read_tlv_cstring,
    read_tlv_int,
    register,
    tlv_cstring,
    tlv_int,
)

_PAIR = struct.Struct(">BB")
_TRIPLE = struct.Struct(">BBB")
_TAIL = struct.Struct(">BBBBB")

# Field layouts shared by several PDUs: (name, kind, max octets incl. NUL).
_BIND = (
    ("system_id", "c", 16),
    ("password", "c", 9),
    ("system_type", "c", 13),
    ("interface_version", "B", 0),
    ("addr_ton", "B", 0),
    ("addr_npi", "B", 0),
    ("address_range", "c", 41),
)
_SYSTEM_ID = (("system_id", "c", 16),)
_MESSAGE_ID = (("message_id", "c", 65),)


# --- binding ----------------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class _BindResp(Pdu):
    layout = _SYSTEM_ID
    system_id: str = ""


@dataclass(slots=True, kw_only=True)
class _Bind(Pdu):
    layout = _BIND
    system_id: str = ""
    password: str = ""
    system_type: str = ""
    interface_version: int = 0x34
    addr_ton: int = 0
    addr_npi: int = 0
    address_range: str = ""


@register
@dataclass(slots=True, kw_only=True)
class BindTransmitterResp(_BindResp):
    command_id = CommandId.BIND_TRANSMITTER_RESP
    name = "bind_transmitter_resp"


@register
@dataclass(slots=True, kw_only=True)
class BindTransmitter(_Bind):
    command_id = CommandId.BIND_TRANSMITTER
    name = "bind_transmitter"
    response_class = BindTransmitterResp


@register
@dataclass(slots=True, kw_only=True)
class BindReceiverResp(_BindResp):
    command_id = CommandId.BIND_RECEIVER_RESP
    name = "bind_receiver_resp"


@register
@dataclass(slots=True, kw_only=True)
class BindReceiver(_Bind):
    command_id = CommandId.BIND_RECEIVER
    name = "bind_receiver"
    response_class = BindReceiverResp


@register
@dataclass(slots=True, kw_only=True)
class BindTransceiverResp(_BindResp):
    command_id = CommandId.BIND_TRANSCEIVER_RESP
    name = "bind_transceiver_resp"


@register
@dataclass(slots=True, kw_only=True)
class BindTransceiver(_Bind):
    command_id = CommandId.BIND_TRANSCEIVER
    name = "bind_transceiver"
    response_class = BindTransceiverResp


@register
@dataclass(slots=True, kw_only=True)
class Outbind(Pdu):
    command_id = CommandId.OUTBIND
    name = "outbind"
    layout = (("system_id", "c", 16), ("password", "c", 9))
    system_id: str = ""
    password: str = ""


# --- header-only PDUs -------------------------------------------------------------


@register
@dataclass(slots=True, kw_only=True)
class GenericNack(Pdu):
    command_id = CommandId.GENERIC_NACK
    name = "generic_nack"


@register
@dataclass(slots=True, kw_only=True)
class UnbindResp(Pdu):
    command_id = CommandId.UNBIND_RESP
    name = "unbind_resp"


@register
@dataclass(slots=True, kw_only=True)
class Unbind(Pdu):
    command_id = CommandId.UNBIND
    name = "unbind"
    response_class = UnbindResp


@register
@dataclass(slots=True, kw_only=True)
class EnquireLinkResp(Pdu):
    command_id = CommandId.ENQUIRE_LINK_RESP
    name = "enquire_link_resp"


@register
@dataclass(slots=True, kw_only=True)
class EnquireLink(Pdu):
    command_id = CommandId.ENQUIRE_LINK
    name = "enquire_link"
    response_class = EnquireLinkResp


# --- submit_sm and deliver_sm: the hot path ---------------------------------------


@dataclass(slots=True, kw_only=True)
class _MessageIdResp(Pdu):
    """submit_sm_resp, deliver_sm_resp, data_sm_resp: a message_id and maybe TLVs."""

    layout = _MESSAGE_ID
    message_id: str = ""

    def _encode_body(self) -> bytes:
        # The specification omits the body of an error response; an empty id
        # otherwise still needs its NUL.
        if self.command_status and not self.message_id:
            return b""
        return _encode_cstring(self.message_id, 65, self.name, "message_id")

    @classmethod
    def _decode_body(cls, frame: bytes, sequence_number: int, status: int) -> Pdu:
        if len(frame) == HEADER_SIZE:
            return cls(sequence_number=sequence_number, command_status=status)
        message_id, offset = _read_cstring(frame, HEADER_SIZE, 65, cls.name, "message_id", True)
        tlvs = decode_tlvs(frame, offset, cls.name) if offset < len(frame) else {}
        return cls(
            sequence_number=sequence_number,
            command_status=status,
            message_id=message_id,
            tlvs=tlvs,
        )


@dataclass(slots=True, kw_only=True)
class _ShortMessage(Pdu):
    """The body submit_sm and deliver_sm share (sections 4.4.1 and 4.6.1)."""

    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    replace_if_present_flag: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""

    def _encode_body(self) -> bytes:
        name = self.name
        sm = self.short_message
        if len(sm) > 254:
            raise PduError(
                f"{name}: short_message of {len(sm)} octets is longer than 254; "
                "use the message_payload TLV",
                status=CommandStatus.ESME_RINVMSGLEN,
            )
        try:
            return b"".join(
                (
                    _encode_cstring(self.service_type, 6, name, "service_type"),
                    _PAIR.pack(self.source_addr_ton, self.source_addr_npi),
                    _encode_cstring(self.source_addr, 21, name, "source_addr"),
                    _PAIR.pack(self.dest_addr_ton, self.dest_addr_npi),
                    _encode_cstring(self.destination_addr, 21, name, "destination_addr"),
                    _TRIPLE.pack(self.esm_class, self.protocol_id, self.priority_flag),
                    _encode_cstring(
                        self.schedule_delivery_time, 17, name, "schedule_delivery_time"
                    ),
                    _encode_cstring(self.validity_period, 17, name, "validity_period"),
                    _TAIL.pack(
                        self.registered_delivery,
                        self.replace_if_present_flag,
                        self.data_coding,
                        self.sm_default_msg_id,
                        len(sm),
                    ),
                    sm,
                )
            )
        except struct.error as exc:
            raise PduError(f"{name}: a one-octet field is out of range 0-255: {exc}") from exc

    @classmethod
    def _decode_body(cls, frame: bytes, sequence_number: int, status: int) -> Pdu:
        name = cls.name
        o = HEADER_SIZE
        try:
            service_type, o = _read_cstring(frame, o, 6, name, "service_type")
            source_addr_ton, source_addr_npi = frame[o], frame[o + 1]
            source_addr, o = _read_cstring(frame, o + 2, 21, name, "source_addr")
            dest_addr_ton, dest_addr_npi = frame[o], frame[o + 1]
            destination_addr, o = _read_cstring(frame, o + 2, 21, name, "destination_addr")
            esm_class, protocol_id, priority_flag = frame[o], frame[o + 1], frame[o + 2]
            schedule, o = _read_cstring(frame, o + 3, 17, name, "schedule_delivery_time")
            validity, o = _read_cstring(frame, o, 17, name, "validity_period")
            registered_delivery, replace, data_coding, default_msg_id = _TAIL.unpack_from(frame, o)[
                :4
            ]
        except (IndexError, struct.error) as exc:
            raise PduError(
                f"{name}: the PDU ends inside its mandatory fields (offset {o})",
                status=CommandStatus.ESME_RINVCMDLEN,
            ) from exc
        short_message, o = _read_short_message(frame, o + 4, name)
        return cls(
            sequence_number=sequence_number,
            command_status=status,
            tlvs=decode_tlvs(frame, o, name) if o < len(frame) else {},
            service_type=service_type,
            source_addr_ton=source_addr_ton,
            source_addr_npi=source_addr_npi,
            source_addr=source_addr,
            dest_addr_ton=dest_addr_ton,
            dest_addr_npi=dest_addr_npi,
            destination_addr=destination_addr,
            esm_class=esm_class,
            protocol_id=protocol_id,
            priority_flag=priority_flag,
            schedule_delivery_time=schedule,
            validity_period=validity,
            registered_delivery=registered_delivery,
            replace_if_present_flag=replace,
            data_coding=data_coding,
            sm_default_msg_id=default_msg_id,
            short_message=short_message,
        )


@register
@dataclass(slots=True, kw_only=True)
class SubmitSmResp(_MessageIdResp):
    command_id = CommandId.SUBMIT_SM_RESP
    name = "submit_sm_resp"


@register
@dataclass(slots=True, kw_only=True)
class SubmitSm(_ShortMessage):
    command_id = CommandId.SUBMIT_SM
    name = "submit_sm"
    response_class = SubmitSmResp


@register
@dataclass(slots=True, kw_only=True)
class DeliverSmResp(_MessageIdResp):
    command_id = CommandId.DELIVER_SM_RESP
    name = "deliver_sm_resp"

    def _encode_body(self) -> bytes:
        # message_id is unused and always NULL in deliver_sm_resp (section 4.6.2).
        return _encode_cstring(self.message_id, 65, self.name, "message_id")


@register
@dataclass(slots=True, kw_only=True)
class DeliverSm(_ShortMessage):
    command_id = CommandId.DELIVER_SM
    name = "deliver_sm"
    response_class = DeliverSmResp


# --- data_sm, query_sm, cancel_sm, replace_sm, alert_notification -----------------


@register
@dataclass(slots=True, kw_only=True)
class DataSmResp(_MessageIdResp):
    command_id = CommandId.DATA_SM_RESP
    name = "data_sm_resp"


@register
@dataclass(slots=True, kw_only=True)
class DataSm(Pdu):
    command_id = CommandId.DATA_SM
    name = "data_sm"
    response_class = DataSmResp
    layout = (
        ("service_type", "c", 6),
        ("source_addr_ton", "B", 0),
        ("source_addr_npi", "B", 0),
        ("source_addr", "c", 65),
        ("dest_addr_ton", "B", 0),
        ("dest_addr_npi", "B", 0),
        ("destination_addr", "c", 65),
        ("esm_class", "B", 0),
        ("registered_delivery", "B", 0),
        ("data_coding", "B", 0),
    )
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    esm_class: int = 0
    registered_delivery: int = 0
    data_coding: int = 0


@register
@dataclass(slots=True, kw_only=True)
class QuerySmResp(Pdu):
    command_id = CommandId.QUERY_SM_RESP
    name = "query_sm_resp"
    layout = (
        ("message_id", "c", 65),
        ("final_date", "c", 17),
        ("message_state", "B", 0),
        ("error_code", "B", 0),
    )
    message_id: str = ""
    final_date: str = ""
    message_state: int = 0
    error_code: int = 0


@register
@dataclass(slots=True, kw_only=True)
class QuerySm(Pdu):
    command_id = CommandId.QUERY_SM
    name = "query_sm"
    response_class = QuerySmResp
    layout = (
        ("message_id", "c", 65),
        ("source_addr_ton", "B", 0),
        ("source_addr_npi", "B", 0),
        ("source_addr", "c", 21),
    )
    message_id: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""


@register
@dataclass(slots=True, kw_only=True)
class CancelSmResp(Pdu):
    command_id = CommandId.CANCEL_SM_RESP
    name = "cancel_sm_resp"


@register
@dataclass(slots=True, kw_only=True)
class CancelSm(Pdu):
    command_id = CommandId.CANCEL_SM
    name = "cancel_sm"
    response_class = CancelSmResp
    layout = (
        ("service_type", "c", 6),
        ("message_id", "c", 65),
        ("source_addr_ton", "B", 0),
        ("source_addr_npi", "B", 0),
        ("source_addr", "c", 21),
        ("dest_addr_ton", "B", 0),
        ("dest_addr_npi", "B", 0),
        ("destination_addr", "c", 21),
    )
    service_type: str = ""
    message_id: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""


@register
@dataclass(slots=True, kw_only=True)
class ReplaceSmResp(Pdu):
    command_id = CommandId.REPLACE_SM_RESP
    name = "replace_sm_resp"


@register
@dataclass(slots=True, kw_only=True)
class ReplaceSm(Pdu):
    command_id = CommandId.REPLACE_SM
    name = "replace_sm"
    response_class = ReplaceSmResp
    layout = (
        ("message_id", "c", 65),
        ("source_addr_ton", "B", 0),
        ("source_addr_npi", "B", 0),
        ("source_addr", "c", 21),
        ("schedule_delivery_time", "c", 17),
        ("validity_period", "c", 17),
        ("registered_delivery", "B", 0),
        ("sm_default_msg_id", "B", 0),
        ("short_message", "sm", 254),
    )
    message_id: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""


@register
@dataclass(slots=True, kw_only=True)
class AlertNotification(Pdu):
    command_id = CommandId.ALERT_NOTIFICATION
    name = "alert_notification"
    layout = (
        ("source_addr_ton", "B", 0),
        ("source_addr_npi", "B", 0),
        ("source_addr", "c", 65),
        ("esme_addr_ton", "B", 0),
        ("esme_addr_npi", "B", 0),
        ("esme_addr", "c", 65),
    )
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    esme_addr_ton: int = 0
    esme_addr_npi: int = 0
    esme_addr: str = ""


# --- decoding a frame -------------------------------------------------------------


def decode(frame: bytes) -> Pdu:
    """One PDU from exactly one frame (as the `Framer` cuts them).

    Raises `PduError` with the status to answer and, when the header was read,
    the command_id and sequence_number to answer to.
    """
    if len(frame) < HEADER_SIZE:
        raise PduError(
            f"PDU of {len(frame)} octets is shorter than the 16-octet header",
            status=CommandStatus.ESME_RINVCMDLEN,
        )
    length, command_id, status, sequence_number = HEADER.unpack_from(frame)
    cls = _CLASSES.get(command_id)
    if length != len(frame) or cls is None:
        what = (
            f"unknown command_id 0x{command_id:08X}"
            if cls is None
            else f"{cls.name}: command_length {length} but the PDU has {len(frame)} octets"
        )
        raise PduError(
            what,
            status=CommandStatus.ESME_RINVCMDID if cls is None else CommandStatus.ESME_RINVCMDLEN,
            command_id=command_id,
            sequence_number=sequence_number,
        )
    try:
        return cls._decode_body(frame, sequence_number, status)
    except PduError as exc:
        exc.command_id = command_id
        exc.sequence_number = sequence_number
        raise


def peek_header(frame: bytes) -> tuple[int, int, int, int]:
    """(command_length, command_id, command_status, sequence_number) without decoding."""
    return HEADER.unpack_from(frame)


def encode_all(pdus: Iterable[Pdu]) -> bytes:
    """Several PDUs as one write, which is what keeps a pipelined session fast."""
    return b"".join(pdu.encode() for pdu in pdus)


__all__ = [
    "DEFAULT_MAX_LENGTH",
    "HEADER_SIZE",
    "AlertNotification",
    "BindReceiver",
    "BindReceiverResp",
    "BindTransceiver",
    "BindTransceiverResp",
    "BindTransmitter",
    "BindTransmitterResp",
    "CancelSm",
    "CancelSmResp",
    "DataSm",
    "DataSmResp",
    "DeliverSm",
    "DeliverSmResp",
    "DestAddress",
    "EnquireLink",
    "EnquireLinkResp",
    "FrameError",
    "Framer",
    "GenericNack",
    "Outbind",
    "Pdu",
    "PduError",
    "QuerySm",
    "QuerySmResp",
    "ReplaceSm",
    "ReplaceSmResp",
    "SubmitMulti",
    "SubmitMultiResp",
    "SubmitSm",
    "SubmitSmResp",
    "Unbind",
    "UnbindResp",
    "UnsuccessSme",
    "decode",
    "decode_tlvs",
    "encode_all",
    "encode_tlvs",
    "peek_header",
    "read_tlv_cstring",
    "read_tlv_int",
    "tlv_cstring",
    "tlv_int",
]
