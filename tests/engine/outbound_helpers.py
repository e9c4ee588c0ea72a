"""Shared by the delivery-side tests: a connector to a simulator, outbox rows, waiting."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, select, text

from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.sending.connectors import ConnectorRow, add_connector
from smscast.engine.sending.outbox import enqueue_messages
from smscast.store.messaging_models import Message, Number
from smscast.store.models import table_of

messages = table_of(Message)
numbers = table_of(Number)


class RunningClock:
    """A clock for the runtime that starts at a test's `now` and advances with real time.

    The runtime's timers (leases, retries, expiry) need a clock that moves, and the
    messages a test queued at `now` must not age by however long ago `now` was in real
    life: so the clock counts the monotonic seconds since the test started from `now`,
    never the wall clock's date or hour.
    """

    def __init__(self, start: datetime) -> None:
        self.start = start
        self._began = time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self._began)


class ManualClock:
    """A clock the test moves by hand: the runtime sees time pass only when told, so a
    test can stand just before and just at the moment something is due."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def set(self, moment: datetime) -> None:
        self.now = moment


def add_sim_connector(
    engine: Engine,
    workspace: WorkspaceRef,
    port: int,
    now: datetime,
    *,
    name: str = "sim",
    window: int = 50,
    rate: float = 0.0,
    system_id: str = "smscast",
    **settings: Any,
) -> ConnectorRow:
    row = add_connector(
        engine,
        workspace,
        name=name,
        kind="smpp",
        settings={"host": "127.0.0.1", "port": port, "system_id": system_id, **settings},
        rate_per_s=rate,
        window=window,
        actor="test",
        now=now,
    )
    with engine.begin() as conn:
        conn.execute(
            insert(numbers).values(
                workspace_id=workspace.id,
                number=f"40{row.id:02d}",
                kind="short",
                country="PL",
                connector_id=row.id,
                created_at=now,
            )
        )
    return row


def queue_texts(
    engine: Engine,
    workspace: WorkspaceRef,
    phones: list[str],
    now: datetime,
    **extra: Any,
) -> list[int]:
    rows = [
        {
            "workspace_id": workspace.id,
            "phone": phone,
            "body": f"Hello {phone}",
            "kind": "agent_reply",
            "created_at": now,
            **extra,
        }
        for phone in phones
    ]
    with engine.begin() as conn:
        return enqueue_messages(conn, rows)


def statuses(engine: Engine) -> dict[int, str]:
    with engine.connect() as conn:
        rows = conn.execute(select(messages.c.id, messages.c.status)).all()
    return {row.id: row.status for row in rows}


def count_by_status(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT status, COUNT(*) FROM messages GROUP BY status")).all()
    return {row[0]: row[1] for row in rows}


async def wait_for(check: Callable[[], bool], seconds: float = 60.0) -> None:
    """Polls `check` until it holds; fails the test with what it waited for otherwise."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"gave up waiting after {seconds}s for {check.__doc__ or check}")
        await asyncio.sleep(0.05)
