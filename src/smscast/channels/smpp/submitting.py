"""The submit pipeline: parts queued, sent within window and rate, answers collected.

Every `send(batch)` puts the parts of its messages at the back of one queue;
`pump` writes as many as the window and the token bucket allow in a single
write, and runs again whenever responses free the window (once per read, not
once per response). A message's result is known when every part has its
answer:

- all accepted -> ACCEPTED with the carrier ids;
- ESME_RTHROTTLED / ESME_RMSGQFUL -> the rate is halved, sending pauses, and
  the part goes back to the front of the queue, up to `throttle_retries`
  times; after that TEMPORARY with `retry_after`;
- any other refusal -> PERMANENT with the command_status name;
- no response within `response_timeout_s`, or the connection died while the
  part was in the window -> UNKNOWN: the carrier may have it, so it is
  reported and never resent blindly;
- not sent because the connection died first -> TEMPORARY.

The worst part decides the message: PERMANENT > UNKNOWN > TEMPORARY > ACCEPTED.

A message is cut into parts and encoded when `pump` reaches it, not when `send`
queues it: composing a whole batch up front would leave the window empty (and
the SMSC idle) for as long as that takes, where composing inside the read
handler overlaps it with the SMSC answering the previous window.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from smscast.channels.base import OutgoingMessage, SubmitOutcome, SubmitResult
from smscast.channels.ratelimit import TokenBucket
from smscast.channels.smpp.compose import compose_parts, submit_frame
from smscast.channels.smpp.constants import CommandStatus, status_name
from smscast.channels.smpp.session import SmppSession
from smscast.channels.smpp.settings import SmppSettings
from smscast.channels.smpp.wire import PduError
from smscast.core.errors import UserError

PUSH_BACK = frozenset({int(CommandStatus.ESME_RTHROTTLED), int(CommandStatus.ESME_RMSGQFUL)})
_SEVERITY = {
    SubmitOutcome.ACCEPTED: 0,
    SubmitOutcome.TEMPORARY: 1,
    SubmitOutcome.UNKNOWN: 2,
    SubmitOutcome.PERMANENT: 3,
}


@dataclass(slots=True)
class _Batch:
    results: list[SubmitResult | None]
    remaining: int
    done: asyncio.Future[None]


@dataclass(slots=True)
class _Message:
    ref: int
    batch: _Batch
    index: int
    parts_left: int
    carrier_ids: list[str]
    outcome: SubmitOutcome = SubmitOutcome.ACCEPTED
    error_code: str | None = None
    error: str | None = None
    retry_after: float | None = None


@dataclass(slots=True)
class _Part:
    message: _Message
    number: int
    body: bytes
    attempts: int = 0


@dataclass(slots=True)
class _Queued:
    """A message not yet cut into parts (see the module docstring)."""

    job: _Batch
    index: int
    message: OutgoingMessage


Normaliser = Callable[[str], str]
OnAccepted = Callable[[str, int], None]
OnLog = Callable[[str, str, tuple[int, ...]], None]


class Submitter:
    """Owns the queue of parts, the rate limit and the per-message results."""

    def __init__(
        self,
        settings: SmppSettings,
        clock: Callable[[], float],
        normalise: Normaliser,
        on_accepted: OnAccepted,
        on_log: OnLog,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.normalise = normalise
        self.on_accepted = on_accepted
        self.on_log = on_log
        self.bucket = TokenBucket(rate=settings.rate)
        self.queue: deque[_Part | _Queued] = deque()
        self.session: SmppSession | None = None
        self.paused_until = 0.0
        # Nothing is written from this moment (time.monotonic()) on until it is moved:
        # see `SmppClient.send_until`.
        self.send_until = float("inf")
        self.sent = 0
        self._reference = 0
        # seq -> ref of parts given up on by timeout, so a late answer still counts.
        self.timed_out: dict[int, int] = {}
        self._wakeup: asyncio.TimerHandle | None = None

    @property
    def in_flight(self) -> int:
        return len(self.session.window) if self.session is not None else 0

    @property
    def idle(self) -> bool:
        return not self.queue and self.in_flight == 0

    async def submit(self, batch: Sequence[OutgoingMessage]) -> list[SubmitResult]:
        loop = asyncio.get_running_loop()
        job = _Batch([None] * len(batch), len(batch), loop.create_future())
        if batch:
            self.queue.extend(_Queued(job, index, message) for index, message in enumerate(batch))
            self.pump()
            if job.remaining:
                await job.done
        return [r for r in job.results if r is not None]

    def _compose(self, queued: _Queued) -> list[_Part]:
        """The parts of a queued message; none when it cannot be sent (its result is then
        PERMANENT, naming why)."""
        self._reference += 1
        message = queued.message
        try:
            bodies = compose_parts(message, self.settings, self._reference)
        except UserError as exc:
            self._finish_now(queued, SubmitOutcome.PERMANENT, exc.problem.code, str(exc))
            return []
        except PduError as exc:  # an address that does not fit
            self._finish_now(queued, SubmitOutcome.PERMANENT, "invalid_pdu", str(exc))
            return []
        entry = _Message(message.ref, queued.job, queued.index, len(bodies), [""] * len(bodies))
        return [_Part(entry, n, body) for n, body in enumerate(bodies)]

    def _finish_now(
        self,
        queued: _Queued,
        outcome: SubmitOutcome,
        code: str,
        error: str,
        retry_after: float | None = None,
    ) -> None:
        job = queued.job
        job.results[queued.index] = SubmitResult(
            queued.message.ref, outcome, (), code, error, retry_after
        )
        job.remaining -= 1
        if not job.remaining and not job.done.done():
            job.done.set_result(None)

    # --- sending ----------------------------------------------------------------------

    def pump(self) -> None:
        """Writes as many queued parts as window, rate and pause allow, in one write."""
        session = self.session
        if not self.queue or session is None or not session.writable or not session.is_open:
            return
        window = session.window
        wanted = min(window.free, len(self.queue))
        if wanted <= 0:
            return
        now = self.clock()
        if now >= self.send_until:
            return  # the worker's lease may be another's by now: nothing more goes out
        if now < self.paused_until:
            self._wake_at(self.paused_until - now)
            return
        granted = self.bucket.take(now, wanted)
        if granted < wanted and granted < window.free:
            self._wake_at(max(self.bucket.wait_time(now), 0.001))
        if not granted:
            return
        frames: list[bytes] = []
        queue = self.queue
        popleft, next_sequence, add = queue.popleft, window.next_sequence, window.add
        while len(frames) < granted and queue:
            part = popleft()
            if type(part) is _Queued:
                # Composed now (see the module docstring); its later parts wait at the front.
                parts = self._compose(part)
                if not parts:
                    continue
                part = parts[0]
                if len(parts) > 1:
                    queue.extendleft(reversed(parts[1:]))
            assert type(part) is _Part
            seq = next_sequence()
            add(seq, now, part)
            frames.append(submit_frame(part.body, seq))
        if frames:
            self.sent += len(frames)
            session.write(b"".join(frames))

    def _wake_at(self, delay: float) -> None:
        if self._wakeup is None or self._wakeup.cancelled():
            loop = asyncio.get_running_loop()
            self._wakeup = loop.call_later(delay, self._woken)

    def _woken(self) -> None:
        self._wakeup = None
        self.pump()

    # --- answers ----------------------------------------------------------------------

    def on_submit_resp(self, seq: int, status: int, message_id: str) -> bool:
        """Settles the part answered by `seq`; False when no part was waiting for it."""
        session = self.session
        part = session.window.pop(seq) if session is not None else None
        if not isinstance(part, _Part):
            return self._late_answer(seq, status, message_id)
        if status == 0:
            self._accept(part, message_id)
        elif status in PUSH_BACK:
            self._push_back(part, status)
        else:
            name = status_name(status)
            self._settle(part, SubmitOutcome.PERMANENT, name, f"the carrier refused it: {name}")
        return True

    def _late_answer(self, seq: int, status: int, message_id: str) -> bool:
        """A response after its part was reported UNKNOWN: log it, and learn the id."""
        ref = self.timed_out.pop(seq, None)
        if ref is None:
            return False
        if status == 0:
            carrier_id = self._carrier_id(message_id, ref)
            self.on_accepted(carrier_id, ref)
            detail = f"accepted as {carrier_id} after the response timeout"
        else:
            detail = f"refused with {status_name(status)} after the response timeout"
        self.on_log("late_response", detail, (ref,))
        return True

    def _carrier_id(self, message_id: str, ref: int) -> str:
        try:
            return self.normalise(message_id)
        except ValueError as exc:
            self.on_log("bad_message_id", str(exc), (ref,))
            return message_id.strip()

    def _accept(self, part: _Part, message_id: str) -> None:
        message = part.message
        carrier_id = self._carrier_id(message_id, message.ref)
        message.carrier_ids[part.number] = carrier_id
        self.on_accepted(carrier_id, message.ref)
        self._settle(part, SubmitOutcome.ACCEPTED, None, None)

    def _push_back(self, part: _Part, status: int) -> None:
        now = self.clock()
        part.attempts += 1
        name = status_name(status)
        if now >= self.paused_until:
            self.bucket.slow_down(now)
            self.on_log(
                "throttled",
                f"{name}: pausing {self.settings.throttle_pause_s}s, "
                f"rate now {self.bucket.current_rate or 'unlimited'} parts/s",
                (part.message.ref,),
            )
        self.paused_until = now + self.settings.throttle_pause_s
        if part.attempts > self.settings.throttle_retries:
            self._settle(
                part,
                SubmitOutcome.TEMPORARY,
                name,
                f"pushed back {part.attempts} times ({name})",
                retry_after=self.settings.throttle_pause_s * 10,
            )
            return
        self.queue.appendleft(part)
        self._wake_at(self.settings.throttle_pause_s)

    def expire(self, now: float) -> int:
        """Parts without a response for `response_timeout_s` become UNKNOWN; returns how many."""
        session = self.session
        if session is None:
            return 0
        timeout = self.settings.response_timeout_s
        late = session.window.expired_items(now, timeout)
        for seq, part in late:
            assert isinstance(part, _Part)
            self.timed_out[seq] = part.message.ref
            detail = f"no submit_sm_resp within {timeout}s"
            self._settle(part, SubmitOutcome.UNKNOWN, "response_timeout", detail)
        while len(self.timed_out) > 100_000:
            del self.timed_out[next(iter(self.timed_out))]
        if late:
            refs = tuple(sorted({p.message.ref for _, p in late if isinstance(p, _Part)}))
            self.on_log("unknown_outcome", f"no submit_sm_resp within {timeout}s", refs)
            self.pump()
        return len(late)

    def connection_lost(self, session: SmppSession, reason: str, retry_after: float) -> None:
        """Window parts become UNKNOWN, queued ones TEMPORARY: nothing waits forever."""
        lost = [p for p in session.window.drain() if isinstance(p, _Part)]
        for part in lost:
            self._settle(part, SubmitOutcome.UNKNOWN, "connection_lost", reason)
        if lost:
            refs = tuple(sorted({p.message.ref for p in lost}))
            self.on_log(
                "unknown_outcome", f"{len(lost)} part(s) awaiting a response: {reason}", refs
            )
        self.timed_out.clear()
        if self.session is session:
            self.session = None
        if self.session is None:  # a failed reconnect attempt must not touch a live queue
            self.fail_queued("not_connected", reason, retry_after)

    def fail_queued(self, code: str, reason: str, retry_after: float | None) -> None:
        while self.queue:
            part = self.queue.popleft()
            if type(part) is _Queued:
                # Composed to tell a message that can never go (PERMANENT) from one
                # that can go later (TEMPORARY), as when it was queued.
                for each in self._compose(part):
                    self._settle(each, SubmitOutcome.TEMPORARY, code, reason, retry_after)
                continue
            assert type(part) is _Part
            self._settle(part, SubmitOutcome.TEMPORARY, code, reason, retry_after=retry_after)

    def _settle(
        self,
        part: _Part,
        outcome: SubmitOutcome,
        code: str | None,
        error: str | None,
        retry_after: float | None = None,
    ) -> None:
        message = part.message
        if _SEVERITY[outcome] > _SEVERITY[message.outcome]:
            message.outcome, message.error_code, message.error = outcome, code, error
            message.retry_after = retry_after
        message.parts_left -= 1
        if message.parts_left:
            return
        job = message.batch
        carrier_ids = tuple(c for c in message.carrier_ids if c)
        job.results[message.index] = SubmitResult(
            message.ref,
            message.outcome,
            carrier_ids,
            message.error_code,
            message.error,
            message.retry_after,
        )
        job.remaining -= 1
        if not job.remaining and not job.done.done():
            job.done.set_result(None)
