"""Cutting the SMSC's byte stream into PDUs, and finding our feet again after garbage.

The codec's `Framer` stops for good at a command_length it cannot believe
(the next PDU boundary is unknown), which on the server side is right: answer
and close. A connector holding a full window of submits cannot afford that:
closing makes every outstanding message *unknown*. So this framer skips the
garbage instead, to the next offset that looks like a real PDU header (a
sane command_length, a command_id an SMSC sends to a bound ESME, and a
command_status of 0 on a request), reports what it skipped so the session
can log it and answer generic_nack, and carries on. The narrower the test of
a header, the less likely a run of garbage (a header with a bad length, say)
holds a false one that swallows the real PDUs after it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from smscast.channels.smpp.constants import CommandId, CommandStatus

HEADER_SIZE = 16
_LENGTH_AND_ID = struct.Struct(">II")
_HEADER = struct.Struct(">IIII")
_RESPONSE = 0x80000000
_KNOWN_IDS = frozenset(int(c) for c in CommandId)
#: What an SMSC may send a bound ESME: any response, and these requests (SMPP 3.4, 2.3).
_FROM_SMSC = frozenset(c for c in _KNOWN_IDS if c & _RESPONSE) | frozenset(
    int(c)
    for c in (
        CommandId.DELIVER_SM,
        CommandId.DATA_SM,
        CommandId.ENQUIRE_LINK,
        CommandId.UNBIND,
        CommandId.ALERT_NOTIFICATION,
    )
)


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
        unpack, limit = _LENGTH_AND_ID.unpack_from, self.max_length
        while end - offset >= 8 and not self.broken:
            length, command_id = unpack(buffer, offset)
            plausible = HEADER_SIZE <= length <= limit and command_id in _FROM_SMSC
            if plausible and not command_id & _RESPONSE:
                if end - offset < 12:
                    break  # a request's command_status decides: wait for it
                plausible = buffer[offset + 8 : offset + 12] == b"\0\0\0\0"
            if plausible:
                if self._skipping is not None:
                    out.append(self._skipping)
                    self._skipping = None
                self._run = 0
                if end - offset < length:
                    break
                out.append(buffer[offset : offset + length])
                offset += length
            else:
                finished = self._skip_one(buffer, offset, length, command_id)
                if finished is not None:
                    out.append(finished)
                offset += 1
        if self._skipping is not None:
            out.append(self._skipping)
            self._skipping = None
        self._buffer = buffer[offset:] if offset < end and not self.broken else b""
        return out

    def _skip_one(self, buffer: bytes, offset: int, length: int, command_id: int) -> Garbage | None:
        """Skips one octet; returns the garbage record it ends, when it starts another."""
        self._run += 1
        if self._run >= self.max_garbage:
            self.broken = True
        current = self._skipping
        bad_length = not HEADER_SIZE <= length <= self.max_length
        sequence = _answerable(buffer, offset, bad_length, command_id, current is None)
        if current is not None and sequence is None:
            current.skipped += 1
            return None
        # The first octet of a run, or a whole request header in the middle of one that
        # the SMSC waits on an answer to: a record of its own, so that its generic_nack
        # carries its sequence_number.
        status = CommandStatus.ESME_RINVCMDLEN if bad_length else CommandStatus.ESME_RINVCMDID
        self._skipping = Garbage(1, buffer[offset : offset + 16], status, sequence or 0)
        return current


def _answerable(
    buffer: bytes, offset: int, bad_length: bool, command_id: int, starting: bool
) -> int | None:
    """The sequence_number to answer a skipped header with, or None for mere garbage.

    A run of garbage that starts at a header we could not take (a bad length, a
    request an SMSC does not send, a command 3.4 does not define) is answered with
    its sequence number. Inside a run only a whole request header with a sane
    length, status 0 and a command id SMPP defines is taken for one: any four
    octets would otherwise make us nack sequence numbers the SMSC never used (or
    used for a deliver_sm it would then take as refused).
    """
    if len(buffer) - offset < HEADER_SIZE or command_id & _RESPONSE:
        return None  # no header, or a response: nothing waits on an answer to it
    _, _, status, sequence = _HEADER.unpack_from(buffer, offset)
    defined = command_id in _KNOWN_IDS or _is_later_smpp(command_id)
    if starting and (command_id in _KNOWN_IDS or (not bad_length and command_id <= 0x1FF)):
        return int(sequence)
    if not bad_length and status == 0 and defined:
        return int(sequence)
    return None


def _is_later_smpp(command_id: int) -> bool:
    """A request SMPP 5.0 added (the broadcast commands) or a vendor's own."""
    return 0x111 <= command_id <= 0x113 or 0x00010200 <= command_id <= 0x000102FF
