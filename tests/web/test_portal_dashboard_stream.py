"""The dashboard's live stream: an event with the KPI texts first and whenever the
counters change, nothing held between polls, an end when the session ends or the
browser leaves; driven with no wait between polls and a fixed clock."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from dashboard_data import Traffic, deliver_rest, make_traffic
from fastapi.testclient import TestClient
from portal_site import PASSWORD, Clock, build_site, make_user, sign_in
from sqlalchemy import Engine

from smscast.config import Settings
from smscast.engine.accounts.users import sign_in as open_session
from smscast.engine.accounts.users import sign_out
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.dashboards.metrics import live_snapshot
from smscast.web.routes.dashboard_stream import StreamTiming, live_events, session_check
from smscast.web.routes.dashboard_view import kpi_payload, kpi_texts

OLA = "ola@shop.test"
FAST = StreamTiming(interval=0.0, recheck_every=2, lifetime=50, keepalive_every=1000)


@pytest.fixture
def traffic(engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime) -> Traffic:
    return make_traffic(engine, settings, workspace, now)


def events_of(text: str) -> list[tuple[str, Any]]:
    """(event name, decoded data) of each event in a text/event-stream body."""
    found = []
    for block in text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in lines:
            found.append((lines["event"], json.loads(lines["data"])))
    return found


async def next_event(stream: AsyncIterator[str]) -> tuple[str, Any]:
    """The next event, past the retry line and keep-alive comments."""
    async for chunk in stream:
        if chunk.startswith("event: "):
            return events_of(chunk)[0]
    raise AssertionError("the stream ended without another event")


def test_the_stream_sends_the_pages_numbers_for_its_filters(
    settings: Settings, engine: Engine, workspace: WorkspaceRef, now: datetime, traffic: Traffic
) -> None:
    app = build_site(settings, engine, Clock(now + timedelta(hours=1)))
    app.state.dashboard_stream = StreamTiming(interval=0.0, lifetime=1)
    client = TestClient(app)
    make_user(engine, [workspace], OLA, now=now)
    assert client.get("/dashboard/stream", follow_redirects=False).status_code == 303
    sign_in(client, OLA)

    answer = client.get("/dashboard/stream?range=today&purpose=promotional")
    assert answer.headers["content-type"].startswith("text/event-stream")
    [(name, texts)] = events_of(answer.text)
    assert name == "kpis"
    assert texts["kpi-sent"] == {"value": "3", "detail": ""}
    assert texts["kpi-delivery-rate"] == {"value": "66.7%", "detail": "2 of 3"}
    assert client.get("/dashboard/stream?range=never").status_code == 422


def stream_for(engine: Engine, workspace: WorkspaceRef, now: datetime, alive: Any,
               gone: Any = None) -> AsyncIterator[str]:  # fmt: skip
    since, until = now - timedelta(hours=1), now + timedelta(hours=1)

    async def disconnected() -> bool:
        return bool(gone and gone())

    return live_events(
        lambda: live_snapshot(engine, workspace.id, since, until),
        lambda found: kpi_payload(kpi_texts(found, "en", "PLN", lambda m, **p: m % p if p else m)),
        alive, disconnected, FAST,
    )  # fmt: skip


async def test_a_change_in_the_counters_is_sent_and_no_connection_is_held_meanwhile(
    engine: Engine, workspace: WorkspaceRef, now: datetime, traffic: Traffic
) -> None:
    stream = stream_for(engine, workspace, now, lambda: True)
    name, texts = await next_event(stream)
    assert (name, texts["kpi-delivered"]["value"]) == ("kpis", "3")
    assert engine.pool.checkedout() == 0  # waiting for the next poll holds no connection

    deliver_rest(engine, traffic, now + timedelta(minutes=20))  # the carrier reports one more
    name, texts = await next_event(stream)
    assert (name, texts["kpi-delivered"]["value"]) == ("kpis", "4")
    assert texts["kpi-delivery-rate"] == {"value": "80.0%", "detail": "4 of 5"}
    await stream.aclose()


async def test_the_stream_ends_when_the_session_ends(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime, traffic: Traffic
) -> None:
    make_user(engine, [workspace], OLA, now=now)
    session = open_session(engine, OLA, PASSWORD, workspace_id=None,
                           lifetime=timedelta(hours=1), now=now)  # fmt: skip

    stream = stream_for(engine, workspace, now, session_check(engine, session.token, lambda: now))
    assert (await next_event(stream))[0] == "kpis"
    sign_out(engine, session.token)  # in another tab
    assert (await next_event(stream))[0] == "signed-out"
    assert [chunk async for chunk in stream] == []  # and nothing after it


async def test_the_stream_ends_when_the_browser_leaves(
    engine: Engine, workspace: WorkspaceRef, now: datetime, traffic: Traffic
) -> None:
    left = {"yes": False}
    stream = stream_for(engine, workspace, now, lambda: True, lambda: left["yes"])
    assert (await next_event(stream))[0] == "kpis"
    left["yes"] = True
    assert [chunk async for chunk in stream] == []
