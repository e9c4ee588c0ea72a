"""Inbound (MO) messages the simulator injects: a text from a phone, split into
deliver_sm parts exactly as a carrier would split a long one (UDH or SAR TLVs)."""

from __future__ import annotations

from dataclasses import dataclass

from smscast.channels.simulator.config import SimulatorConfig
from smscast.channels.smpp import pdu
from smscast.channels.smpp.constants import ESM_UDHI, Npi, Ton
from smscast.core.errors import UserError
from smscast.core.parts import wire_parts


class MoError(ValueError):
    """An MO that cannot be sent as asked (an empty address, an unsplittable text)."""


@dataclass(frozen=True, slots=True)
class MoSent:
    """What became of one injected MO: its parts, and whether an ESME had them at once
    (`queued` means none was bound to receive; they go out on the next bind)."""

    parts: int
    queued: bool


def address_of(number: str) -> tuple[str, int, int]:
    """(address, TON, NPI): `+48…` is international E.164, digits a national or
    short number, anything else an alphanumeric sender."""
    if number.startswith("+") and number[1:].isdigit():
        return number[1:], Ton.INTERNATIONAL, Npi.ISDN
    if number.isdigit():
        ton = Ton.NATIONAL if len(number) > 8 else Ton.NETWORK_SPECIFIC
        return number, ton, Npi.ISDN
    return number, Ton.ALPHANUMERIC, Npi.UNKNOWN


def build_mo_parts(
    sender: str, recipient: str, text: str, reference: int, config: SimulatorConfig
) -> list[pdu.DeliverSm]:
    """The deliver_sm PDUs (sequence numbers still unset) that carry one MO."""
    for name, value in (("from", sender), ("to", recipient)):
        if not value or len(value) > 20:
            raise MoError(f"MO {name!r} address {value!r} must be 1 to 20 characters")
    if not text:
        raise MoError("MO text is empty")
    try:
        parts = wire_parts(
            text,
            reference=reference,
            concat=config.mo_concat,
            reference_bits=config.mo_reference_bits,
        )
    except UserError as exc:
        raise MoError(f"MO text cannot be sent: {exc}") from exc
    source, source_ton, source_npi = address_of(sender)
    destination, dest_ton, dest_npi = address_of(recipient)
    out = []
    for part in parts:
        out.append(
            pdu.DeliverSm(
                source_addr_ton=source_ton,
                source_addr_npi=source_npi,
                source_addr=source,
                dest_addr_ton=dest_ton,
                dest_addr_npi=dest_npi,
                destination_addr=destination,
                esm_class=ESM_UDHI if part.udhi else 0,
                data_coding=part.data_coding,
                short_message=part.short_message,
                tlvs=pdu.sar_tlvs(*part.sar) if part.sar else {},
            )
        )
    return out
