"""Cutting a TCP byte stream into whole SMPP PDUs, refusing impossible lengths at once."""

from __future__ import annotations

import struct

from smscast.channels.smpp.constants import CommandStatus
from smscast.channels.smpp.wire import DEFAULT_MAX_LENGTH, HEADER, HEADER_SIZE, FrameError

_U32 = struct.Struct(">I")


class Framer:
    """Cuts a TCP byte stream into whole PDUs.

    `feed` returns the complete PDUs the new bytes finished. A command_length
    under 16 or over `max_length` ends the stream, because the next PDU boundary
    is then unknown: the PDUs before it are still returned, `error` is set to a
    `FrameError` (answer generic_nack and close), and every later `feed` returns
    nothing. It decides on the four length octets alone, so a claimed 4 GB PDU
    is refused at once instead of being waited for.
    """

    __slots__ = ("_buffer", "error", "max_length")

    def __init__(self, max_length: int = DEFAULT_MAX_LENGTH) -> None:
        self.max_length = max_length
        self._buffer = bytearray()
        self.error: FrameError | None = None

    @property
    def pending(self) -> int:
        """Octets received that do not yet make a whole PDU."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        if self.error is not None:
            return []
        pending = self._buffer
        if pending:
            # A PDU dribbling in small pieces is only appended to (linear time)
            # until it is complete or its length is known to be wrong.
            pending += data
            if len(pending) < 4 or self._incomplete(pending):
                return []
            buffer = bytes(pending)
            pending.clear()
        else:
            buffer = bytes(data)
        frames: list[bytes] = []
        offset = 0
        end = len(buffer)
        unpack = _U32.unpack_from
        limit = self.max_length
        while end - offset >= 4:
            (length,) = unpack(buffer, offset)
            if length < HEADER_SIZE or length > limit:
                self.error = self._length_error(buffer, offset, length)
                return frames
            if end - offset < length:
                break
            frames.append(buffer[offset : offset + length])
            offset += length
        if offset < end:
            self._buffer += memoryview(buffer)[offset:]
        return frames

    def _incomplete(self, pending: bytearray) -> bool:
        length: int = _U32.unpack_from(pending)[0]
        return HEADER_SIZE <= length <= self.max_length and len(pending) < length

    def _length_error(self, buffer: bytes, offset: int, length: int) -> FrameError:
        command_id = sequence_number = None
        if len(buffer) - offset >= HEADER_SIZE:
            _, command_id, _, sequence_number = HEADER.unpack_from(buffer, offset)
        if length < HEADER_SIZE:
            why = "shorter than the 16-octet header"
        else:
            why = f"longer than the {self.max_length}-octet limit"
        return FrameError(
            f"command_length {length} is {why}",
            status=CommandStatus.ESME_RINVCMDLEN,
            command_id=command_id,
            sequence_number=sequence_number,
        )
