"""One TCP (or TLS) connection to an SMSC: framing, answering, keeping alive.

An `asyncio.Protocol` rather than streams: every `data_received` call handles
all the PDUs it completed and writes all the answers in one go, without a task
per PDU. The hot PDUs (submit_sm_resp, deliver_sm) are handed to the handler
straight away; the session itself answers enquire_link and unbind, refuses
what it cannot read with generic_nack and keeps going, and sends its own
enquire_link so a dead peer is noticed even when no traffic flows.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Protocol

from smscast.channels.smpp import pdu
from smscast.channels.smpp.constants import RESPONSE_BIT, CommandId, command_name
from smscast.channels.smpp.stream import Garbage, PduStream
from smscast.channels.smpp.window import Window

_HEADER = struct.Struct(">IIII")
_SUBMIT_SM_RESP = int(CommandId.SUBMIT_SM_RESP)
_DELIVER_SM = int(CommandId.DELIVER_SM)
_DELIVER_SM_RESP = int(CommandId.DELIVER_SM_RESP)
_GENERIC_NACK = int(CommandId.GENERIC_NACK)
_ENQUIRE_LINK = int(CommandId.ENQUIRE_LINK)
_UNBIND = int(CommandId.UNBIND)


class SessionHandler(Protocol):
    """What the connector does with what the session cannot handle alone."""

    def on_submit_resp(self, seq: int, status: int, message_id: str) -> None: ...

    def on_deliver(self, deliver: pdu.DeliverSm, session: SmppSession) -> int | None:
        """Handles a deliver_sm; returns the command_status for its deliver_sm_resp, or
        None when the answer waits until the engine has stored what it carried."""
        ...

    def on_problem(self, kind: str, detail: str, wire: bytes) -> None: ...

    def on_readable(self) -> None:
        """Called after a batch of PDUs was handled, or when writing may resume."""
        ...

    def on_lost(self, session: SmppSession, reason: str) -> None: ...


class SmppSession(asyncio.Protocol):
    """The wire side of one bound connection; the connector owns everything else."""

    def __init__(self, handler: SessionHandler, window: int) -> None:
        self.handler = handler
        self.window: Window[object] = Window(window)
        self.transport: asyncio.Transport | None = None
        self.writable = True
        self.close_reason = ""
        self._stream = PduStream()
        self._answers: list[bytes] = []
        self._reading = False
        self._requests: dict[int, asyncio.Future[pdu.Pdu]] = {}
        self._loop = asyncio.get_running_loop()
        self.closed: asyncio.Future[str] = self._loop.create_future()

    # --- asyncio.Protocol ---------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        # Everything written while a read is handled (answers, and the submits that
        # refill the window) goes out as one write at the end: on loopback and in VMs
        # the send call, not the bytes, is what costs.
        self._reading = True
        try:
            for item in self._stream.feed(data):
                if isinstance(item, Garbage):
                    self._refuse(item.status, item.sequence_number, item.describe(), item.head)
                else:
                    self._dispatch(item)
            if self._stream.broken:
                self.close("the SMSC is not speaking SMPP (too much garbage)")
            self.handler.on_readable()
        finally:
            self._reading = False
        self.flush()

    def pause_writing(self) -> None:
        self.writable = False

    def resume_writing(self) -> None:
        self.writable = True
        self.handler.on_readable()

    def connection_lost(self, exc: Exception | None) -> None:
        reason = self.close_reason or (f"connection lost: {exc}" if exc else "closed by the SMSC")
        self.transport = None
        for future in self._requests.values():
            if not future.done():
                future.set_exception(ConnectionError(reason))
        self._requests.clear()
        if not self.closed.done():
            self.closed.set_result(reason)
        self.handler.on_lost(self, reason)

    # --- writing --------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    def write(self, data: bytes) -> None:
        if self._reading:
            self._answers.append(data)
        elif self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def answer(self, data: bytes) -> None:
        """Queues an answer; `flush` (at the end of each read) writes them together."""
        self._answers.append(data)

    def answer_deliver(self, sequence: int, status: int = 0) -> None:
        """Queues a deliver_sm_resp; the caller flushes (one write for a whole batch)."""
        # A header and an empty message_id: packed directly.
        self._answers.append(_HEADER.pack(17, _DELIVER_SM_RESP, status, sequence) + b"\0")

    def flush(self) -> None:
        if self._answers:
            data = b"".join(self._answers)
            self._answers.clear()
            if self.transport is not None and not self.transport.is_closing():
                self.transport.write(data)

    async def request(self, request: pdu.Pdu, timeout: float) -> pdu.Pdu:
        """Sends a bind, unbind or enquire_link and waits for its response."""
        request.sequence_number = self.window.next_sequence()
        future: asyncio.Future[pdu.Pdu] = self._loop.create_future()
        self._requests[request.sequence_number] = future
        self.write(request.encode())
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self._requests.pop(request.sequence_number, None)

    def close(self, reason: str) -> None:
        if not self.close_reason:
            self.close_reason = reason
        self.flush()
        if self.transport is not None:
            self.transport.close()

    def abort(self, reason: str) -> None:
        if not self.close_reason:
            self.close_reason = reason
        if self.transport is not None:
            self.transport.abort()

    # --- reading --------------------------------------------------------------------

    def _dispatch(self, frame: bytes) -> None:
        _, command_id, status, seq = _HEADER.unpack_from(frame)
        if command_id == _SUBMIT_SM_RESP:
            end = frame.find(b"\0", 16)
            message_id = frame[16 : end if end >= 0 else len(frame)].decode("latin-1")
            self.handler.on_submit_resp(seq, status, message_id)
            return
        try:
            decoded = pdu.decode(frame)
        except pdu.PduError as exc:
            if command_id & RESPONSE_BIT and command_id != _GENERIC_NACK:
                self.handler.on_problem("bad_response", str(exc), frame[:64])
            else:
                self._refuse(exc.status, seq, str(exc), frame[:64])
            return
        if command_id == _DELIVER_SM:
            assert isinstance(decoded, pdu.DeliverSm)
            answer = self.handler.on_deliver(decoded, self)
            if answer is not None:
                self.answer_deliver(seq, answer)
        elif command_id == _ENQUIRE_LINK:
            self.answer(pdu.EnquireLinkResp(sequence_number=seq).encode())
        elif command_id == _UNBIND:
            self.answer(pdu.UnbindResp(sequence_number=seq).encode())
            self.close("the SMSC unbound")
        elif seq in self._requests:
            future = self._requests.pop(seq)
            if not future.done():
                future.set_result(decoded)
        elif command_id == _GENERIC_NACK:
            # A submit_sm the SMSC could not read at all: same handling as a refusal.
            self.handler.on_submit_resp(seq, status or 0xFF, "")
        elif decoded.is_response:
            self.handler.on_problem("unexpected_response", f"{decoded.name} {seq}", frame[:64])
        else:
            self._refuse_request(decoded)

    def _refuse_request(self, request: pdu.Pdu) -> None:
        """A request an ESME does not take (data_sm, query_sm ...): say so, keep going."""
        detail = f"{command_name(request.command_id)} is not supported by this ESME"
        self.handler.on_problem("unsupported_request", detail, b"")
        if request.response_class is not None:
            self.answer(request.response(status=0x03).encode())

    def _refuse(self, status: int, seq: int | None, detail: str, wire: bytes) -> None:
        self.handler.on_problem("malformed_pdu", detail, wire)
        self.answer(pdu.GenericNack(sequence_number=seq or 0, command_status=status).encode())
