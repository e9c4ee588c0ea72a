"""Quiet hours seen and changed: what waits and until when, re-timing on a change, `off`."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from campaign_data import add_contact
from sqlalchemy import Engine, select

from smscast.config import Settings
from smscast.core.errors import UserError
from smscast.engine.accounts.auth import Caller
from smscast.engine.accounts.workspace_settings import update_workspace
from smscast.engine.accounts.workspaces import WorkspaceRef, resolve_workspace
from smscast.engine.campaigns.launch import launch_campaign
from smscast.engine.campaigns.lifecycle import CampaignDraft, create_campaign
from smscast.engine.sending.quiet_hours import quiet_hours_wait
from smscast.engine.stats import campaign_report
from smscast.store.messaging_models import Message
from smscast.store.models import table_of

messages = table_of(Message)
LATE = datetime(2026, 11, 25, 21, 30, tzinfo=UTC)  # 22:30 in Warsaw, 16:30 in New York
MORNING = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)  # 08:00 in Warsaw


def texts(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        rows = conn.execute(select(messages).order_by(messages.c.id)).all()
    return {row.phone: row for row in rows}


def change_settings(
    engine: Engine, workspace: WorkspaceRef, now: datetime, **settings: Any
) -> WorkspaceRef:
    caller = Caller("cli", 0, workspace, "owner", "test")
    update_workspace(engine, workspace, {"settings": settings}, caller=caller, now=now)
    with engine.connect() as conn:
        return resolve_workspace(conn, workspace.name)


@pytest.fixture
def launched_late(engine: Engine, settings: Settings, workspace: WorkspaceRef) -> int:
    """A promotional campaign launched at 22:30 Warsaw time, to Warsaw and to New York."""
    add_contact(engine, workspace, "+48600100200", LATE, first_name="Ola")
    add_contact(engine, workspace, "+12125550100", LATE, first_name="Amy", country="US",
                timezone="America/New_York")  # fmt: skip
    campaign_id = create_campaign(engine, workspace, CampaignDraft(name="Sale", body="Hi {{ "
                                  "first_name }}, -20% today"), actor="t", now=LATE)  # fmt: skip
    result = launch_campaign(engine, settings, workspace, campaign_id, actor="t", now=LATE,
                             rng=random.Random(1))  # fmt: skip
    assert result["queued"] == 2
    return campaign_id


def test_launch_records_when_a_held_text_was_due_and_the_report_says_who_waits(
    engine: Engine, workspace: WorkspaceRef, launched_late: int
) -> None:
    warsaw, new_york = texts(engine)["+48600100200"], texts(engine)["+12125550100"]
    assert (warsaw.send_after, warsaw.due_at) == (MORNING, LATE)
    assert (new_york.send_after, new_york.due_at) == (LATE, None)  # afternoon there

    report = campaign_report(engine, workspace.id, launched_late, now=LATE)
    assert report["waiting_for_quiet_hours"] == {"count": 1, "until": "2026-11-26T07:00:00+00:00"}
    assert quiet_hours_wait(warsaw, LATE) == {
        "due_at": "2026-11-25T21:30:00+00:00", "until": "2026-11-26T07:00:00+00:00"
    }  # fmt: skip
    assert quiet_hours_wait(new_york, LATE) is None
    after = campaign_report(engine, workspace.id, launched_late, now=MORNING)
    assert after["waiting_for_quiet_hours"] == {"count": 0, "until": None}


def test_changing_quiet_hours_re_times_the_texts_they_hold(
    engine: Engine, workspace: WorkspaceRef, launched_late: int
) -> None:
    now = LATE + timedelta(minutes=5)
    changed = change_settings(engine, workspace, now, quiet_hours={"start": "22:00",
                                                                   "end": "09:30"})  # fmt: skip
    warsaw, new_york = texts(engine)["+48600100200"], texts(engine)["+12125550100"]
    assert (warsaw.send_after, warsaw.due_at) == (MORNING + timedelta(hours=1, minutes=30), LATE)
    assert (new_york.send_after, new_york.due_at) == (LATE, None)
    report = campaign_report(engine, workspace.id, launched_late, now=now)
    assert report["waiting_for_quiet_hours"]["until"] == "2026-11-26T08:30:00+00:00"

    # hours that no longer hold 22:30 in Warsaw: due when it was due, that is at once
    change_settings(engine, changed, now, quiet_hours={"start": "23:00", "end": "08:00"})
    warsaw = texts(engine)["+48600100200"]
    assert (warsaw.send_after, warsaw.due_at) == (LATE, None)
    assert campaign_report(engine, workspace.id, launched_late, now=now)[
        "waiting_for_quiet_hours"
    ] == {"count": 0, "until": None}  # fmt: skip


def test_quiet_hours_off_makes_held_texts_due_now(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, launched_late: int
) -> None:
    now = LATE + timedelta(minutes=5)
    off = change_settings(engine, workspace, now, quiet_hours="off")
    assert off.settings["quiet_hours"] == "off"
    warsaw = texts(engine)["+48600100200"]
    assert (warsaw.send_after, warsaw.due_at) == (LATE, None)
    assert campaign_report(engine, workspace.id, launched_late, now=now)[
        "waiting_for_quiet_hours"
    ]["count"] == 0  # fmt: skip

    # and a launch at night with quiet hours off holds nothing
    add_contact(engine, workspace, "+48600100300", now, first_name="Jan")
    second = create_campaign(engine, off, CampaignDraft(name="Night", body="Hi {{ first_name }}",
                                                        segment='phone = "+48600100300"'),
                             actor="t", now=now)  # fmt: skip
    launch_campaign(engine, settings, off, second, actor="t", now=now, rng=random.Random(2))
    night = texts(engine)["+48600100300"]
    assert (night.send_after, night.due_at) == (now, None)


@pytest.mark.parametrize("empty", [None, "", {}])
def test_empty_quiet_hours_are_refused_naming_the_setting(
    engine: Engine, workspace: WorkspaceRef, empty: Any
) -> None:
    with pytest.raises(UserError) as refused:
        change_settings(engine, workspace, LATE, quiet_hours=empty)
    assert refused.value.problem.field == "quiet_hours"
    assert "quiet_hours cannot be empty" in refused.value.problem.message
    assert '"off"' in refused.value.problem.message
    with engine.connect() as conn:
        assert resolve_workspace(conn, workspace.name).settings == {}
