"""Cutting the SMSC's byte stream into PDUs, and finding our feet again after garbage.

The codec's `Framer` stops for good at a command_length it cannot believe
(the next PDU boundary is unknown), which on the server side is right: answer
and close. A connector holding a full window of submits cannot afford that:
closing makes every outstanding message *unknown*. So this framer skips the
garbage instead, to the next offset that looks like a real PDU header (a
sane command_length and a command_id SMPP 3.4 defines), reports what it
skipped so the session can log it and answer generic_nack, and carries on.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from smscast.channels.smpp.constants import CommandId, CommandStatus

HEADER_SIZE = 16
_LENGTH_AND_ID = struct.Struct(">II")
_KNOWN_IDS = frozenset(int(c) for c in CommandId)


@dataclass(slots=True)
class Garbage:
    """Octets that were not a PDU: how many, what they began with, how to answer."""

    skipped: int
    head: bytes
    status: int
    sequence_number: int

    def describe(self) -> str:
        return f"skipped {self.skipped} octets that are not a PDU, starting {self.head.hex()}"


class PduStream:
    """Cuts bytes into whole PDU frames, skipping anything that cannot start a PDU.

    `feed` returns, in stream order, complete frames (bytes) and `Garbage`
    records. Garbage is reported by the `feed` that skipped it, not held until
    the next real PDU: the peer may be waiting for our generic_nack before it
    writes anything else. At most `max_garbage` octets are skipped in a row
    (across feeds): past that the peer is not speaking SMPP and `broken` is set.
    """

    __slots__ = ("_buffer", "_run", "_skipping", "broken", "max_garbage", "max_length")

    def __init__(self, max_length: int = 64 * 1024, max_garbage: int = 1 << 20) -> None:
        self.max_length = max_length
        self.max_garbage = max_garbage
        self._buffer = b""
        self._skipping: Garbage | None = None
        self._run = 0  # octets skipped since the last real PDU header
        self.broken = False

    def feed(self, data: bytes) -> list[bytes | Garbage]:
        buffer = self._buffer + data if self._buffer else bytes(data)
        out: list[bytes | Garbage] = []
        offset, end = 0, len(buffer)
        unpack, known, limit = _LENGTH_AND_ID.unpack_from, _KNOWN_IDS, self.max_length
        while end - offset >= 8 and not self.broken:
            length, command_id = unpack(buffer, offset)
            if HEADER_SIZE <= length <= limit and command_id in known:
                if self._skipping is not None:
                    out.append(self._skipping)
                    self._skipping = None
                self._run = 0
                if end - offset < length:
                    break
                out.append(buffer[offset : offset + length])
                offset += length
            else:
                self._skip_one(buffer, offset, length, command_id)
                offset += 1
        if self._skipping is not None:
            out.append(self._skipping)
            self._skipping = None
        self._buffer = buffer[offset:] if offset < end and not self.broken else b""
        return out

    def _skip_one(self, buffer: bytes, offset: int, length: int, command_id: int) -> None:
        self._run += 1
        if self._run >= self.max_garbage:
            self.broken = True
        current = self._skipping
        if current is None:
            sequence = 0
            bad_length = not HEADER_SIZE <= length <= self.max_length
            if len(buffer) - offset >= HEADER_SIZE and (
                command_id in _KNOWN_IDS or (not bad_length and _is_smpp_request_id(command_id))
            ):
                # A whole header whose command SMPP 3.4 does not define (a later version's
                # broadcast_sm, a vendor's own): the SMSC matches our generic_nack to its
                # request by this sequence number, so answer to it rather than to 0.
                sequence = int.from_bytes(buffer[offset + 12 : offset + 16], "big")
            status = CommandStatus.ESME_RINVCMDLEN if bad_length else CommandStatus.ESME_RINVCMDID
            self._skipping = Garbage(1, buffer[offset : offset + 16], status, sequence)
            return
        current.skipped += 1


def _is_smpp_request_id(command_id: int) -> bool:
    """A request command_id in the ranges SMPP reserves for itself or for vendors."""
    return command_id <= 0x1FF or 0x00010200 <= command_id <= 0x000102FF
