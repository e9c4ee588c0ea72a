"""Two launchers of one campaign: the scheduler resuming a launch that only looked dead.

A launch's progress mark is its heartbeat: the scheduler resumes a launch whose mark
stood still for a minute. If the first launcher was only slow (a busy database, a
paused process) it must stop at its next batch instead of failing on the unique key
or writing a second text, and a worker that shuts down mid-launch leaves the rest to
be resumed.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, insert, select

from smscast.config import Settings
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.campaigns.launch import launch_campaign, launch_due_campaigns
from smscast.engine.campaigns.lifecycle import CampaignDraft, create_campaign, launches
from smscast.store.messaging_models import Message
from smscast.store.models import Contact, table_of

messages = table_of(Message)
contacts = table_of(Contact)
BATCH = 100
STALE_LAUNCH = timedelta(seconds=Settings.model_fields["launch_resume_after_s"].default)
PEOPLE = 450  # read in batches of 100, 100, 100, 100 and 50


@pytest.fixture
def people(engine: Engine, workspace: WorkspaceRef, now: datetime) -> list[int]:
    rows = [{"workspace_id": workspace.id, "phone": f"+486001{i:05d}", "country": "PL",
             "attributes": {}, "language": "pl", "timezone": "Europe/Warsaw", "tags": [],
             "created_at": now, "updated_at": now} for i in range(PEOPLE)]  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(contacts), rows)
    with engine.connect() as conn:
        return list(conn.execute(select(contacts.c.id).order_by(contacts.c.id)).scalars())


@pytest.fixture
def small_batches(settings: Settings) -> Settings:
    return settings.model_copy(update={"launch_batch_size": BATCH})


def _scheduled(engine: Engine, settings: Settings, workspace: WorkspaceRef, at: datetime) -> int:
    """An informational campaign to everyone, due at `at` (the scheduler launches it)."""
    draft = CampaignDraft(name="Sale", body="Sale today", purpose="informational", at=at)
    before = at - timedelta(hours=1)
    campaign_id = create_campaign(engine, workspace, draft, actor="t", now=before)
    launch_campaign(engine, settings, workspace, campaign_id, actor="t", now=before)
    return campaign_id


def _mark(engine: Engine, campaign_id: int) -> tuple[int, bool]:
    with engine.connect() as conn:
        row = conn.execute(select(launches.c.last_contact_id, launches.c.done)
                           .where(launches.c.campaign_id == campaign_id)).one()  # fmt: skip
    return int(row.last_contact_id), bool(row.done)


def _started(engine: Engine, campaign_id: int) -> bool:
    with engine.connect() as conn:
        found = conn.execute(select(launches.c.campaign_id)
                             .where(launches.c.campaign_id == campaign_id)).first()  # fmt: skip
    return found is not None


def _texts_per_person(engine: Engine, campaign_id: int) -> Counter[int]:
    with engine.connect() as conn:
        found = conn.execute(select(messages.c.contact_id)
                             .where(messages.c.campaign_id == campaign_id)).scalars()  # fmt: skip
        return Counter(found)


def _wait_for_mark(engine: Engine, campaign_id: int, contact_id: int) -> None:
    """Until the writer thread has committed the batch that ends at `contact_id`."""
    deadline = time.monotonic() + 30
    while _mark(engine, campaign_id)[0] != contact_id:
        assert time.monotonic() < deadline, f"the batch up to {contact_id} was never committed"
        time.sleep(0.01)


def test_a_slow_launcher_stops_when_the_scheduler_has_carried_its_launch_on(
    engine: Engine, small_batches: Settings, workspace: WorkspaceRef, now: datetime,
    people: list[int],
) -> None:  # fmt: skip
    campaign_id = _scheduled(engine, small_batches, workspace, now)
    later = now + STALE_LAUNCH + timedelta(minutes=1)
    resumed: list[list[int]] = []

    def stand_still_after_the_first_batch() -> bool:
        # The first launcher stood still here for two minutes: another worker's
        # scheduler found its mark a minute old and carried the launch on by a batch
        # (then that worker was shut down).
        if not resumed and _started(engine, campaign_id):
            _wait_for_mark(engine, campaign_id, people[BATCH - 1])
            asked = Counter[str]()

            def after_one_batch() -> bool:  # asked before the launch, then after each batch
                asked["stop"] += 1
                return asked["stop"] > 1

            resumed.append(launch_due_campaigns(engine, small_batches, later, stop=after_one_batch))
            assert _mark(engine, campaign_id) == (people[2 * BATCH - 1], False)
        return False

    first = launch_due_campaigns(engine, small_batches, now, stop=stand_still_after_the_first_batch)

    # The first launcher's next batch started where it had stopped, inside the batch the
    # other one wrote: it stopped there, neither failing on the unique key nor finishing.
    assert first == [campaign_id] and resumed == [[campaign_id]]
    assert sum(_texts_per_person(engine, campaign_id).values()) == 2 * BATCH
    assert _mark(engine, campaign_id) == (people[2 * BATCH - 1], False)
    # The rest is the next resumer's, a minute after the mark last moved.
    assert launch_due_campaigns(engine, small_batches, later + STALE_LAUNCH * 2) == [campaign_id]
    per_person = _texts_per_person(engine, campaign_id)
    assert sorted(per_person) == people  # everyone got a text ...
    assert set(per_person.values()) == {1}  # ... and no one two
    assert _mark(engine, campaign_id) == (people[-1], True)


def test_a_worker_stopping_mid_launch_leaves_the_rest_to_be_resumed_a_minute_later(
    engine: Engine, small_batches: Settings, workspace: WorkspaceRef, now: datetime,
    people: list[int],
) -> None:  # fmt: skip
    campaign_id = _scheduled(engine, small_batches, workspace, now)

    def shutting_down() -> bool:  # asked from the first batch on
        return _started(engine, campaign_id)

    assert launch_due_campaigns(engine, small_batches, now, stop=shutting_down) == [campaign_id]
    written = _texts_per_person(engine, campaign_id)
    assert sorted(written) == people[:BATCH]  # the batch it was writing, then it stopped
    assert _mark(engine, campaign_id) == (people[BATCH - 1], False)

    # Half a minute later the launch is not taken for dead (its mark moved just now) ...
    assert launch_due_campaigns(engine, small_batches, now + timedelta(seconds=30)) == []
    assert sum(_texts_per_person(engine, campaign_id).values()) == BATCH
    # ... a minute after it stood still it is resumed where it stopped.
    later = now + STALE_LAUNCH + timedelta(seconds=1)
    assert launch_due_campaigns(engine, small_batches, later) == [campaign_id]
    per_person = _texts_per_person(engine, campaign_id)
    assert sorted(per_person) == people and set(per_person.values()) == {1}
    assert _mark(engine, campaign_id) == (people[-1], True)
