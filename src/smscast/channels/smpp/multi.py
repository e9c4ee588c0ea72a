"""submit_multi and its response: one message to up to 254 addresses or lists.

Their bodies hold repeated structures (destination addresses, failed
addresses), which is why they have codecs of their own rather than a layout.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from smscast.channels.smpp.constants import CommandId, CommandStatus
from smscast.channels.smpp.wire import (
    HEADER_SIZE,
    Pdu,
    PduError,
    _decode_layout,
    _encode_cstring,
    _encode_layout,
    _read_cstring,
    _read_octet,
    cstring,
    decode_tlvs,
    register,
)

SME_ADDRESS = 1
DISTRIBUTION_LIST = 2
_U32 = struct.Struct(">I")
#: how many of submit_multi's layout fields come before the destination list
_HEAD = 4


@dataclass(slots=True, frozen=True)
class DestAddress:
    """One destination of a submit_multi: an SME address, or a distribution list
    name (dest_flag 2, the name in `address`, TON/NPI unused)."""

    address: str
    ton: int = 0
    npi: int = 0
    dest_flag: int = SME_ADDRESS


@dataclass(slots=True, frozen=True)
class UnsuccessSme:
    """A destination the SMSC could not accept, and why (a command_status)."""

    address: str
    error_status_code: int
    ton: int = 0
    npi: int = 0


@register
@dataclass(slots=True, kw_only=True)
class SubmitMultiResp(Pdu):
    command_id = CommandId.SUBMIT_MULTI_RESP
    name = "submit_multi_resp"
    message_id: str = cstring(65)
    unsuccess_smes: list[UnsuccessSme] = field(default_factory=list)

    def _encode_body(self) -> bytes:
        if len(self.unsuccess_smes) > 255:
            raise PduError("submit_multi_resp: more than 255 unsuccessful addresses")
        out = [_encode_cstring(self.message_id, 65, self.name, "message_id")]
        out.append(bytes((len(self.unsuccess_smes),)))
        for sme in self.unsuccess_smes:
            out.append(bytes((sme.ton, sme.npi)))
            out.append(_encode_cstring(sme.address, 21, self.name, "destination_addr"))
            out.append(_U32.pack(sme.error_status_code))
        return b"".join(out)

    @classmethod
    def _decode_body(cls, frame: bytes, sequence_number: int, status: int) -> Pdu:
        if len(frame) == HEADER_SIZE:
            return cls(sequence_number=sequence_number, command_status=status)
        message_id, o = _read_cstring(frame, HEADER_SIZE, 65, cls.name, "message_id")
        count = _read_octet(frame, o, cls.name, "no_unsuccess")
        o += 1
        smes = []
        for _ in range(count):
            ton = _read_octet(frame, o, cls.name, "dest_addr_ton")
            npi = _read_octet(frame, o + 1, cls.name, "dest_addr_npi")
            address, o = _read_cstring(frame, o + 2, 21, cls.name, "destination_addr")
            if o + 4 > len(frame):
                raise PduError(
                    f"{cls.name}: the PDU ends inside error_status_code (offset {o})",
                    status=CommandStatus.ESME_RINVCMDLEN,
                )
            (error,) = _U32.unpack_from(frame, o)
            o += 4
            smes.append(UnsuccessSme(address, error, ton, npi))
        return cls(
            sequence_number=sequence_number,
            command_status=status,
            message_id=message_id,
            unsuccess_smes=smes,
            tlvs=decode_tlvs(frame, o, cls.name),
        )


@register
@dataclass(slots=True, kw_only=True)
class SubmitMulti(Pdu):
    command_id = CommandId.SUBMIT_MULTI
    name = "submit_multi"
    response_class = SubmitMultiResp
    service_type: str = cstring(6)
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = cstring(21)
    dest_addresses: list[DestAddress] = field(default_factory=list)
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = cstring(17)
    validity_period: str = cstring(17)
    registered_delivery: int = 0
    replace_if_present_flag: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""

    def _encode_body(self) -> bytes:
        if not 1 <= len(self.dest_addresses) <= 254:
            raise PduError(
                f"submit_multi: {len(self.dest_addresses)} destinations, 1 to 254 allowed",
                status=CommandStatus.ESME_RINVNUMDESTS,
            )
        out = [_encode_layout(self, self.layout[:_HEAD]), bytes((len(self.dest_addresses),))]
        for dest in self.dest_addresses:
            if dest.dest_flag == SME_ADDRESS:
                out.append(bytes((SME_ADDRESS, dest.ton, dest.npi)))
            elif dest.dest_flag == DISTRIBUTION_LIST:
                out.append(bytes((DISTRIBUTION_LIST,)))
            else:
                raise PduError(
                    f"submit_multi: dest_flag {dest.dest_flag} is neither 1 nor 2",
                    status=CommandStatus.ESME_RINVDESTFLAG,
                )
            out.append(_encode_cstring(dest.address, 21, self.name, "destination_addr"))
        out.append(_encode_layout(self, self.layout[_HEAD:]))
        return b"".join(out)

    @classmethod
    def _decode_body(cls, frame: bytes, sequence_number: int, status: int) -> Pdu:
        head, o = _decode_layout(cls, cls.layout[:_HEAD], frame, HEADER_SIZE)
        count = _read_octet(frame, o, cls.name, "number_of_dests")
        o += 1
        dests = []
        for _ in range(count):
            flag = _read_octet(frame, o, cls.name, "dest_flag")
            if flag == SME_ADDRESS:
                ton = _read_octet(frame, o + 1, cls.name, "dest_addr_ton")
                npi = _read_octet(frame, o + 2, cls.name, "dest_addr_npi")
                address, o = _read_cstring(frame, o + 3, 21, cls.name, "destination_addr")
                dests.append(DestAddress(address, ton, npi))
            elif flag == DISTRIBUTION_LIST:
                dl_name, o = _read_cstring(frame, o + 1, 21, cls.name, "dl_name")
                dests.append(DestAddress(dl_name, dest_flag=DISTRIBUTION_LIST))
            else:
                raise PduError(
                    f"submit_multi: dest_flag {flag} at offset {o} is neither 1 nor 2",
                    status=CommandStatus.ESME_RINVDESTFLAG,
                )
        tail, o = _decode_layout(cls, cls.layout[_HEAD:], frame, o)
        return cls(
            sequence_number=sequence_number,
            command_status=status,
            dest_addresses=dests,
            tlvs=decode_tlvs(frame, o, cls.name),
            **head,
            **tail,
        )
