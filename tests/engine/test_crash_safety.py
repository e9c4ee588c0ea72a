"""kill -9 at random moments while a campaign is being sent; every recipient still gets
exactly one message, except those whose outcome was unknown at a kill, which are
reported as `unknown` and never sent twice. And no delivery report is lost to a kill:
a report is acknowledged to the SMSC only once stored, so what a killed worker had
not stored comes again after the next bind, and every DELIVRD the simulator sent
ends up recorded, its message delivered.

Workers run as real `smscast worker` processes against a simulator in this process,
which remembers every submit it accepted, so deliveries are counted per recipient
across kills. SQLite runs one worker; PostgreSQL two, sharing two connectors.

The second test kills while the launch itself is still writing the outbox, and the
worker is already sending what it committed (a launch's first batch is sent at once):
a `smscast campaigns launch` process killed half-way and run again, with one worker or
with the connector split between a transmit and a receive worker, each killed in turn.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from outbound_helpers import add_sim_connector, count_by_status
from sqlalchemy import Engine, insert, select, text, update

from smscast.channels.simulator import RunningSimulator, SimulatorConfig, start_simulator
from smscast.channels.smpp.constants import MessageState
from smscast.config import Settings
from smscast.engine.accounts.workspaces import WorkspaceRef, resolve_workspace
from smscast.engine.campaigns.launch import launch_campaign
from smscast.engine.campaigns.lifecycle import CampaignDraft, create_campaign
from smscast.store.messaging_models import DeliveryReportRow, Message, Number
from smscast.store.models import Contact, Workspace, table_of

messages = table_of(Message)
workspaces = table_of(Workspace)
contacts = table_of(Contact)
numbers = table_of(Number)
delivery_reports = table_of(DeliveryReportRow)
NO_QUIET_HOURS = {"start": "00:00", "end": "00:00"}
# The full-size run of the issue: SMSCAST_CRASH_RECIPIENTS=100000 SMSCAST_CRASH_KILLS=10
RECIPIENTS = int(os.environ.get("SMSCAST_CRASH_RECIPIENTS", "6000"))
KILLS = int(os.environ.get("SMSCAST_CRASH_KILLS", "4"))
RATE = max(1500, RECIPIENTS // 20)  # parts per second per connector: the run lasts ~20 s
WINDOW = 40


def worker_env(db_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMSCAST_")}
    env.update(
        SMSCAST_DATABASE_URL=db_url,
        SMSCAST_DATA_DIR=str(tmp_path / "var"),
        SMSCAST_SECRET_KEY="test",
        SMSCAST_LEASE_SECONDS="2",
        SMSCAST_LOG_LEVEL="warning",
        SMSCAST_CONFIG=str(tmp_path / "none.toml"),
        **extra,
    )
    return env


async def start_worker(name: str, env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    log = open(cwd / f"{name}.log", "ab")  # noqa: SIM115 - the child writes to it
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "smscast", "worker", "--id", name,
        env=env, cwd=cwd, stdout=log, stderr=log,
    )  # fmt: skip


def add_recipients(engine: Engine, workspace: WorkspaceRef, now: datetime) -> WorkspaceRef:
    """The campaign's audience, written in bulk: every contact may get informational texts
    at any hour. Returns the workspace read again: launch takes its quiet hours from the
    `WorkspaceRef` it is given, so the fixture's copy (default quiet hours, read before
    they were switched off here) would hold every text until 08:00 Warsaw time."""
    rows = [
        {"workspace_id": workspace.id, "phone": f"+4870{i:07d}", "country": "PL",
         "attributes": {}, "timezone": "Europe/Warsaw", "tags": [], "created_at": now,
         "updated_at": now}
        for i in range(RECIPIENTS)
    ]  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(contacts), rows)
        conn.execute(update(workspaces).values(settings={"quiet_hours": NO_QUIET_HOURS}))
    with engine.connect() as conn:
        return resolve_workspace(conn, str(workspace.id))


async def start_delivering_simulator() -> RunningSimulator:
    """A simulator that takes every submit and reports each text delivered 0.3 s later."""
    return await start_simulator(
        SimulatorConfig(
            port=0, http_port=None, system_id="", dlr_delay=0.3, delivered=1.0,
            undeliverable=0.0, expired=0.0, rejected=0.0,
            keep_messages=RECIPIENTS * 4, keep_pending=RECIPIENTS * 4,
        )
    )  # fmt: skip


def create_sale(
    engine: Engine, workspace: WorkspaceRef, connector_id: int, name: str, now: datetime
) -> int:
    """A draft to everyone from the number of `connector_id`, not launched yet."""
    with engine.connect() as conn:
        number = conn.execute(
            select(numbers.c.number).where(numbers.c.connector_id == connector_id)
        ).scalar_one()
    draft = CampaignDraft(name=name, body="Sale for {{ phone }}",
                          purpose="informational", from_number=number)  # fmt: skip
    return create_campaign(engine, workspace, draft, actor="test", now=now)


def launch(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, connector_id: int, now: datetime
) -> int:
    """One campaign to everyone, from the number of `connector_id`, launched for real."""
    campaign_id = create_sale(engine, workspace, connector_id, f"Sale {connector_id}", now)
    launch_campaign(engine, settings, workspace, campaign_id, actor="test", now=now)
    return campaign_id


async def test_kill_minus_nine_never_sends_twice(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, tmp_path: Path
) -> None:
    workers = 1 if engine.dialect.name == "sqlite" else 2
    rng = random.Random(os.getpid())
    sim = await start_delivering_simulator()
    # The workers are `smscast worker` processes on the real clock (shifted alike under
    # tests/run_at.sh), so the texts are queued at the real moment; with quiet hours off
    # the hour does not matter.
    now = datetime.now(UTC)
    connector_ids = [
        add_sim_connector(
            engine, workspace, sim.port, now, name=f"sim{n}", window=WINDOW, rate=RATE,
            system_id=f"crash{n}",
        ).id
        for n in range(workers)
    ]  # fmt: skip
    workspace = add_recipients(engine, workspace, now)
    for connector_id in connector_ids:  # with two workers, one campaign per connector
        launch(engine, settings, workspace, connector_id, now)
    total = RECIPIENTS * workers
    assert count_by_status(engine) == {"queued": total}
    env = worker_env(str(engine.url.render_as_string(hide_password=False)), tmp_path)
    names = [f"w{n}" for n in range(workers)]
    procs = {name: await start_worker(name, env, tmp_path) for name in names}
    try:
        for _ in range(KILLS):
            before = sim.stats.submits
            await _until(lambda b=before: sim.stats.submits > b + 200, 60)
            await asyncio.sleep(rng.uniform(0.0, 0.6))
            victim = rng.choice(names)
            procs[victim].send_signal(signal.SIGKILL)
            await procs[victim].wait()
            procs[victim] = await start_worker(victim, env, tmp_path)
        await _wait_until_settled(engine, sim)
    finally:
        for proc in procs.values():
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            await proc.wait()
        await sim.close()

    _check_each_sent_once(engine, sim, total, kills=KILLS, windows=KILLS * WINDOW * workers)
    print(f"{workers} worker(s), {KILLS} kills")


async def _wait_until_settled(engine: Engine, sim: Any) -> None:
    """Until nothing is queued or being sent and every report was sent and answered."""

    def settled() -> bool:
        counts = count_by_status(engine)
        return not counts.get("queued") and not counts.get("sending")

    try:
        await _until(settled, 120)
    except AssertionError as error:
        raise AssertionError(f"{error}; statuses: {count_by_status(engine)}") from None
    await _until(lambda: sim.stats.reports_sent >= sim.stats.submits, 30)
    simulator = sim.simulator

    def all_answered() -> bool:  # every report acknowledged, none waiting for a bind
        return not simulator.held and not any(s.unacked for s in simulator.sessions)

    await _until(all_answered, 60)


def _check_each_sent_once(engine: Engine, sim: Any, total: int, *, kills: int,
                          windows: int) -> None:  # fmt: skip
    """Every recipient got exactly one text unless its outcome is unknown (at most
    `windows` of them), and every DELIVRD the simulator sent is stored."""
    received = Counter((m.sender[2], m.recipient[2]) for m in sim.simulator.messages.values())
    with engine.connect() as conn:
        rows = conn.execute(
            select(numbers.c.number, messages.c.phone, messages.c.status).join(
                numbers, numbers.c.id == messages.c.number_id
            )
        ).all()
        reported = conn.execute(
            text(
                "SELECT COUNT(*) FROM messages WHERE status = 'unknown' "
                "AND error_code = 'interrupted'"
            )
        ).scalar_one()
        stored_reports = set(conn.execute(select(delivery_reports.c.carrier_id)).scalars())
    status_of = {(row.number, row.phone.lstrip("+")): row.status for row in rows}
    assert len(status_of) == total
    twice = {phone: n for phone, n in received.items() if n > 1}
    assert not twice, f"sent more than once: {sorted(twice.items())[:10]}"
    missing = [p for p, s in status_of.items() if s != "unknown" and received[p] != 1]
    assert not missing, f"not sent though not unknown: {missing[:10]}"
    unknown = [p for p, s in status_of.items() if s == "unknown"]
    # Only what was claimed and unanswered at a kill can be unknown: a window per
    # connector the killed worker held.
    assert len(unknown) <= windows
    assert reported == len(unknown)
    delivrd = {
        message.report_id: (message.sender[2], message.recipient[2])
        for message_id, message in sim.simulator.messages.items()
        if sim.simulator.final.get(message_id, (None,))[0] == MessageState.DELIVERED
    }
    lost = sorted(set(delivrd) - stored_reports)
    assert not lost, f"{len(lost)} DELIVRD report(s) acknowledged but never stored: {lost[:10]}"
    # The unknown ones were delivered too, but their carrier id died with the worker.
    undelivered = [(p, s) for p in delivrd.values() if (s := status_of[p]) != "delivered"]
    wrong = [(p, s) for p, s in undelivered if s != "unknown"]
    assert not wrong, f"DELIVRD but neither delivered nor unknown: {wrong[:10]}"
    assert set(status_of.values()) <= {"delivered", "unknown"}
    print(f"{kills} kills: {len(unknown)} unknown, {sum(received.values())} submits, "
          f"{Counter(status_of.values())}")  # fmt: skip


@pytest.mark.parametrize("roles", ["all", "split"])
async def test_kill_minus_nine_while_the_launch_streams_never_sends_twice(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, tmp_path: Path, roles: str
) -> None:
    rng = random.Random(os.getpid())
    sim = await start_delivering_simulator()
    now = datetime.now(UTC)
    connector_id = add_sim_connector(engine, workspace, sim.port, now, name="sim0",
                                     window=WINDOW, rate=RATE, system_id="crash0").id  # fmt: skip
    workspace = add_recipients(engine, workspace, now)
    campaign_id = create_sale(engine, workspace, connector_id, "Streamed", now)
    # The launch is carried on by its user running it again, as the test says: a worker's
    # scheduler would resume it too once it had stood still for a minute, which a slow
    # machine reaches within the kills below (that path: tests/engine/test_launch_takeover.py).
    env = worker_env(str(engine.url.render_as_string(hide_password=False)), tmp_path,
                     SMSCAST_LAUNCH_RESUME_AFTER_S="3600")  # fmt: skip
    duties = {"w": "all"} if roles == "all" else {"t": "transmit", "r": "receive"}
    procs = {name: await start_role(name, duty, env, tmp_path)
             for name, duty in duties.items()}  # fmt: skip
    launch_command = [sys.executable, "-m", "smscast", "campaigns", "launch", str(campaign_id),
                      "--workspace", str(workspace.id)]  # fmt: skip
    kills = 0
    try:
        await _until(lambda: _sending(engine, connector_id, roles), 60)
        launching = subprocess.Popen(launch_command, env=env, cwd=tmp_path,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
        # Killed as soon as its first texts are on the wire (or, on a fast machine, once
        # it has ended: then only the run below finds nothing left to write).
        await _until(lambda: sim.stats.submits > 0 or launching.poll() is not None, 60)
        launching.kill()
        launching.wait()
        for name in [*duties, *duties]:
            before = sim.stats.submits
            await _until(lambda b=before: sim.stats.submits > b + 200
                         or count_by_status(engine).get("queued", 0) == 0, 60)  # fmt: skip
            await asyncio.sleep(rng.uniform(0.0, 0.4))
            procs[name].send_signal(signal.SIGKILL)
            await procs[name].wait()
            kills += 1
            procs[name] = await start_role(name, duties[name], env, tmp_path)
        with engine.connect() as conn:
            unfinished = conn.execute(
                text("SELECT COUNT(*) FROM campaign_launches WHERE campaign_id = :c AND NOT done"),
                {"c": campaign_id},
            ).scalar_one()
        mid_way = bool(unfinished)
        if mid_way:  # run again, as its user would: it writes what the killed one had not
            finished = subprocess.run(launch_command, env=env, cwd=tmp_path,
                                      capture_output=True, text=True, timeout=120)  # fmt: skip
            assert finished.returncode == 0, finished.stderr
        await _wait_until_settled(engine, sim)
    finally:
        for proc in procs.values():
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            await proc.wait()
        await sim.close()
    # Only a killed sending worker leaves texts unknown (a receive worker claims none).
    sending_kills = kills if roles == "all" else kills // 2
    _check_each_sent_once(engine, sim, RECIPIENTS, kills=kills, windows=sending_kills * WINDOW)
    print(f"roles {roles}: {kills} worker kills; launch killed mid-way: {mid_way}")


async def start_role(name: str, duty: str, env: dict[str, str],
                     cwd: Path) -> asyncio.subprocess.Process:  # fmt: skip
    log = open(cwd / f"{name}.log", "ab")  # noqa: SIM115 - the child writes to it
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "smscast", "worker", "--id", name, "--role", duty,
        env=env, cwd=cwd, stdout=log, stderr=log,
    )  # fmt: skip


def _sending(engine: Engine, connector_id: int, roles: str) -> bool:
    """The connector is bound by its worker(s): sending, and receiving when split."""
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT lease_owner, receive_owner, receive_connected FROM connectors "
                 "WHERE id = :c"), {"c": connector_id},
        ).one()  # fmt: skip
        state = conn.execute(
            text("SELECT connected FROM connector_states WHERE connector_id = :c"),
            {"c": connector_id},
        ).scalar()
    bound = row.lease_owner is not None and bool(state)
    return bound and (roles == "all" or bool(row.receive_connected))


async def _until(check, seconds: float) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"waited {seconds}s in vain for {check}")
        await asyncio.sleep(0.05)
