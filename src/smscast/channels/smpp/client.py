"""The SMPP 3.4 connector: an ESME that binds to one SMSC and keeps the binding alive.

`SmppClient` fits the `Connector` protocol. It owns the life cycle (connect,
bind, enquire_link, reconnect with backoff and jitter, unbind on stop) and
glues three parts together: the `SmppSession` on the wire, the `Submitter`
(window, rate, results) and the `Receiver` (delivery reports, inbound texts).
Every exchange worth keeping becomes a `LogEntry` event, never with the password.

A deliver_sm is answered only when the engine calls the `ack` of the event it
became, after storing it: a crash in between leaves it unanswered, and the SMSC
sends it again after the reconnect. Answers the engine gives together (a stored
batch) go out in one write.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import secrets
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime

from smscast.channels.backoff import Backoff
from smscast.channels.base import (
    Ack,
    ChannelEvent,
    ConnectorState,
    DeliveryReport,
    LogEntry,
    OutgoingMessage,
    SubmitOutcome,
    SubmitResult,
)
from smscast.channels.ratelimit import TokenBucket
from smscast.channels.smpp import pdu
from smscast.channels.smpp.constants import RESPONSE_BIT, CommandStatus, status_name
from smscast.channels.smpp.matching import ReportMatcher
from smscast.channels.smpp.reassembly import ReassemblyBuffer
from smscast.channels.smpp.receiving import Receiver
from smscast.channels.smpp.session import SmppSession
from smscast.channels.smpp.settings import BindMode, SmppSettings
from smscast.channels.smpp.submitting import Submitter
from smscast.core.parts import DecodedPart

_BIND = {
    BindMode.TRANSMITTER: pdu.BindTransmitter,
    BindMode.RECEIVER: pdu.BindReceiver,
    BindMode.TRANSCEIVER: pdu.BindTransceiver,
}
#: Parts of long inbound texts waiting for the rest, with when and how to answer each.
InboundParts = ReassemblyBuffer[tuple[DecodedPart, datetime, Ack]]
#: Events waiting for the engine beyond this make us answer deliver_sm with
#: ESME_RX_T_APPN, so the SMSC keeps them and retries instead of us growing memory.
MAX_PENDING_EVENTS = 200_000


class SmppClient:
    """One ESME connection to one SMSC (see the module docstring)."""

    def __init__(self, settings: SmppSettings, *, rng: random.Random | None = None) -> None:
        self.name = settings.name
        self.settings = settings
        self._events: asyncio.Queue[ChannelEvent | None] = asyncio.Queue()
        self._backoff = Backoff(
            settings.reconnect_min_s, settings.reconnect_max_s, rng=rng or random.Random()
        )
        self._receiver = Receiver(settings, self._emit, self._log_receive, self._awaiting_ids)
        self._submitter = Submitter(
            settings,
            time.monotonic,
            self._receiver.normalise_submit_id,
            self._accepted,
            self._log_submit,
        )
        self._session: SmppSession | None = None
        self._bound: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._detail = "not started"
        self._errors: deque[str] = deque(maxlen=5)
        self._rate = (0.0, 0, 0.0)  # (stamp, parts sent then, parts per second)
        self._unanswered: dict[SmppSession, int] = {}  # deliver_sm waiting for the engine
        self._answering: set[SmppSession] = set()  # sessions with answers to write

    def join_group(
        self,
        events: asyncio.Queue[ChannelEvent | None],
        matcher: ReportMatcher[DeliveryReport],
        parts: InboundParts,
        bucket: TokenBucket,
        awaiting_ids: Callable[[], bool],
    ) -> None:
        """Makes this client one bind of several (`binds.BindGroup`), before `start`: it
        emits into the group's queue, remembers carrier ids and keeps the parts of long
        inbound texts where every bind finds them (the SMSC sends reports and parts over
        any bind), and sends within the group's rate."""
        self._events = events
        self._receiver.matcher = matcher
        self._receiver.parts = parts
        self._receiver.awaiting_ids = awaiting_ids
        self._submitter.bucket = bucket

    # --- Connector ------------------------------------------------------------------

    async def start(self) -> None:
        """Connects and binds once; raises ConnectionError naming why it could not."""
        self._bound = asyncio.Event()
        self._stopping = False
        await self._connect()
        self._tasks = [
            asyncio.create_task(self._supervise(), name=f"{self.name}-supervise"),
            asyncio.create_task(self._tick(), name=f"{self.name}-tick"),
        ]

    async def send(self, batch: Sequence[OutgoingMessage]) -> list[SubmitResult]:
        if not self.settings.can_send:
            return _all(batch, SubmitOutcome.PERMANENT, "receiver_only", "bound as receiver")
        if self._stopping or self._bound is None:
            return _all(batch, SubmitOutcome.TEMPORARY, "stopped", "the connector is not running")
        if not self._bound.is_set():
            try:
                await asyncio.wait_for(self._bound.wait(), self.settings.response_timeout_s)
            except TimeoutError:
                return _all(
                    batch,
                    SubmitOutcome.TEMPORARY,
                    "not_connected",
                    self._detail,
                    self.settings.reconnect_min_s,
                )
        return await self._submitter.submit(batch)

    def send_until(self, deadline: float) -> None:
        """Writes no submit after `deadline` (on `time.monotonic()`) until it is moved on.

        The worker holding this connector sets it from its lease, renewed every second:
        a worker that was paused (SIGSTOP, a frozen VM) past its lease must not write the
        submits it had queued when it wakes, since another worker may be sending for the
        connector by then. What is queued stays queued, and the worker, noticing the lost
        lease, stops the connector.
        """
        self._submitter.send_until = deadline
        self._submitter.pump()

    async def events(self) -> AsyncIterator[ChannelEvent]:
        """Events as they arrive; ends after `stop` once every event was taken."""
        while True:
            event = await self._events.get()
            if event is None:
                return
            yield event

    def state(self) -> ConnectorState:
        return ConnectorState(
            name=self.name,
            connected=self._session is not None and self._session.is_open,
            detail=self._detail,
            in_flight=self._submitter.in_flight,
            sent_per_s=self._rate[2],
            last_errors=tuple(self._errors),
        )

    async def stop(self) -> None:
        """Waits (up to the response timeout) for answers in flight, unbinds, closes."""
        self._stopping = True
        deadline = time.monotonic() + self.settings.response_timeout_s
        while not self._submitter.idle and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        # What the SMSC sent us is answered once stored, before we unbind; what is still
        # unstored at the deadline stays unanswered and comes again after the next bind.
        while self._waiting_for_engine() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        session = self._session
        if session is not None and session.is_open:
            with contextlib.suppress(TimeoutError, ConnectionError):
                await session.request(pdu.Unbind(), self.settings.response_timeout_s)
            session.close("unbound on stop")
            try:
                await asyncio.wait_for(session.closed, self.settings.response_timeout_s)
            except TimeoutError:
                session.abort("no close after unbind")
        self._submitter.fail_queued("stopped", "the connector stopped", None)
        self._receiver.expire(float("inf"))
        self._detail = "stopped"
        self._events.put_nowait(None)

    # --- connecting -----------------------------------------------------------------

    async def _connect(self) -> None:
        settings = self.settings
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        try:
            _, session = await asyncio.wait_for(
                loop.create_connection(
                    lambda: SmppSession(self, settings.window),
                    settings.host,
                    settings.port,
                    ssl=self._tls(),
                ),
                settings.response_timeout_s,
            )
        except (OSError, TimeoutError) as exc:
            raise self._failed(
                "connect",
                f"cannot connect to {settings.host}:{settings.port}: {exc or 'timed out'}",
                started,
            ) from None
        bind = _BIND[settings.bind_mode](
            system_id=settings.system_id,
            password=settings.password,
            system_type=settings.system_type,
            addr_ton=settings.bind_ton,
            addr_npi=settings.bind_npi,
            address_range=settings.address_range,
        )
        self._receiver.link = secrets.token_hex(6)  # texts over this connection carry it
        try:
            answer = await session.request(bind, settings.response_timeout_s)
        except (TimeoutError, ConnectionError) as exc:
            session.abort("no bind response")
            raise self._failed(
                "bind", f"{bind.name}: no answer ({exc or 'timed out'})", started
            ) from None
        if answer.command_id != bind.command_id | RESPONSE_BIT:
            # A generic_nack or another bind's response is no binding, whatever its status:
            # taking it for one would send submits over a session the SMSC never bound.
            session.close("not a bind response")
            reason = f"{bind.name} answered by {answer.name} ({status_name(answer.command_status)})"
            raise self._failed("bind", reason, started)
        if answer.command_status != CommandStatus.ESME_ROK:
            session.close("bind refused")
            reason = f"{bind.name} refused: {status_name(answer.command_status)}"
            raise self._failed("bind", reason, started)
        self._log(
            "bind",
            f"{bind.name} {settings.describe()}",
            f"{answer.name} system_id={getattr(answer, 'system_id', '')}",
            started,
        )
        self._session = self._submitter.session = session
        self._backoff.reset()
        self._detail = f"bound ({settings.bind_mode})"
        assert self._bound is not None
        self._bound.set()
        self._submitter.pump()

    def _tls(self) -> ssl.SSLContext | None:
        if not self.settings.tls:
            return None
        return ssl.create_default_context(cafile=self.settings.tls_ca_file)

    def _failed(self, kind: str, reason: str, started: float) -> ConnectionError:
        self._errors.append(reason)
        self._detail = reason
        self._log(kind, self.settings.describe(), "", started, error=reason)
        return ConnectionError(reason)

    async def _supervise(self) -> None:
        """Keeps the binding alive: enquire_link while bound, reconnect when it is gone."""
        while not self._stopping:
            session = self._session
            if session is not None:
                await self._keep_alive(session)
                continue
            delay = self._backoff.next_delay()
            self._detail = (
                f"reconnecting in {delay:.1f}s (last: {self._errors[-1] if self._errors else '-'})"
            )
            await asyncio.sleep(delay)
            try:
                await self._connect()
            except ConnectionError:
                continue

    async def _keep_alive(self, session: SmppSession) -> None:
        settings = self.settings
        while session.is_open:
            try:
                await asyncio.wait_for(asyncio.shield(session.closed), settings.enquire_link_s)
                break
            except TimeoutError:
                pass
            try:
                await session.request(pdu.EnquireLink(), settings.response_timeout_s)
            except TimeoutError:
                session.abort(f"no enquire_link_resp within {settings.response_timeout_s}s")
            except ConnectionError:
                break
        await asyncio.shield(session.closed)

    async def _tick(self) -> None:
        """Response timeouts, held reports and stale inbound parts, a few times a second."""
        period = min(0.25, self.settings.response_timeout_s / 4)
        while True:
            await asyncio.sleep(period)
            now = time.monotonic()
            self._submitter.expire(now)
            self._receiver.expire(now)
            stamp, sent, _ = self._rate
            if now - stamp >= 1.0:
                total = self._submitter.sent
                self._rate = (now, total, (total - sent) / (now - stamp) if stamp else 0.0)

    # --- SessionHandler ---------------------------------------------------------------

    def on_submit_resp(self, seq: int, status: int, message_id: str) -> None:
        if not self._submitter.on_submit_resp(seq, status, message_id):
            self._log_event(
                "unexpected_response",
                f"submit_sm_resp {seq} ({status_name(status)}) for no submit of ours",
            )

    def on_deliver(self, deliver: pdu.DeliverSm, session: SmppSession) -> int | None:
        if self._events.qsize() >= MAX_PENDING_EVENTS:
            return CommandStatus.ESME_RX_T_APPN
        ack = functools.partial(self._answer, session, deliver.sequence_number)
        if not self._receiver.on_deliver(deliver, time.monotonic(), ack):
            return CommandStatus.ESME_ROK
        self._unanswered[session] = self._unanswered.get(session, 0) + 1
        return None

    def on_problem(self, kind: str, detail: str, wire: bytes) -> None:
        self._errors.append(detail)
        self._log_event(kind, detail, wire.hex())

    def on_readable(self) -> None:
        self._submitter.pump()

    def on_lost(self, session: SmppSession, reason: str) -> None:
        # Its unanswered deliver_sm are the SMSC's to send again on the next binding.
        self._unanswered.pop(session, None)
        self._answering.discard(session)
        if self._session is session:
            self._session = None
            if self._bound is not None:
                self._bound.clear()
        if not self._stopping:
            self._errors.append(reason)
            self._detail = reason
            self._log_event("connection_lost", reason)
        self._submitter.connection_lost(session, reason, self.settings.reconnect_min_s)

    # --- events -----------------------------------------------------------------------

    def _emit(self, event: ChannelEvent) -> None:
        self._events.put_nowait(event)

    def _answer(self, session: SmppSession, sequence: int) -> None:
        """The engine stored what deliver_sm `sequence` carried: ESME_ROK, written with
        the other answers of the same batch once the engine's loop turn ends."""
        waiting = self._unanswered.get(session)
        if waiting is None or not session.is_open:
            return  # that connection is gone: the SMSC sends it again, we store it again
        self._unanswered[session] = waiting - 1
        session.answer_deliver(sequence)
        if not self._answering:
            asyncio.get_running_loop().call_soon(self._write_answers)
        self._answering.add(session)

    def _write_answers(self) -> None:
        sessions, self._answering = self._answering, set()
        for session in sessions:
            session.flush()

    def _waiting_for_engine(self) -> bool:
        session = self._session
        if session is None or not session.is_open:
            return False
        return self._unanswered.get(session, 0) > 0

    def _awaiting_ids(self) -> bool:
        return self._submitter.in_flight > 0

    def _accepted(self, carrier_id: str, ref: int) -> None:
        self._receiver.on_accepted(carrier_id, ref, time.monotonic())

    def _log(
        self,
        kind: str,
        request: str,
        response: str,
        started: float,
        error: str | None = None,
        refs: tuple[int, ...] = (),
    ) -> None:
        took = (time.monotonic() - started) * 1000
        self._emit(
            LogEntry(self.name, kind, request, response, took, datetime.now(UTC), refs, error)
        )

    def _log_event(self, kind: str, detail: str, raw: str = "", refs: tuple[int, ...] = ()) -> None:
        self._log(kind, raw, "", time.monotonic(), error=detail, refs=refs)

    def _log_submit(self, kind: str, detail: str, refs: tuple[int, ...]) -> None:
        self._log_event(kind, detail, refs=refs)

    def _log_receive(self, kind: str, detail: str, raw: str) -> None:
        self._log_event(kind, detail, raw)


def _all(
    batch: Sequence[OutgoingMessage],
    outcome: SubmitOutcome,
    code: str,
    error: str,
    retry_after: float | None = None,
) -> list[SubmitResult]:
    return [SubmitResult(m.ref, outcome, (), code, error, retry_after) for m in batch]
