"""A worker paused past its lease (SIGSTOP, a frozen VM) and woken again: by then another
worker sends for the connector, and the woken one writes not one more submit.

Without the hold the woken worker's SMPP connection writes what it had queued the moment
its event loop runs again, before its next lease renewal can notice the lease is gone:
two workers on the wire for one connector, which the lease exists to prevent.
"""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from outbound_helpers import add_sim_connector, count_by_status, queue_texts, wait_for
from sqlalchemy import Engine, select
from test_worker_roles_cli import start_worker, worker_env

from smscast.channels.simulator import SimulatorConfig, start_simulator
from smscast.channels.smpp import pdu
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.store.messaging_models import Connector
from smscast.store.models import table_of

connectors = table_of(Connector)
TEXTS = 3000
RATE = 150  # texts a second: the campaign is still going when the worker is paused
LEASE_S = 3


def _holder(engine: Engine, connector_id: int) -> str | None:
    with engine.connect() as conn:
        return conn.execute(select(connectors.c.lease_owner)
                            .where(connectors.c.id == connector_id)).scalar()  # fmt: skip


async def test_a_worker_woken_after_its_lease_passed_sends_nothing_more(
    engine: Engine, db_url: str, workspace: WorkspaceRef, tmp_path: Path
) -> None:
    sim = await start_simulator(SimulatorConfig(
        port=0, http_port=None, dlr_delay=0.05, delivered=1.0, undeliverable=0.0,
        expired=0.0, rejected=0.0, keep_messages=TEXTS * 2,
    ))  # fmt: skip
    # Which connection each submit came on: the paused worker's or the other's.
    came_on: list[Any] = []
    phones: Counter[str] = Counter()
    submit_fields = sim.simulator.submit_fields

    def counted(session: Any, fields: Any, frame: bytes) -> Any:
        came_on.append(session)
        phones[pdu.decode(frame).destination_addr] += 1
        return submit_fields(session, fields, frame)

    sim.simulator.submit_fields = counted  # type: ignore[method-assign]
    now = datetime.now(UTC)
    connector_id = add_sim_connector(engine, workspace, sim.port, now, window=50,
                                     rate=RATE).id  # fmt: skip
    queue_texts(engine, workspace, [f"+4860090{i:04d}" for i in range(TEXTS)], now)
    env = worker_env(str(engine.url.render_as_string(hide_password=False)), tmp_path,
                     SMSCAST_LEASE_SECONDS=str(LEASE_S))  # fmt: skip
    first = await start_worker(tmp_path, env, "--id", "first")
    second = None
    try:
        await wait_for(lambda: len(came_on) > 200, 60)
        first.send_signal(signal.SIGSTOP)
        await asyncio.sleep(0.2)  # what was on the wire when it stopped is answered
        paused_sessions = set(came_on)
        before_wake = len(came_on)
        second = await start_worker(tmp_path, env, "--id", "second")
        await wait_for(lambda: _holder(engine, connector_id) == "second", 60)
        await wait_for(lambda: len(set(came_on) - paused_sessions) > 0, 60)
        first.send_signal(signal.SIGCONT)
        # Its next tick (a second) finds the lease gone and stops the connector; a few
        # more seconds show it wrote nothing meanwhile.
        await asyncio.sleep(4)
        woken = [s for s in came_on[before_wake:] if s in paused_sessions]
        assert woken == [], f"the woken worker wrote {len(woken)} submit(s) after its lease"
        assert _holder(engine, connector_id) == "second"
        # The rest goes out through the second worker; the first one's queued texts
        # are 'unknown' (claimed, maybe sent), never sent twice.
        await wait_for(lambda: count_by_status(engine).get("queued", 0) == 0, 120)
        await wait_for(lambda: not count_by_status(engine).get("sending", 0), 60)
        assert set(count_by_status(engine)) <= {"delivered", "sent", "unknown"}
        assert phones and max(phones.values()) == 1  # no text went out twice
    finally:
        for worker in (first, second):
            if worker is not None and worker.returncode is None:
                worker.send_signal(signal.SIGCONT)
                worker.send_signal(signal.SIGTERM)
                await worker.wait()
        await sim.close()
