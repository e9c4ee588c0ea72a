"""The outbox: enqueueing, claiming under a lease, the checks at dispatch, submit results."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from outbound_helpers import add_sim_connector, queue_texts
from sqlalchemy import Engine, insert, select, update

from smscast.channels.base import SubmitOutcome, SubmitResult
from smscast.config import Settings
from smscast.core.consent import Action, Source
from smscast.core.errors import UserError
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.contacts.consent import ConsentChange, record_consent
from smscast.engine.sending.dispatch_checks import check_before_sending
from smscast.engine.sending.leases import take_lease
from smscast.engine.sending.outbox import (
    RetryPolicy,
    cancel_cancelled_campaigns,
    claim_due,
    enqueue_messages,
    mark_interrupted,
    record_results,
    settle_unsendable,
)
from smscast.engine.tally import Tally
from smscast.store.messaging_models import Campaign, CarrierRef, Message
from smscast.store.models import Contact, table_of

messages = table_of(Message)
campaigns = table_of(Campaign)
carrier_refs = table_of(CarrierRef)
contacts = table_of(Contact)
DAY = timedelta(hours=48)


def row_of(engine: Engine, message_id: int):  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(select(messages).where(messages.c.id == message_id)).one()


def claim(  # type: ignore[no-untyped-def]
    engine: Engine, connector_id: int, now: datetime, limit: int = 100, worker: str = "w1"
):
    with engine.begin() as conn:
        return claim_due(
            conn, connector_id=connector_id, worker=worker, now=now, limit=limit, validity=DAY
        )


def contact_id_of(engine: Engine, phone: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(select(contacts.c.id).where(contacts.c.phone == phone)).scalar_one()
        )


def hold(engine: Engine, connector_id: int, now: datetime, worker: str = "w1") -> None:
    with engine.begin() as conn:
        assert take_lease(conn, connector_id, worker, now, 60)


def test_enqueue_fills_route_parts_and_due_time(
    engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    connector = add_sim_connector(engine, workspace, 2775, now)
    [message_id] = queue_texts(engine, workspace, ["+48600100200"], now, body="Zażółć " * 30)
    row = row_of(engine, message_id)
    assert (row.status, row.connector_id, row.encoding, row.parts) == (
        "queued", connector.id, "UCS-2", 4
    )  # fmt: skip
    assert row.send_after == now and row.number_id is not None


def test_enqueue_names_the_missing_field(engine: Engine, workspace: WorkspaceRef) -> None:
    with pytest.raises(UserError, match="message 1: body is missing"), engine.begin() as conn:
        enqueue_messages(
            conn,
            [
                {
                    "workspace_id": workspace.id,
                    "phone": "+48600100200",
                    "body": "a",
                    "kind": "help",
                },
                {"workspace_id": workspace.id, "phone": "+48600100201", "kind": "help"},
            ],
        )


def test_claims_only_under_the_lease_and_never_twice(
    engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    connector = add_sim_connector(engine, workspace, 2775, now)
    queue_texts(engine, workspace, [f"+4860010{i:04d}" for i in range(30)], now)
    assert claim(engine, connector.id, now) == []  # nobody holds the connector
    hold(engine, connector.id, now)
    assert claim(engine, connector.id, now, worker="intruder") == []
    first = claim(engine, connector.id, now, limit=20)
    second = claim(engine, connector.id, now, limit=20)
    assert len(first) == 20 and len(second) == 10
    assert not {m.id for m in first} & {m.id for m in second}
    assert claim(engine, connector.id, now) == []


def test_future_messages_wait_for_their_time(
    engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    connector = add_sim_connector(engine, workspace, 2775, now)
    queue_texts(engine, workspace, ["+48600100200"], now, send_after=now + timedelta(minutes=5))
    hold(engine, connector.id, now)
    assert claim(engine, connector.id, now) == []
    hold(engine, connector.id, now + timedelta(minutes=5))
    assert len(claim(engine, connector.id, now + timedelta(minutes=5))) == 1


def add_campaign(engine: Engine, workspace: WorkspaceRef, now: datetime, status: str) -> int:
    with engine.begin() as conn:
        values = {"workspace_id": workspace.id, "name": f"c-{status}", "status": status,
                  "purpose": "promotional", "created_at": now}  # fmt: skip
        return int(
            conn.execute(insert(campaigns).values(values).returning(campaigns.c.id)).scalar_one()
        )


def test_paused_campaigns_wait_and_cancelled_ones_are_cancelled(
    engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    connector = add_sim_connector(engine, workspace, 2775, now)
    paused = add_campaign(engine, workspace, now, "paused")
    cancelled = add_campaign(engine, workspace, now, "cancelled")
    [held] = queue_texts(engine, workspace, ["+48600100200"], now, campaign_id=paused)
    [dropped] = queue_texts(engine, workspace, ["+48600100201"], now, campaign_id=cancelled)
    hold(engine, connector.id, now)
    assert claim(engine, connector.id, now) == []
    with engine.begin() as conn:
        assert cancel_cancelled_campaigns(conn, now) == 1
        conn.execute(update(campaigns).where(campaigns.c.id == paused).values(status="running"))
    assert row_of(engine, dropped).status == "cancelled"
    assert [m.id for m in claim(engine, connector.id, now)] == [held]


def test_an_opt_out_after_queueing_stops_the_message(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    connector = add_sim_connector(engine, workspace, 2775, now)

    def consent(action: Action) -> int:
        change = ConsentChange("sms", "all", action, Source.API, "test", "test", now)
        record_consent(engine, settings, workspace, "+48600100200", change)
        return contact_id_of(engine, "+48600100200")

    contact_id = consent(Action.OPT_IN)
    [promo] = queue_texts(engine, workspace, ["+48600100200"], now, contact_id=contact_id,
                          purpose="promotional")  # fmt: skip
    [info] = queue_texts(engine, workspace, ["+48600100200"], now, contact_id=contact_id)
    [help_] = queue_texts(engine, workspace, ["+48600100200"], now, contact_id=contact_id,
                          kind="help")  # fmt: skip
    consent(Action.OPT_OUT)
    hold(engine, connector.id, now)
    with engine.begin() as conn:
        claimed = claim_due(conn, connector_id=connector.id, worker="w1", now=now, limit=10,
                            validity=DAY)  # fmt: skip
        to_send, held = check_before_sending(conn, claimed, now)
        settle_unsendable(conn, held, now, Tally())
    assert [m.id for m in to_send] == [help_]
    for message_id in (promo, info):
        row = row_of(engine, message_id)
        assert (row.status, row.error_code) == ("cancelled", "opted_out")


def test_promotional_texts_wait_out_quiet_hours(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    connector = add_sim_connector(engine, workspace, 2775, now)
    change = ConsentChange("sms", "all", Action.OPT_IN, Source.API, "test", "test", now)
    record_consent(engine, settings, workspace, "+48600100200", change)
    late = now.replace(hour=21, minute=30)  # 22:30 in Warsaw
    contact_id = contact_id_of(engine, "+48600100200")
    [promo] = queue_texts(engine, workspace, ["+48600100200"], now, contact_id=contact_id,
                          purpose="promotional")  # fmt: skip
    [campaign_info] = queue_texts(engine, workspace, ["+48600100201"], now, kind="campaign")
    [reply] = queue_texts(engine, workspace, ["+48600100200"], now, contact_id=contact_id)
    hold(engine, connector.id, late)
    with engine.begin() as conn:
        claimed = claim_due(conn, connector_id=connector.id, worker="w1", now=late, limit=10,
                            validity=DAY)  # fmt: skip
        to_send, held = check_before_sending(conn, claimed, late)
        settle_unsendable(conn, held, late, Tally())
    assert [m.id for m in to_send] == [reply]  # an answer to someone who just wrote
    morning = (now + timedelta(days=1)).replace(hour=7, minute=0)  # 08:00 in Warsaw
    for held_id in (promo, campaign_info):
        row = row_of(engine, held_id)
        assert (row.status, row.send_after, row.error_code) == ("queued", morning, "quiet_hours")
        assert row.due_at == now  # when it was due, for the report and a change of hours


def test_submit_results_move_messages_on(
    engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    connector = add_sim_connector(engine, workspace, 2775, now)
    ids = queue_texts(engine, workspace, [f"+4860010{i:04d}" for i in range(5)], now,
                      valid_until=now + timedelta(minutes=1))  # fmt: skip
    hold(engine, connector.id, now)
    claimed = {m.id: m for m in claim(engine, connector.id, now)}
    results = [
        SubmitResult(ids[0], SubmitOutcome.ACCEPTED, ("a1", "a2")),
        SubmitResult(ids[1], SubmitOutcome.TEMPORARY, (), "throttled", "slow down"),
        SubmitResult(ids[2], SubmitOutcome.TEMPORARY, (), "throttled", "x", retry_after=120),
        SubmitResult(ids[3], SubmitOutcome.PERMANENT, (), "ESME_RINVDSTADR", "bad number"),
        SubmitResult(ids[4], SubmitOutcome.UNKNOWN, (), "response_timeout", "no answer"),
    ]
    with engine.begin() as conn:
        record_results(conn, connector_id=connector.id, worker="w1", claimed=claimed,
                       results=results, now=now, retry=RetryPolicy(5, 300),
                       tally=Tally())  # fmt: skip
    sent, retried, expired, failed, unknown = (row_of(engine, i) for i in ids)
    assert (sent.status, sent.parts, sent.sent_at) == ("sent", 2, now)
    assert (retried.status, retried.attempts, retried.send_after) == (
        "queued", 1, now + timedelta(seconds=5)
    )  # fmt: skip
    assert (expired.status, expired.error_code) == ("expired", "validity_ended")
    assert (failed.status, failed.error_code) == ("failed", "ESME_RINVDSTADR")
    assert (unknown.status, unknown.error_code) == ("unknown", "response_timeout")
    with engine.connect() as conn:
        refs = conn.execute(select(carrier_refs.c.carrier_id, carrier_refs.c.part)).all()
    assert sorted(refs) == [("a1", 0), ("a2", 1)]


def test_a_dead_workers_sending_messages_become_unknown_not_resent(
    engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    connector = add_sim_connector(engine, workspace, 2775, now)
    queue_texts(engine, workspace, [f"+4860010{i:04d}" for i in range(4)], now)
    hold(engine, connector.id, now)
    gone = claim(engine, connector.id, now, limit=3)
    with engine.begin() as conn:
        interrupted = mark_interrupted(conn, connector.id, now)
    assert interrupted == sorted(m.id for m in gone)
    assert {row_of(engine, i).status for i in interrupted} == {"unknown"}
    assert len(claim(engine, connector.id, now)) == 1
