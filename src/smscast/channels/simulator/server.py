"""The simulator's shared state: accepted messages, due reports, held deliveries.

`start_simulator(config)` opens the SMPP port (and the HTTP endpoint) and
returns a `RunningSimulator`, which the engine, the CLI and tests use alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import struct
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from smscast.channels.simulator import dlr
from smscast.channels.simulator.config import SimulatorConfig
from smscast.channels.simulator.http import start_http
from smscast.channels.simulator.mo import MoSent, build_mo_parts
from smscast.channels.simulator.session import Session
from smscast.channels.simulator.stats import Stats
from smscast.channels.simulator.texts import ReceivedText, received_texts
from smscast.channels.smpp import pdu
from smscast.channels.smpp.constants import CommandId, CommandStatus, MessageState

log = logging.getLogger("smscast.simulator")
S = CommandStatus


class Simulator:
    """State shared by all sessions; every method runs on the event loop, no locks."""

    def __init__(self, config: SimulatorConfig) -> None:
        config.outcome_weights()
        self.config = config
        self.rng = random.Random(config.seed)
        self.stats = Stats()
        self.sessions: set[Session] = set()
        self.messages: OrderedDict[str, dlr.Submitted] = OrderedDict()
        # (message_state, time.time()) of messages past ENROUTE: reported or cancelled
        self.final: dict[str, tuple[int, float]] = {}
        self.recent: deque[bytes] = deque(maxlen=1000)  # frames of the last submits
        self.reports: deque[tuple[float, dlr.Submitted]] = deque()
        self.held: deque[tuple[str | None, bytes]] = deque()  # encoded deliver_sm
        self.throttle_pending = 0
        self._next_number = 1
        self._mo_reference = 0
        self._wake = asyncio.Event()

    # --- binds --------------------------------------------------------------------

    def check_bind(self, request: Any) -> int:
        config = self.config
        if config.refuse_binds:
            return S.ESME_RBINDFAIL
        if config.system_id and request.system_id != config.system_id:
            return S.ESME_RINVSYSID
        if config.password and request.password != config.password:
            return S.ESME_RINVPASWD
        return S.ESME_ROK

    # --- submits ------------------------------------------------------------------

    def submit(self, session: Session, request: pdu.Pdu, frame: bytes) -> pdu.Pdu:
        """Accepts (or throttles, or refuses) one submit_sm/data_sm/submit_multi."""
        if session.throttled():
            self.stats.throttled += 1
            return request.response(S.ESME_RTHROTTLED)
        assert isinstance(request, pdu.SubmitSm | pdu.DataSm | pdu.SubmitMulti)
        status = self._invalid(request)
        if status:
            return request.response(status)
        number = self._next_number
        self._next_number = number + 1
        ids = dlr.report_id(number, self.config)
        self.stats.submits += 1
        self.recent.append(frame)
        due = time.monotonic() + self.config.dlr_delay
        if not self.reports:
            self._wake.set()
        records = dlr.remember(request, ids, session.system_id, time.time())
        for record in records:
            self.reports.append((due, record))
        self._remember(records[0])
        message_id = ids[0]
        return request.response(message_id=message_id)

    def submit_fields(
        self, session: Session, fields: pdu.ShortMessageFields, frame: bytes
    ) -> bytes:
        """`submit` for a plain submit_sm read without its PDU object; the same checks
        and records, and the submit_sm_resp as bytes."""
        sequence = fields.sequence_number
        if session.throttled():
            self.stats.throttled += 1
            return _submit_resp(sequence, S.ESME_RTHROTTLED, b"")
        status: int = S.ESME_ROK
        why = ""
        if not fields.destination_addr:
            why, status = "an empty destination_addr", S.ESME_RINVDSTADR
        elif fields.data_coding == 8:
            body = fields.short_message
            user_data = body[1 + body[0] :] if fields.esm_class & 0x40 and body else body
            if len(user_data) % 2:
                why = f"UCS-2 text of an odd number of octets ({len(user_data)})"
                status = S.ESME_RINVMSGLEN
        if status:
            log.warning("simulator: refused submit_sm %d: %s", sequence, why)
            return _submit_resp(sequence, status, b"")
        number = self._next_number
        self._next_number = number + 1
        ids = dlr.report_id(number, self.config)
        self.stats.submits += 1
        self.recent.append(frame)
        if not self.reports:
            self._wake.set()
        record = dlr.remember_fields(fields, ids, session.system_id, time.time())
        self.reports.append((time.monotonic() + self.config.dlr_delay, record))
        self._remember(record)
        return _submit_resp(sequence, S.ESME_ROK, ids[0].encode("ascii"))

    def _invalid(self, request: pdu.SubmitSm | pdu.DataSm | pdu.SubmitMulti) -> int:
        """The command_status for a submit no SMSC would take, after logging why."""
        why = None
        status: int = S.ESME_ROK
        if isinstance(request, pdu.SubmitMulti):
            if any(not d.address for d in request.dest_addresses):
                why, status = "an empty destination address", S.ESME_RINVDSTADR
        elif not request.destination_addr:
            why, status = "an empty destination_addr", S.ESME_RINVDSTADR
        if request.data_coding == 8 and not why:
            body = dlr.body_of(request)
            user_data = body[1 + body[0] :] if request.esm_class & 0x40 and body else body
            if len(user_data) % 2:
                why = f"UCS-2 text of an odd number of octets ({len(user_data)})"
                status = S.ESME_RINVMSGLEN
        if why:
            log.warning("simulator: refused %s %d: %s", request.name, request.sequence_number, why)
        return status

    def _remember(self, message: dlr.Submitted) -> None:
        messages = self.messages
        messages[message.message_id] = message
        if len(messages) > self.config.keep_messages:
            forgotten, _ = messages.popitem(last=False)
            self.final.pop(forgotten, None)

    def manage(self, request: pdu.Pdu) -> pdu.Pdu:
        """query_sm, cancel_sm, replace_sm on a message we still remember."""
        message_id = getattr(request, "message_id", "")
        known = message_id in self.messages
        state, final_at = self.final.get(message_id, (MessageState.ENROUTE, 0.0))
        if isinstance(request, pdu.QuerySm):
            if not known:
                return request.response(S.ESME_RQUERYFAIL)
            final_date = f"{datetime.fromtimestamp(final_at, UTC):%y%m%d%H%M%S}000+"
            return request.response(
                message_id=message_id,
                final_date=final_date if final_at else "",
                message_state=state,
                error_code=dlr.ERROR_CODES.get(state, 0),
            )
        pending = known and state == MessageState.ENROUTE
        if isinstance(request, pdu.CancelSm):
            if not pending:
                return request.response(S.ESME_RCANCELFAIL)
            self.final[message_id] = (MessageState.DELETED, time.time())
            return request.response()
        assert isinstance(request, pdu.ReplaceSm)
        if not pending:
            return request.response(S.ESME_RREPLACEFAIL)
        old = self.messages[message_id]
        if old.text:
            text = dlr.preview(request.short_message, 0, False)
            self.messages[message_id] = old._replace(text=text)
        return request.response()

    # --- reports --------------------------------------------------------------------

    async def run_reports(self) -> None:
        """Sends each message's report when it falls due, in batches per session."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self.reports:
                wait = self.reports[0][0] - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(min(wait, 0.5))
                    continue
                self._send_due_reports()
                await asyncio.sleep(0)  # let sessions read their acknowledgements

    def _send_due_reports(self, limit: int = 5000) -> None:
        now = time.monotonic()
        done_at = time.time()
        draw = dlr.OutcomeDraw(self.rng, self.config.outcome_weights())
        batches: dict[str | None, list[bytes]] = {}
        reports = self.reports
        while reports and reports[0][0] <= now and limit:
            _, message = reports.popleft()
            limit -= 1
            final = self.final.get(message.message_id)
            if final is not None and final[0] == MessageState.DELETED:
                continue  # cancelled
            state = draw()
            self.final[message.message_id] = (state, done_at)
            if dlr.wants_report(message.registered_delivery, state):
                # A replace_sm may have changed the text since the submit.
                current = self.messages.get(message.message_id, message)
                if current.text != message.text:
                    message = message._replace(text=current.text)
                report = dlr.encode_report(message, state, done_at)
                batches.setdefault(message.system_id, []).append(report)

        for system_id, batch in batches.items():
            self.stats.reports_sent += len(batch)
            self.route(system_id, batch)

    # --- deliveries (reports and MOs) to a bound receiver ---------------------------

    def receiver_for(self, system_id: str | None) -> Session | None:
        for session in self.sessions:
            mine = system_id is None or session.system_id == system_id
            if mine and session.can_receive and not session.closing:
                return session
        return None

    def route(self, system_id: str | None, messages: list[bytes]) -> bool:
        """Delivers now if a receiver of `system_id` is bound, else holds them."""
        session = self.receiver_for(system_id)
        if session is None:
            self.hold(system_id, messages)
            return False
        session.deliver(messages)
        return True

    def hold(self, system_id: str | None, messages: list[bytes]) -> None:
        for message in messages:
            if len(self.held) >= self.config.keep_pending:
                self.held.popleft()
                self.stats.held_dropped += 1
            self.held.append((system_id, message))
        self.stats.held = len(self.held)

    def retry_later(self, system_id: str | None, message: bytes, delay: float = 1.0) -> None:
        """Sends a report or MO again after an ESME said it cannot take it now."""
        asyncio.get_running_loop().call_later(delay, self.route, system_id, [message])

    def release_held(self, session: Session) -> None:
        """Sends what waited for a receiver to the one that just bound."""
        if session.closing or not self.held:
            return
        mine = [m for s, m in self.held if s is None or s == session.system_id]
        if not mine:
            return
        self.held = deque((s, m) for s, m in self.held if not (s is None or s == session.system_id))
        self.stats.held = len(self.held)
        session.deliver(mine)

    # --- MO --------------------------------------------------------------------------

    def send_mo(self, sender: str, recipient: str, text: str) -> MoSent:
        self._mo_reference = (self._mo_reference + 1) % (1 << self.config.mo_reference_bits)
        parts = build_mo_parts(sender, recipient, text, self._mo_reference, self.config)
        self.stats.mo_parts_sent += len(parts)
        delivered = self.route(None, [part.encode() for part in parts])
        return MoSent(parts=len(parts), queued=not delivered)


_RESP_HEAD = struct.Struct(">IIII")
_SUBMIT_SM_RESP = int(CommandId.SUBMIT_SM_RESP)


def _submit_resp(sequence: int, status: int, message_id: bytes) -> bytes:
    """A submit_sm_resp: the message id with its NUL, or no body on an error (3.3)."""
    if status:
        return _RESP_HEAD.pack(16, _SUBMIT_SM_RESP, status, sequence)
    return _RESP_HEAD.pack(17 + len(message_id), _SUBMIT_SM_RESP, 0, sequence) + message_id + b"\0"


ChannelMo = Callable[[str, str, str], Awaitable[dict[str, Any]]]


class RunningSimulator:
    """A simulator listening on its ports; `close()` stops it."""

    def __init__(
        self,
        simulator: Simulator,
        server: asyncio.Server,
        http_server: asyncio.Server | None,
        pump: asyncio.Task[None],
    ) -> None:
        self.simulator = simulator
        self._server = server
        self._http_server = http_server
        self._pump = pump
        #: Injects a person's message on another channel (`channels.ChannelFakes.inject`),
        #: set where the channel fakes run beside this simulator (`smscast serve`).
        self.channel_mo: ChannelMo | None = None

    @property
    def config(self) -> SimulatorConfig:
        return self.simulator.config

    @property
    def stats(self) -> Stats:
        return self.simulator.stats

    @property
    def port(self) -> int:
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def http_port(self) -> int | None:
        if self._http_server is None:
            return None
        return int(self._http_server.sockets[0].getsockname()[1])

    @property
    def bound_sessions(self) -> int:
        return sum(1 for s in self.simulator.sessions if s.system_id is not None)

    @property
    def recent_submits(self) -> list[pdu.Pdu]:
        """The last thousand accepted submits, decoded (for tests)."""
        return [pdu.decode(frame) for frame in self.simulator.recent]

    @property
    def received_texts(self) -> list[ReceivedText]:
        """The texts of the last thousand accepted submits as a phone shows them: parts
        joined, GSM-7 read with the national shift tables their headers name."""
        return received_texts(self.recent_submits)

    async def send_mo(self, sender: str, recipient: str, text: str) -> MoSent:
        """Injects an inbound message from `sender` to our number `recipient`."""
        return self.simulator.send_mo(sender, recipient, text)

    def drop_connections(self) -> int:
        """Cuts every connection at once; returns how many there were."""
        sessions = list(self.simulator.sessions)
        for session in sessions:
            session.drop()
        self.stats.drops += len(sessions)
        return len(sessions)

    def throttle_next(self, count: int) -> None:
        """The next `count` submits (over all sessions) get ESME_RTHROTTLED."""
        self.simulator.throttle_pending = count

    def send_garbage(self) -> int:
        """Writes one garbage PDU (of `config.garbage_kind`) to every bound session."""
        sessions = [s for s in self.simulator.sessions if s.system_id is not None]
        for session in sessions:
            session.write(session.garbage())
        return len(sessions)

    def snapshot(self) -> dict[str, Any]:
        return {**asdict(self.stats), "bound_sessions": self.bound_sessions}

    async def close(self) -> None:
        self._pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._pump
        for server in (self._server, self._http_server):
            if server is not None:
                server.close()
        for session in list(self.simulator.sessions):
            session.drop()
        for server in (self._server, self._http_server):
            if server is not None:
                await server.wait_closed()


async def start_simulator(config: SimulatorConfig | None = None) -> RunningSimulator:
    """Opens the SMPP port (and the HTTP endpoint unless `http_port` is None)."""
    config = config or SimulatorConfig()
    simulator = Simulator(config)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Session(simulator), config.host, config.port)
    http_server = None
    pump = asyncio.create_task(simulator.run_reports(), name="simulator-reports")
    running = RunningSimulator(simulator, server, None, pump)
    if config.http_port is not None:
        try:
            http_server = await start_http(running, config.host, config.http_port)
        except OSError:
            await running.close()
            raise
        running._http_server = http_server
    log.info(
        "simulator: SMPP on %s:%d%s",
        config.host,
        running.port,
        f", HTTP on {config.host}:{running.http_port}" if http_server else "",
    )
    return running
