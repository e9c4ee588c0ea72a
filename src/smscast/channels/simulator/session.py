"""One ESME connection to the simulator: binds, answers, faults, all without awaits.

A `Session` is an asyncio.Protocol so that a burst of pipelined PDUs is cut,
answered and written back in one pass over the received bytes: one write per
read, no per-PDU task or await, which is what lets the simulator answer far
faster than any client can submit.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import struct
import time
from typing import Any, Protocol

from smscast.channels.simulator.config import SimulatorConfig
from smscast.channels.simulator.stats import Stats
from smscast.channels.smpp import pdu
from smscast.channels.smpp.constants import CommandId, CommandStatus, command_name, status_name

log = logging.getLogger("smscast.simulator")

S = CommandStatus
_BINDS = {
    CommandId.BIND_TRANSMITTER: (True, False),
    CommandId.BIND_RECEIVER: (False, True),
    CommandId.BIND_TRANSCEIVER: (True, True),
}
_SUBMITS = frozenset((CommandId.SUBMIT_SM, CommandId.DATA_SM, CommandId.SUBMIT_MULTI))
_TRANSMITTER_ONLY = frozenset((CommandId.QUERY_SM, CommandId.CANCEL_SM, CommandId.REPLACE_SM))
_DELIVER_SM_RESP = CommandId.DELIVER_SM_RESP.to_bytes(4, "big")
_SUBMIT_SM = CommandId.SUBMIT_SM.to_bytes(4, "big")
#: A well-formed header with a command_id no SMPP version defines.
_UNKNOWN_COMMAND = struct.pack(">IIII", 16, 0x000000F0, 0, 0x7FFFFFFF)


class SessionHost(Protocol):
    """What a session asks of the simulator that accepted it (`server.Simulator`): its
    settings and counters, the messages it keeps, and where held deliveries wait."""

    config: SimulatorConfig
    stats: Stats
    sessions: set[Session]
    rng: random.Random
    throttle_pending: int

    def check_bind(self, request: Any) -> int: ...

    def submit(self, session: Session, request: pdu.Pdu, frame: bytes) -> pdu.Pdu: ...

    def submit_fields(
        self, session: Session, fields: pdu.ShortMessageFields, frame: bytes
    ) -> bytes: ...

    def manage(self, request: pdu.Pdu) -> pdu.Pdu: ...

    def hold(self, system_id: str | None, messages: list[bytes]) -> None: ...

    def retry_later(self, system_id: str | None, message: bytes, delay: float = 1.0) -> None: ...

    def release_held(self, session: Session) -> None: ...


class Session(asyncio.Protocol):
    def __init__(self, simulator: SessionHost) -> None:
        self.sim = simulator
        self.framer = pdu.Framer(simulator.config.max_pdu_length)
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.system_id: str | None = None  # set once bound
        self.can_transmit = False
        self.can_receive = False
        self.closing = False
        self.received = 0  # PDUs since the bind, for drop_after and garbage_after
        self.submits = 0  # for throttle_every
        self.rate_window = 0.0
        self.rate_count = 0
        self.unacked: dict[int, bytes] = {}  # deliver_sm frames awaiting their response
        self._sequence = 0

    # --- connection ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if peer else "?"
        self.sim.sessions.add(self)
        self.sim.stats.connections += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.sim.sessions.discard(self)
        if self.unacked:
            # A report or MO the ESME never acknowledged goes to the next receiver.
            self.sim.hold(self.system_id, list(self.unacked.values()))
            self.unacked.clear()

    def data_received(self, data: bytes) -> None:
        out: list[bytes] = []
        for frame in self.framer.feed(data):
            if self.closing:
                break
            self.handle(frame, out)
        error = self.framer.error
        if error is not None and not self.closing:
            log.warning("simulator: %s sent an unreadable stream: %s; closing", self.peer, error)
            self.sim.stats.bad_pdus += 1
            out.append(self.nack(error.status, error.sequence_number or 0))
            self.closing = True
        self.write(b"".join(out) if out else b"", close=self.closing)

    def write(self, data: bytes, close: bool = False) -> None:
        """Writes now, or after the configured response delay (a slow SMSC)."""
        delay = self.sim.config.response_delay
        if delay > 0:
            asyncio.get_running_loop().call_later(delay, self._write, data, close)
        else:
            self._write(data, close)

    def _write(self, data: bytes, close: bool) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if data:
            transport.write(data)
        if close:
            transport.close()

    def drop(self) -> None:
        """Cuts the connection without a word (a carrier fault)."""
        self.closing = True
        if self.transport is not None:
            self.transport.abort()

    # --- PDUs ---------------------------------------------------------------------

    def handle(self, frame: bytes, out: list[bytes]) -> None:
        command = frame[4:8]
        if command == _DELIVER_SM_RESP:
            # The ESME's answer to a report or MO: only its header matters.
            _, _, status, sequence = pdu.peek_header(frame)
            self.acknowledged(sequence, status)
            return
        if command == _SUBMIT_SM and self.can_transmit:
            # The hot path: a plain submit_sm read into a tuple, answered as bytes.
            fields = pdu.read_short_message(frame)
            if fields is not None:
                if self.count_received(out):
                    out.append(self.sim.submit_fields(self, fields, frame))
                return
        try:
            request = pdu.decode(frame)
        except pdu.PduError as exc:
            self.refuse(exc, out)
            return
        command_id = request.command_id
        if self.system_id is not None and not self.count_received(out):
            return
        if command_id in _SUBMITS:
            if not self.can_transmit:
                out.append(request.response(S.ESME_RINVBNDSTS).encode())
            else:
                out.append(self.sim.submit(self, request, frame).encode())
        elif command_id == CommandId.GENERIC_NACK:
            self.acknowledged(request.sequence_number, request.command_status)
        elif command_id == CommandId.ENQUIRE_LINK:
            out.append(request.response().encode())
        elif command_id in _BINDS:
            out.append(self.bind(request).encode())
        elif command_id == CommandId.UNBIND:
            out.append(request.response().encode())
            self.closing = True
        elif command_id in _TRANSMITTER_ONLY:
            if not self.can_transmit:
                out.append(request.response(S.ESME_RINVBNDSTS).encode())
            else:
                out.append(self.sim.manage(request).encode())
        elif command_id in (CommandId.ENQUIRE_LINK_RESP, CommandId.UNBIND_RESP):
            pass
        else:
            # An SMSC-to-ESME command (outbind, alert_notification, a bind or deliver_sm)
            # sent to us: the specification's answer is generic_nack with invalid id.
            log.warning("simulator: %s sent %s, which an ESME may not", self.peer, request.name)
            out.append(self.nack(S.ESME_RINVCMDID, request.sequence_number))

    def count_received(self, out: list[bytes]) -> bool:
        """Counts a PDU of a bound session for the drop and garbage faults; False when
        the connection is dropped on it (unanswered)."""
        self.received += 1
        config = self.sim.config
        if config.drop_after and self.received >= config.drop_after:
            log.info("simulator: dropping %s on PDU %d (drop_after)", self.peer, self.received)
            self.sim.stats.drops += 1
            self.closing = True
            return False
        if config.garbage_after and self.received % config.garbage_after == 0:
            out.append(self.garbage())
        return True

    def refuse(self, error: pdu.PduError, out: list[bytes]) -> None:
        """Answers a PDU that could not be read: its own response with the error
        when it is a known request, generic_nack otherwise."""
        self.sim.stats.bad_pdus += 1
        log.warning("simulator: bad PDU from %s: %s", self.peer, error)
        cls = pdu.pdu_class(error.command_id) if error.command_id is not None else None
        sequence = error.sequence_number or 0
        if cls is not None and cls.response_class is not None:
            response = cls.response_class(sequence_number=sequence, command_status=error.status)
            out.append(response.encode())
        else:
            out.append(self.nack(error.status, sequence))

    def nack(self, status: int, sequence: int) -> bytes:
        self.sim.stats.generic_nacks_sent += 1
        return pdu.GenericNack(command_status=status, sequence_number=sequence).encode()

    def bind(self, request: pdu.Pdu) -> pdu.Pdu:
        assert isinstance(request, pdu.BindTransmitter | pdu.BindReceiver | pdu.BindTransceiver)
        if self.system_id is not None:
            return request.response(S.ESME_RALYBND)
        status = self.sim.check_bind(request)
        if status:
            self.sim.stats.bind_failures += 1
            log.info(
                "simulator: refused %s from %s (system_id %r): %s",
                request.name,
                self.peer,
                request.system_id,
                command_name(request.command_id),
            )
            return request.response(status)
        self.system_id = request.system_id
        self.can_transmit, self.can_receive = _BINDS[CommandId(request.command_id)]
        self.sim.stats.binds += 1
        log.info("simulator: %s bound as %s (%s)", self.peer, request.system_id, request.name)
        if self.can_receive:
            asyncio.get_running_loop().call_soon(self.sim.release_held, self)
        return request.response(system_id=self.sim.config.smsc_system_id)

    def acknowledged(self, sequence: int, status: int) -> None:
        sent = self.unacked.pop(sequence, None)
        if sent is None:
            log.warning(
                "simulator: %s answered sequence %d, which we never sent", self.peer, sequence
            )
            return
        if status:
            self.sim.stats.deliver_refused += 1
            log.info(
                "simulator: %s refused deliver_sm %d: %s",
                self.peer,
                sequence,
                status_name(status),
            )
            if status == S.ESME_RX_T_APPN:  # "not now": a carrier tries again later
                self.sim.retry_later(self.system_id, sent)
        else:
            self.sim.stats.deliver_acked += 1

    def deliver(self, frames: list[bytes]) -> None:
        """Sends encoded reports and MOs in one write, each with our next sequence
        number, and keeps each until the ESME acknowledges it."""
        out = []
        unacked = self.unacked
        sequence = self._sequence
        for frame in frames:
            sequence = sequence % 0x7FFFFFFF + 1
            frame = frame[:12] + sequence.to_bytes(4, "big") + frame[16:]
            unacked[sequence] = frame
            out.append(frame)
        self._sequence = sequence
        self._write(b"".join(out), close=False)

    def garbage(self) -> bytes:
        kind = self.sim.config.garbage_kind
        self.sim.stats.garbage_sent += 1
        if kind == "bad_length":
            return b"\x00\x00\x00\x05junk!"
        if kind == "random":
            return os.urandom(24)
        return _UNKNOWN_COMMAND

    def throttled(self) -> bool:
        """Whether this submit hits a throttling fault (fraction, burst or rate)."""
        config = self.sim.config
        if self.sim.throttle_pending > 0:
            self.sim.throttle_pending -= 1
            return True
        if config.throttle_fraction and self.sim.rng.random() < config.throttle_fraction:
            return True
        count = self.submits
        self.submits = count + 1
        every = config.throttle_every
        if every and config.throttle_burst and count % every >= every - config.throttle_burst:
            return True
        if config.max_submit_per_s:
            now = time.monotonic()
            if now - self.rate_window >= 1.0:
                self.rate_window, self.rate_count = now, 0
            if self.rate_count >= config.max_submit_per_s:
                return True
            self.rate_count += 1
        return False
