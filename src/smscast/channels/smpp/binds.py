"""Several binds to one SMSC that look like one connector (the `binds` setting).

Carriers grant an account several sessions and often cap each one's throughput, so a
connector may hold `binds` `SmppClient`s to the same SMSC. The carrier's limits are the
account's, not each session's, and the group keeps them so:

- the **window** is split among the binds, as evenly as it divides, each bind at least
  one (settings refuse more binds than window): every bind's session enforces its own
  share, so the submits awaiting an answer never exceed `window` whatever the binds do,
  even across reconnects. The price is that a bind that is down leaves its share
  unused until it is back; a window moved between live sessions could not be taken
  back from a bind that still has it full when its peer returns.
- the **rate** is one token bucket that every bind draws from: a bind that is down
  takes no share of it, and a carrier's push-back on any bind slows the whole account,
  which is what the carrier meant.

`send(batch)` splits the batch across the binds that are up, in proportion to their
window, and the remainder goes to a different bind each time, so small batches spread
too. What a bind going down had in hand comes back as its client reports it (UNKNOWN
for submits awaiting an answer, TEMPORARY for those never written), never resent here.

A delivery report may come on any bind (an SMSC sends it to whichever receiver it
picks), so the binds share one `ReportMatcher`: the carrier id a submit_sm_resp gave on
one bind matches the report that arrives on another, and a report that beats its
submit_sm_resp is held while any bind awaits answers. The parts of a long inbound text
may come over different binds too, so the binds share one reassembly buffer (each part
is still answered on the bind it came over). Every bind emits into one queue; `events()`
ends when all of them have stopped.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

from smscast.channels.backoff import Backoff
from smscast.channels.base import (
    ChannelEvent,
    Connector,
    ConnectorState,
    DeliveryReport,
    LogEntry,
    OutgoingMessage,
    SubmitResult,
)
from smscast.channels.ratelimit import TokenBucket
from smscast.channels.smpp.client import InboundParts, SmppClient
from smscast.channels.smpp.matching import ReportMatcher
from smscast.channels.smpp.reassembly import ReassemblyBuffer
from smscast.channels.smpp.settings import SmppSettings


def smpp_connector(settings: SmppSettings) -> Connector:
    """The connector `settings` describe: one client, or a group of `binds` clients."""
    if settings.binds == 1:
        return SmppClient(settings)
    return BindGroup(settings)


def window_shares(window: int, binds: int) -> list[int]:
    """`window` split among `binds` as evenly as it divides (the first ones get the rest)."""
    base, rest = divmod(window, binds)
    return [base + (1 if i < rest else 0) for i in range(binds)]


def split(total: int, weights: Sequence[int], first: int) -> list[int]:
    """`total` messages in proportion to `weights`; what does not divide goes one each
    to the binds from `first` on, so a stream of small batches spreads over all."""
    whole = sum(weights)
    counts = [total * w // whole for w in weights]
    for i in range(total - sum(counts)):
        counts[(first + i) % len(weights)] += 1
    return counts


class BindGroup:
    """`binds` sessions to one SMSC behind the `Connector` protocol (see the module)."""

    def __init__(self, settings: SmppSettings, *, rng: random.Random | None = None) -> None:
        self.name = settings.name
        self.settings = settings  # the connection test binds once with these
        self._rng = rng or random.Random()
        self._events: asyncio.Queue[ChannelEvent | None] = asyncio.Queue()
        matcher: ReportMatcher[DeliveryReport] = ReportMatcher(
            settings.report_hold_s, settings.report_match_s
        )
        parts: InboundParts = ReassemblyBuffer(settings.mo_part_timeout_s)
        bucket = TokenBucket(rate=settings.rate)
        self.shares = window_shares(settings.window, settings.binds)
        self.clients: tuple[SmppClient, ...] = tuple(
            SmppClient(dataclasses.replace(settings, window=share, binds=1), rng=self._rng)
            for share in self.shares
        )
        for client in self.clients:
            client.join_group(self._events, matcher, parts, bucket, self._awaiting_ids)
        self._stopped = asyncio.Event()
        self._binding: list[asyncio.Task[None]] = []
        self._turn = 0

    # --- Connector ------------------------------------------------------------------

    async def start(self) -> None:
        """Returns once one bind is up; the others keep trying in the background.
        Raises the first bind's error when every bind failed (as one client would)."""
        self._stopped.clear()
        attempts = {
            asyncio.create_task(client.start(), name=f"{self.name}-bind{n}"): client
            for n, client in enumerate(self.clients, 1)
        }
        pending: set[asyncio.Task[None]] = set(attempts)
        failed: list[SmppClient] = []
        errors: list[BaseException] = []
        bound = False
        try:
            while pending and not bound:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    error = task.exception()
                    if error is None:
                        bound = True
                    else:
                        failed.append(attempts[task])
                        errors.append(error)
        except BaseException:  # cancelled (a connection test's timeout): no bind left behind
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            raise
        if not bound:
            raise errors[0]
        self._binding = [
            *(asyncio.create_task(self._keep_binding(client, None)) for client in failed),
            *(asyncio.create_task(self._keep_binding(attempts[t], t)) for t in pending),
        ]

    async def send(self, batch: Sequence[OutgoingMessage]) -> list[SubmitResult]:
        up = [n for n, client in enumerate(self.clients) if client.state().connected]
        # With none up, every bind waits for its own reconnect as one client would.
        chosen = up or list(range(len(self.clients)))
        self._turn += 1
        counts = split(len(batch), [self.shares[n] for n in chosen], self._turn % len(chosen))
        sends = []
        start = 0
        for n, count in zip(chosen, counts, strict=True):
            if count:
                sends.append(self.clients[n].send(batch[start : start + count]))
                start += count
        if len(sends) == 1:
            return await sends[0]
        answers = await asyncio.gather(*sends)
        return [result for answer in answers for result in answer]

    async def events(self) -> AsyncIterator[ChannelEvent]:
        """Events of every bind as they arrive; ends once every bind has stopped."""
        running = len(self.clients)
        while running:
            event = await self._events.get()
            if event is None:
                running -= 1
                continue
            yield event

    def state(self) -> ConnectorState:
        states = [client.state() for client in self.clients]
        up = sum(1 for s in states if s.connected)
        down = [f"bind {n}: {s.detail}" for n, s in enumerate(states, 1) if not s.connected]
        detail = "; ".join([f"{up} of {len(states)} binds up", *down])
        return ConnectorState(
            name=self.name,
            connected=up > 0,
            detail=detail,
            in_flight=sum(s.in_flight for s in states),
            sent_per_s=sum(s.sent_per_s for s in states),
            last_errors=tuple(e for s in states for e in s.last_errors)[-5:],
        )

    def send_until(self, deadline: float) -> None:
        """See `SmppClient.send_until`: every bind writes nothing after `deadline`."""
        for client in self.clients:
            client.send_until(deadline)

    async def stop(self) -> None:
        """Lets binds still binding finish, waits for answers in flight on all of them
        (their reports may come on any bind), then stops every bind."""
        self._stopped.set()
        timeout = self.settings.response_timeout_s
        binding, self._binding = self._binding, []
        if binding:
            _, late = await asyncio.wait(binding, timeout=2 * timeout)
            for task in late:
                task.cancel()
            await asyncio.gather(*binding, return_exceptions=True)
        deadline = time.monotonic() + timeout
        while self._awaiting_ids() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await asyncio.gather(*(client.stop() for client in self.clients))

    # --- inside -----------------------------------------------------------------------

    async def _keep_binding(self, client: SmppClient, first: asyncio.Task[None] | None) -> None:
        """Retries a bind whose first start failed, with the client's own backoff, until
        it binds (its client then keeps it alive) or the group stops."""
        if first is not None:
            try:
                await first
            except Exception:  # the client logged why (connect or bind), state() shows it
                pass
            else:
                return
        settings = self.settings
        backoff = Backoff(settings.reconnect_min_s, settings.reconnect_max_s, rng=self._rng)
        while not self._stopped.is_set():
            try:
                await asyncio.wait_for(self._stopped.wait(), backoff.next_delay())
                return
            except TimeoutError:
                pass
            try:
                await client.start()
                return
            except ConnectionError:
                continue  # logged by the client (connect or bind) and shown in state()
            except Exception as error:  # a certificate or a bug: logged, tried again later
                self._log_failure(client, backoff.attempt, error)

    def _log_failure(self, client: SmppClient, attempt: int, error: Exception) -> None:
        n = self.clients.index(client) + 1
        detail = f"bind {n}, attempt {attempt}: {type(error).__name__}: {error}"
        entry = LogEntry(self.name, "bind", self.settings.describe(), "", 0.0,
                         datetime.now(UTC), error=detail)  # fmt: skip
        self._events.put_nowait(entry)

    def _awaiting_ids(self) -> bool:
        return any(client.state().in_flight for client in self.clients)
