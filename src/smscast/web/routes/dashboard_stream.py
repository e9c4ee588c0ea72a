"""The dashboard's live numbers: a Server-Sent Events stream of its KPI texts.

The stream polls `live_snapshot` (one grouped read of the hourly counters) every
`interval` seconds and sends an event only when its change marker moves, so an idle
dashboard costs one small query per poll and no traffic. Each poll opens and closes
its own database connection: nothing is held while the stream waits. It ends when the
browser goes away, when the session that opened it ends (checked every
`recheck_every` polls: a signed-out or removed user stops seeing numbers within
seconds) and after `lifetime` polls, when the browser's EventSource reconnects by
itself (so a stream never outlives a deploy or a changed range by much).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from smscast.core.errors import UserError
from smscast.engine.accounts.auth import resolve_session

RETRY_MS = 3000
"""How long the browser waits before reconnecting after the stream ends."""


@dataclass(frozen=True, slots=True)
class StreamTiming:
    """How often the stream polls and re-checks; the site keeps one as
    `app.state.dashboard_stream` (tests set a short interval)."""

    interval: float = 1.5
    recheck_every: int = 10
    lifetime: int = 400
    keepalive_every: int = 10


DEFAULT_TIMING = StreamTiming()


def session_check(engine: Engine, token: str, clock: Callable[[], datetime]) -> Callable[[], bool]:
    """Whether the session behind `token` still holds (not signed out, not expired, the
    user still a member), asked again on each call (blocking: database)."""

    def alive() -> bool:
        try:
            resolve_session(engine, token, clock())
        except UserError:  # AuthError: signed out, expired, removed
            return False
        return True

    return alive


def sse(event: str, data: Mapping[str, Any] | str) -> str:
    """One event in the text/event-stream format (data as one JSON line)."""
    body = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"event: {event}\ndata: {body}\n\n"


async def live_events(
    snapshot: Callable[[], dict[str, Any]],
    payload: Callable[[dict[str, Any]], Mapping[str, Any]],
    session_alive: Callable[[], bool],
    disconnected: Callable[[], Awaitable[bool]],
    timing: StreamTiming = DEFAULT_TIMING,
) -> AsyncIterator[str]:
    """The stream's text: a `kpis` event first and on every change of the marker,
    `signed-out` (then the end) when the session is gone.

    `snapshot` and `session_alive` block on the database: they run in a worker thread,
    each with a connection of its own that is returned before the next wait.
    """
    yield f"retry: {RETRY_MS}\n\n"
    last_marker: object = None
    quiet = 0
    for poll in range(timing.lifetime):
        if await disconnected():
            return
        if poll and poll % timing.recheck_every == 0 and not await run_in_threadpool(session_alive):
            yield sse("signed-out", {})
            return
        current = await run_in_threadpool(snapshot)
        if current["marker"] != last_marker:
            last_marker, quiet = current["marker"], 0
            yield sse("kpis", payload(current))
        else:
            quiet += 1
            if quiet % timing.keepalive_every == 0:
                yield ": still here\n\n"  # a comment: keeps proxies from closing the stream
        if poll + 1 < timing.lifetime:
            await asyncio.sleep(timing.interval)
