"""Delivery reports: counted once per part, each message finished once, late and silent ones."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from outbound_helpers import add_sim_connector, queue_texts
from sqlalchemy import Engine, insert, select, update

import smscast.engine.delivery.reports as reports_module
from smscast.channels.base import DeliveryReport, ReportState, SubmitOutcome, SubmitResult
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.delivery.reports import apply_reports, expire_silent
from smscast.engine.sending.leases import take_lease
from smscast.engine.sending.outbox import RetryPolicy, claim_due, record_results
from smscast.engine.stats import campaign_totals
from smscast.engine.tally import Tally
from smscast.store.messaging_models import (
    Campaign,
    ConnectorLogRow,
    DeliveryReportRow,
    Message,
)
from smscast.store.models import table_of

messages = table_of(Message)
campaigns = table_of(Campaign)
reports_table = table_of(DeliveryReportRow)
log_table = table_of(ConnectorLogRow)
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


# --- carrier ids used again, final messages, reports after an expiry -------------------


def submit(engine: Engine, connector_id: int, at: datetime, carrier_ids: list[tuple[str, ...]]
           ) -> list[int]:  # fmt: skip
    """Hands every message due at `at` to the carrier, accepted with the given part ids."""
    with engine.begin() as conn:
        assert take_lease(conn, connector_id, "w1", at, 60)
        batch = claim_due(conn, connector_id=connector_id, worker="w1", now=at, limit=100,
                          validity=timedelta(hours=48))  # fmt: skip
        results = [
            SubmitResult(m.id, SubmitOutcome.ACCEPTED, c)
            for m, c in zip(batch, carrier_ids, strict=True)
        ]
        tally = Tally()
        record_results(conn, connector_id=connector_id, worker="w1",
                       claimed={m.id: m for m in batch}, results=results, now=at,
                       retry=RetryPolicy(), tally=tally)  # fmt: skip
        tally.write(conn)
    return [m.id for m in batch]


def connector_log_lines(engine: Engine) -> list[tuple[str, list[int], str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(log_table.c.kind, log_table.c.message_ids, log_table.c.error)
            .order_by(log_table.c.id)
        ).all()  # fmt: skip
    return [(kind, json.loads(ids) if isinstance(ids, str) else ids, error)
            for kind, ids, error in rows]  # fmt: skip


def reports_of(engine: Engine) -> dict[str, list[int | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(reports_table.c.carrier_id, reports_table.c.message_id)
            .order_by(reports_table.c.id)
        ).all()  # fmt: skip
    kept: dict[str, list[int | None]] = {}
    for carrier_id, message_id in rows:
        kept.setdefault(carrier_id, []).append(message_id)
    return kept


@pytest.mark.parametrize("connector_ref", ["none", "stale"])
def test_a_carrier_id_used_again_reports_the_newest_message_awaiting_it(
    engine: Engine, workspace: WorkspaceRef, now: datetime, connector_ref: str
) -> None:
    """After a carrier restart its ids start again: each report finds its own text.

    The text queued first goes out last (it waited), so the newest by sending time is
    not the highest id. A connector that remembers the id from before the restart
    (a stale ref) does not override the database either.
    """
    connector = add_sim_connector(engine, workspace, 2775, now)
    later = now + timedelta(hours=1)
    [waiting] = queue_texts(engine, workspace, ["+48600100001"], now, send_after=later)
    [first] = queue_texts(engine, workspace, ["+48600100002"], now)
    assert submit(engine, connector.id, now, [("7",)]) == [first]
    apply(engine, connector.id, [DeliveryReport("7", D)], now + timedelta(minutes=1))
    assert submit(engine, connector.id, later, [("7",)]) == [waiting]  # restarted carrier
    ref = None if connector_ref == "none" else first
    outcome = apply(engine, connector.id, [DeliveryReport("7", U, ref=ref, error_code="011")],
                    later + timedelta(minutes=1))  # fmt: skip
    assert (message(engine, first).status, message(engine, waiting).status) == (
        "delivered", "undelivered"
    )  # fmt: skip
    assert (outcome.applied, outcome.repeated, outcome.clashed) == (1, 0, 0)
    assert message(engine, waiting).error_code == "011"
    assert reports_of(engine) == {"7": [first, waiting]}
    again = apply(engine, connector.id, [DeliveryReport("7", U)], later + timedelta(minutes=2))
    assert (again.applied, again.repeated, connector_log_lines(engine)) == (0, 1, [])


def test_a_report_for_an_id_only_final_messages_carry_is_logged_not_applied(
    engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    connector_id, [long_id] = sent_messages(engine, workspace, now, [("5", "6")])
    apply(engine, connector_id, [DeliveryReport("5", U, error_code="001")], now)
    outcome = apply(engine, connector_id, [DeliveryReport("6", D)], now + timedelta(minutes=1))
    row = message(engine, long_id)
    assert (outcome.applied, outcome.clashed) == (0, 1)
    assert (row.status, row.parts_done, row.error_code) == ("undelivered", 0, "001")
    [(kind, ids, error)] = connector_log_lines(engine)
    assert (kind, ids) == ("report_clash", [long_id])
    assert error == (f"delivery report delivered for carrier id 6 names only messages already "
                     f"final: message {long_id} (undelivered); not applied")  # fmt: skip


def test_a_report_after_the_late_window_is_kept_and_logged(
    engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    connector_id, [sent_id] = sent_messages(engine, workspace, now, [("8",)])
    apply(engine, connector_id, [DeliveryReport("8", D)], now + LATE + timedelta(hours=1))
    assert message(engine, sent_id).status == "sent"
    [(kind, ids, error)] = connector_log_lines(engine)
    assert (kind, ids) == ("report_late", [sent_id])
    assert "after the late-report window" in error


def test_several_messages_awaiting_one_id_the_newest_takes_it_and_it_is_logged(
    engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    """The carrier restarted before the first text's report: both await one on id 3."""
    connector = add_sim_connector(engine, workspace, 2775, now)
    later = now + timedelta(minutes=5)
    [old] = queue_texts(engine, workspace, ["+48600100001"], now)
    [new] = queue_texts(engine, workspace, ["+48600100002"], now, send_after=later)
    submit(engine, connector.id, now, [("3",)])
    submit(engine, connector.id, later, [("3",)])
    outcome = apply(engine, connector.id, [DeliveryReport("3", D)], later + timedelta(seconds=5))
    assert (outcome.applied, message(engine, new).status, message(engine, old).status) == (
        1, "delivered", "sent"
    )  # fmt: skip
    [(kind, ids, error)] = connector_log_lines(engine)
    assert (kind, ids) == ("report_ambiguous", [old, new])
    assert error.endswith(f"applied to the newest, message {new}")


def test_a_report_inside_the_window_finishes_a_message_expired_for_want_of_one(
    engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    with engine.begin() as conn:
        campaign_id = conn.execute(
            insert(campaigns)
            .values(workspace_id=workspace.id, name="c", status="running", created_at=now)
            .returning(campaigns.c.id)
        ).scalar_one()
    connector_id, [short_id] = sent_messages(
        engine, workspace, now, [("a",)], campaign_id=campaign_id,
        valid_until=now + timedelta(hours=1),
    )  # fmt: skip
    with engine.begin() as conn:
        assert expire_silent(conn, now + timedelta(hours=2), LATE) == 1
    with engine.connect() as conn:
        assert campaign_totals(conn, campaign_id)["expired"] == 1
    outcome = apply(engine, connector_id, [DeliveryReport("a", D)], now + timedelta(hours=5))
    row = message(engine, short_id)
    assert (outcome.applied, row.status, row.error_code, row.error) == (
        1, "delivered", None, None
    )  # fmt: skip
    with engine.connect() as conn:
        totals = campaign_totals(conn, campaign_id)
    assert (totals["sent"], totals["delivered"], totals["expired"]) == (1, 1, 0)
    assert apply(engine, connector_id, [DeliveryReport("a", D)], now + timedelta(hours=6)
                 ).repeated == 1  # fmt: skip


def test_a_message_never_ends_before_it_was_sent(
    engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    """A carrier's clock behind ours, or a report that beats the submit answer."""
    connector_id, [slow_clock] = sent_messages(engine, workspace, now, [("a",)])
    apply(engine, connector_id, [DeliveryReport("a", D, done_at=now - timedelta(minutes=3))],
          now + timedelta(seconds=2))  # fmt: skip
    row = message(engine, slow_clock)
    assert row.done_at == row.sent_at == now
    [early] = queue_texts(engine, workspace, ["+48600100009"], now)
    answered = now + timedelta(seconds=1)
    with engine.begin() as conn:
        assert take_lease(conn, connector_id, "w1", now, 60)
        [claimed] = claim_due(conn, connector_id=connector_id, worker="w1", now=now, limit=1,
                              validity=timedelta(hours=48))  # fmt: skip
    apply(engine, connector_id, [DeliveryReport("b", D, ref=early, done_at=now)], now)
    with engine.begin() as conn:
        record_results(conn, connector_id=connector_id, worker="w1", claimed={early: claimed},
                       results=[SubmitResult(early, SubmitOutcome.ACCEPTED, ("b",))],
                       now=answered, retry=RetryPolicy(), tally=Tally())  # fmt: skip
    row = message(engine, early)
    assert (row.status, row.sent_at, row.done_at) == ("delivered", answered, answered)
    repeat = apply(engine, connector_id, [DeliveryReport("b", D)], answered)
    assert (repeat.repeated, connector_log_lines(engine)) == (1, [])


def test_a_silent_message_expired_by_a_worker_whose_clock_is_behind_ends_when_it_was_sent(
    engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    ahead = now + timedelta(minutes=2)  # the sending worker's clock
    _, [message_id] = sent_messages(engine, workspace, ahead, [("a",)],
                                    valid_until=now - timedelta(minutes=1))  # fmt: skip
    with engine.begin() as conn:
        assert expire_silent(conn, now, LATE) == 1
    row = message(engine, message_id)
    assert (row.status, row.sent_at, row.done_at) == ("expired", ahead, ahead)


@pytest.mark.parametrize(  # SQLite runs reports and the dispatcher on one database thread
    "db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_a_report_read_before_the_submit_answer_committed_still_finishes_the_message(
    engine: Engine, workspace: WorkspaceRef, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report's transaction reads the text as `sending`; the dispatcher then commits
    `sent` before the report's write. The text must end delivered, not stay `sent`."""
    connector = add_sim_connector(engine, workspace, 2775, now)
    [message_id] = queue_texts(engine, workspace, ["+48600100000"], now)
    with engine.begin() as conn:
        assert take_lease(conn, connector.id, "w1", now, 60)
        [claimed] = claim_due(conn, connector_id=connector.id, worker="w1", now=now, limit=10,
                              validity=timedelta(hours=48))  # fmt: skip
    read_messages = reports_module._messages

    def read_then_let_the_dispatcher_commit(conn, ids):  # type: ignore[no-untyped-def]
        loaded = read_messages(conn, ids)
        with engine.begin() as other:  # the submit answer, committed meanwhile
            record_results(other, connector_id=connector.id, worker="w1",
                           claimed={claimed.id: claimed},
                           results=[SubmitResult(message_id, SubmitOutcome.ACCEPTED, "c1")],
                           now=now, retry=RetryPolicy(), tally=Tally())  # fmt: skip
        return loaded

    monkeypatch.setattr(reports_module, "_messages", read_then_let_the_dispatcher_commit)
    assert loaded_status(engine, message_id) == "sending"
    outcome = apply(engine, connector.id, [DeliveryReport("c1", D, ref=message_id)], now)
    row = message(engine, message_id)
    assert (outcome.applied, row.status) == (1, "delivered")
    assert row.sent_at is not None and row.done_at >= row.sent_at


def loaded_status(engine: Engine, message_id: int) -> str:
    status: str = message(engine, message_id).status
    return status
