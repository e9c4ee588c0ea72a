"""Delivery reports: counted once per part, each message finished once, late and silent ones."""

from __future__ import annotations

from datetime import datetime, timedelta

from outbound_helpers import add_sim_connector, queue_texts
from sqlalchemy import Engine, insert, select, update

from smscast.channels.base import DeliveryReport, ReportState, SubmitOutcome, SubmitResult
from smscast.engine.leases import take_lease
from smscast.engine.outbox import RetryPolicy, claim_due, record_results
from smscast.engine.reports import apply_reports, expire_silent
from smscast.engine.stats import campaign_totals
from smscast.engine.tally import Tally
from smscast.engine.workspaces import WorkspaceRef
from smscast.store.messaging_models import Campaign, DeliveryReportRow, Message
from smscast.store.models import table_of

messages = table_of(Message)
campaigns = table_of(Campaign)
reports_table = table_of(DeliveryReportRow)
LATE = timedelta(hours=72)
D, U = ReportState.DELIVERED, ReportState.UNDELIVERED


def sent_messages(
    engine: Engine, workspace: WorkspaceRef, now: datetime, carrier_ids: list[tuple[str, ...]],
    **extra: object,
) -> tuple[int, list[int]]:  # fmt: skip
    """Messages sent through a connector, each accepted with the given part ids."""
    connector = add_sim_connector(engine, workspace, 2775, now)
    phones = [f"+4860010{i:04d}" for i in range(len(carrier_ids))]
    ids = queue_texts(engine, workspace, phones, now, **extra)
    with engine.begin() as conn:
        assert take_lease(conn, connector.id, "w1", now, 60)
        batch = claim_due(conn, connector_id=connector.id, worker="w1", now=now, limit=100,
                          validity=timedelta(hours=48))  # fmt: skip
        results = [
            SubmitResult(i, SubmitOutcome.ACCEPTED, c)
            for i, c in zip(ids, carrier_ids, strict=True)
        ]
        tally = Tally()
        record_results(conn, connector_id=connector.id, worker="w1",
                       claimed={m.id: m for m in batch}, results=results, now=now,
                       retry=RetryPolicy(), tally=tally)  # fmt: skip
        tally.write(conn)
    return connector.id, ids


def apply(engine: Engine, connector_id: int, reports: list[DeliveryReport], now: datetime):  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        return apply_reports(conn, connector_id, reports, now, LATE)


def message(engine: Engine, message_id: int):  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(select(messages).where(messages.c.id == message_id)).one()


def test_a_long_message_is_delivered_when_every_part_is(
    engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    connector_id, [long_id] = sent_messages(engine, workspace, now, [("p1", "p2")])
    first = apply(engine, connector_id, [DeliveryReport("p1", D)], now)
    assert (first.applied, message(engine, long_id).status) == (0, "sent")
    again = apply(engine, connector_id, [DeliveryReport("p1", D), DeliveryReport("p1", D)], now)
    assert again.repeated == 2 and message(engine, long_id).parts_done == 1
    last = apply(engine, connector_id, [DeliveryReport("p2", D)], now)
    row = message(engine, long_id)
    assert (last.applied, row.status, row.parts_done) == (1, "delivered", 2)


def test_one_failed_part_makes_the_message_undelivered_once(
    engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    connector_id, [long_id] = sent_messages(engine, workspace, now, [("p1", "p2")])
    outcome = apply(
        engine, connector_id,
        [DeliveryReport("p1", U, error_code="001"), DeliveryReport("p2", D)], now,
    )  # fmt: skip
    row = message(engine, long_id)
    assert (outcome.applied, row.status, row.error_code) == (1, "undelivered", "001")


def test_reports_find_their_message_by_carrier_id_or_by_ref(
    engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    connector_id, ids = sent_messages(engine, workspace, now, [("a",), ("b",), ("c",)])
    outcome = apply(
        engine, connector_id,
        [DeliveryReport("a", D), DeliveryReport("b", D, ref=ids[1]),
         DeliveryReport("zzz", D), DeliveryReport("c", ReportState.ACCEPTED)],
        now,
    )  # fmt: skip
    assert (outcome.applied, outcome.unmatched) == (2, 1)
    assert [message(engine, i).status for i in ids] == ["delivered", "delivered", "sent"]
    with engine.connect() as conn:
        kept = conn.execute(select(reports_table.c.carrier_id, reports_table.c.message_id)).all()
    assert sorted(kept, key=lambda r: r[0]) == [
        ("a", ids[0]), ("b", ids[1]), ("c", ids[2]), ("zzz", None)
    ]  # fmt: skip


def test_late_reports_are_kept_but_change_nothing(
    engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    connector_id, [sent_id] = sent_messages(engine, workspace, now, [("a",)])
    outcome = apply(engine, connector_id, [DeliveryReport("a", D)], now + LATE + timedelta(1))
    assert (outcome.late, message(engine, sent_id).status) == (1, "sent")
    on_time = apply(engine, connector_id, [DeliveryReport("a", D)], now + LATE - timedelta(1))
    assert on_time.repeated == 1  # the part was reported already: still counted once


def test_an_unknown_outcome_is_settled_by_its_report(
    engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    connector_id, [message_id] = sent_messages(engine, workspace, now, [("a",)])
    with engine.begin() as conn:
        conn.execute(update(messages).values(status="unknown"))
    apply(engine, connector_id, [DeliveryReport("b", D, ref=message_id)], now)
    assert message(engine, message_id).status == "delivered"


def test_silent_messages_expire_at_the_end_of_their_validity(
    engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    _, [short, default] = sent_messages(engine, workspace, now, [("a",), ("b",)])
    with engine.begin() as conn:
        conn.execute(
            update(messages)
            .where(messages.c.id == short)
            .values(valid_until=now + timedelta(hours=1))
        )
        assert expire_silent(conn, now + timedelta(hours=2), LATE) == 1
        assert expire_silent(conn, now + LATE + timedelta(minutes=1), LATE) == 1
    assert (message(engine, short).status, message(engine, default).status) == (
        "expired", "expired"
    )  # fmt: skip
    assert message(engine, short).error_code == "no_report"


def test_campaign_counters_follow_each_message_once(
    engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    with engine.begin() as conn:
        campaign_id = conn.execute(
            insert(campaigns)
            .values(workspace_id=workspace.id, name="c", status="running", created_at=now)
            .returning(campaigns.c.id)
        ).scalar_one()
    connector_id, _ = sent_messages(
        engine, workspace, now, [("a",), ("b",)], campaign_id=campaign_id
    )
    apply(engine, connector_id, [DeliveryReport("a", D), DeliveryReport("a", D)], now)
    apply(engine, connector_id, [DeliveryReport("b", U), DeliveryReport("a", D)], now)
    with engine.connect() as conn:
        totals = campaign_totals(conn, campaign_id)
    assert (totals["sent"], totals["delivered"], totals["undelivered"], totals["parts"]) == (
        2, 1, 1, 2
    )  # fmt: skip
