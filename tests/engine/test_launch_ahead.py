"""Rendering ahead with peeked coupons: a code taken meanwhile is never given twice."""

from __future__ import annotations

import random
import threading

import pytest
from campaign_data import add_contact, add_pool
from outbound_helpers import add_sim_connector, numbers
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from smscast.core.errors import UserError
from smscast.core.links import LinkPath, parse_link_path
from smscast.engine.accounts.workspaces import create_workspace
from smscast.engine.campaigns import materialise
from smscast.engine.campaigns.launch import launch_campaign
from smscast.engine.campaigns.lifecycle import CampaignDraft, create_campaign
from smscast.engine.contacts.records import erase_contact, show_contact
from smscast.engine.sending.routing import route_queued
from smscast.engine.stats import campaign_report
from smscast.store.bulk_values import insert_value_rows
from smscast.store.campaign_models import Coupon
from smscast.store.checked_writes import ParentsCheckedWrites
from smscast.store.db import create_db_engine
from smscast.store.messaging_models import Message
from smscast.store.models import Contact, table_of
from smscast.store.schema import metadata

messages = table_of(Message)
coupons = table_of(Coupon)
BODY = "Hi {{ first_name }}, code {{ coupon }} {{ link('https://shop.example/sale') }}"
FIXED = {"direction": "out", "kind": "campaign", "purpose": "promotional",
         "run": 0, "encoding": "GSM-7", "parts": 1, "parts_done": 0, "cost": 0,
         "status": "queued", "attempts": 0, "created_at": "2026-11-25 10:00:00.000000"}  # fmt: skip


def _launch(engine, settings, workspace, campaign_id, now):
    return launch_campaign(engine, settings, workspace, campaign_id, actor="t", now=now,
                           rng=random.Random(3))  # fmt: skip


def _setup(engine, workspace, now, contacts: int, codes: int) -> int:
    for i in range(contacts):
        add_contact(engine, workspace, f"+4860020030{i}", now, first_name=f"K{i}")
    add_pool(engine, workspace, "p", [f"C{i:02d}" for i in range(codes)], now)
    return create_campaign(engine, workspace, CampaignDraft(name="A", body=BODY, coupon_pool="p"),
                           actor="t", now=now)  # fmt: skip


def _check_outbox(engine, count: int, not_given: set[str]) -> None:
    with engine.connect() as conn:
        rows = conn.execute(select(messages.c.contact_id, messages.c.coupon_code,
                                   messages.c.body)).all()  # fmt: skip
        allocated = conn.execute(select(coupons.c.code, coupons.c.campaign_id)
                                 .where(coupons.c.allocated_at.is_not(None))).all()  # fmt: skip
    assert len(rows) == count and len({r.contact_id for r in rows}) == count
    codes = [r.coupon_code for r in rows]
    assert len(set(codes)) == count and not set(codes) & not_given
    assert all(f"code {r.coupon_code} " in r.body for r in rows)
    mine = {code for code, campaign in allocated if campaign is not None}
    assert mine == set(codes)


def test_a_peeked_code_taken_by_another_launch_is_not_sent(engine, settings, workspace, now,
                                                           monkeypatch):  # fmt: skip
    campaign_id = _setup(engine, workspace, now, contacts=7, codes=12)
    real_peek = materialise.peek_coupons
    taken: set[str] = set()

    def peek_then_someone_takes_one(conn, pool, after_id, count):
        found = real_peek(conn, pool, after_id, count)
        if len(taken) == 0 and after_id > 0:  # the second batch: another launch takes a code
            with engine.begin() as other:
                other.execute(update(coupons).where(coupons.c.id == found[0][0])
                              .values(allocated_at=now))  # fmt: skip
            taken.add(found[0][1])
        return found

    monkeypatch.setattr(materialise, "peek_coupons", peek_then_someone_takes_one)
    small = settings.model_copy(update={"launch_batch_size": 2})

    result = _launch(engine, small, workspace, campaign_id, now)

    assert taken and result["queued"] == 7
    _check_outbox(engine, 7, taken)
    assert campaign_report(engine, workspace.id, campaign_id)["queued"] == 7


def test_a_code_peeked_for_a_text_that_failed_stays_free(engine, settings, workspace, now):
    campaign_id = _setup(engine, workspace, now, contacts=5, codes=6)
    add_contact(engine, workspace, "+48600200399", now)  # no first_name: no text, no code
    small = settings.model_copy(update={"launch_batch_size": 2})

    result = _launch(engine, small, workspace, campaign_id, now)

    assert result["queued"] == 5 and result["excluded"] == {"missing_value": 1}
    _check_outbox(engine, 5, set())
    with engine.connect() as conn:
        free = conn.execute(select(coupons.c.code).where(coupons.c.allocated_at.is_(None)))
        assert len(free.all()) == 1


def test_too_few_codes_to_peek_goes_sequential(engine, settings, workspace, now, monkeypatch):
    campaign_id = _setup(engine, workspace, now, contacts=6, codes=6)
    real_peek = materialise.peek_coupons
    calls = {"n": 0}

    def peek_short_the_second_time(conn, pool, after_id, count):
        calls["n"] += 1
        found = real_peek(conn, pool, after_id, count)
        return found[:-1] if calls["n"] == 2 else found

    monkeypatch.setattr(materialise, "peek_coupons", peek_short_the_second_time)
    small = settings.model_copy(update={"launch_batch_size": 2})

    assert _launch(engine, small, workspace, campaign_id, now)["queued"] == 6
    assert calls["n"] == 2  # sequential from then on
    _check_outbox(engine, 6, set())


def test_link_tokens_of_a_batch_sit_together_and_stay_unique_links() -> None:
    source = materialise.TokenSource(random.Random(5))
    first, second = source.batch(500), source.batch(500)
    for batch in (first, second):
        assert len({token[:2] for token in batch}) == 1
        assert all(parse_link_path(token) == LinkPath(token, 1) for token in batch)
    assert first[0][:2] != second[0][:2]
    assert len(set(first) | set(second)) == 1000
    assert len({token[2:4] for token in first}) > 100  # the rest is random


def test_an_in_memory_database_is_written_by_the_launching_thread(settings, now):
    memory = create_db_engine("sqlite://")
    metadata.create_all(memory)
    workspace = create_workspace(memory, "Mem", "PL", "Europe/Warsaw", actor="t", now=now)
    campaign_id = _setup(memory, workspace, now, contacts=5, codes=5)
    small = settings.model_copy(update={"launch_batch_size": 2})

    assert _launch(memory, small, workspace, campaign_id, now)["queued"] == 5
    _check_outbox(memory, 5, set())


def test_a_contact_erased_while_its_batch_waits_gets_no_text(engine, settings, workspace, now,
                                                             monkeypatch):  # fmt: skip
    campaign_id = _setup(engine, workspace, now, contacts=6, codes=6)
    real_transaction = ParentsCheckedWrites.transaction
    erased: list[str] = []

    def erase_then_write(writes):
        if not erased:  # the first batch is read, then its second person is erased
            erased.append(erase_contact(engine, settings, workspace, "+48600200301",
                                        actor="t", now=now))  # fmt: skip
        return real_transaction(writes)

    monkeypatch.setattr(ParentsCheckedWrites, "transaction", erase_then_write)
    small = settings.model_copy(update={"launch_batch_size": 2})

    result = _launch(engine, small, workspace, campaign_id, now)

    assert erased and result["queued"] == 5
    assert result["excluded"] == {"contact_deleted": 1}
    with engine.connect() as conn:
        phones = conn.execute(select(messages.c.phone)).scalars().all()
        free = conn.execute(select(coupons.c.code).where(coupons.c.allocated_at.is_(None)))
        assert len(free.all()) == 1  # the erased person's code went back to the pool
    assert "+48600200301" not in phones and len(phones) == 5
    _check_outbox(engine, 5, set())
    report = campaign_report(engine, workspace.id, campaign_id)
    assert report["queued"] == 5 and report["excluded"]["contact_deleted"] == 1


def test_foreign_keys_are_checked_again_after_a_launch(engine, settings, workspace, now):
    """SQLite's checks are off on the launch's writer connection (PostgreSQL keeps them):
    afterwards every pooled connection refuses a text whose campaign does not exist."""
    campaign_id = _setup(engine, workspace, now, contacts=3, codes=3)
    result = _launch(engine, settings.model_copy(update={"launch_batch_size": 1}), workspace,
                     campaign_id, now)  # fmt: skip
    assert result["queued"] == 3
    _check_outbox(engine, 3, set())
    orphan = {**FIXED, "created_at": now, "workspace_id": workspace.id,
              "campaign_id": campaign_id + 1000, "phone": "+48600200309", "body": "Hi"}  # fmt: skip
    pooled = [engine.connect() for _ in range(6)]
    try:
        for conn in pooled:
            with pytest.raises(IntegrityError):
                conn.execute(insert(messages).values(**orphan))
            conn.rollback()
        if engine.dialect.name == "sqlite":
            assert [c.exec_driver_sql("PRAGMA foreign_keys").scalar() for c in pooled] == [1] * 6
    finally:
        for conn in pooled:
            conn.close()
    with engine.connect() as conn:
        assert len(conn.execute(select(messages.c.id)).all()) == 3


def test_launched_texts_carry_their_route(engine, settings, workspace, now):
    connector = add_sim_connector(engine, workspace, 2775, now)
    campaign_id = _setup(engine, workspace, now, contacts=3, codes=3)

    _launch(engine, settings, workspace, campaign_id, now)

    with engine.begin() as conn:
        routes = conn.execute(select(messages.c.connector_id, messages.c.number_id)).all()
        number = conn.execute(select(numbers.c.id).where(numbers.c.connector_id == connector.id))
        assert routes == [(connector.id, number.scalar_one())] * 3
        assert route_queued(conn, now) == 0  # nothing left for the routing pass


def test_an_erasure_during_a_batch_write_leaves_no_text_behind(engine, settings, workspace,
                                                               now):  # fmt: skip
    """The batch holds its contacts (PostgreSQL: FOR KEY SHARE) until it commits; an erasure
    started meanwhile waits for it and then deletes its text too."""
    _setup(engine, workspace, now, contacts=1, codes=1)
    contact_id = show_contact(engine, workspace, "+48600200300")["id"]
    erased = threading.Event()

    def erase() -> None:
        erase_contact(engine, settings, workspace, "+48600200300", actor="t", now=now)
        erased.set()

    with engine.begin() as batch:
        kept = insert_value_rows(batch, messages, ("contact_id", "phone", "body"),
                                [(contact_id, "+48600200300", "Hi")],
                                {"workspace_id": workspace.id, **FIXED},
                                existing=("contact_id", "contacts"))  # fmt: skip
        assert kept == 1
        worker = threading.Thread(target=erase)
        worker.start()
        erased.wait(1.0)  # on SQLite the erasure waits for the write lock (busy timeout)
    worker.join(30)
    assert erased.is_set()
    with engine.connect() as conn:
        assert conn.execute(select(messages.c.phone)).all() == []


def test_the_first_texts_are_in_the_outbox_while_the_rest_is_written(engine, settings, workspace,
                                                                     now, monkeypatch):  # fmt: skip
    """The first batch is small and committed at once, so a worker can send before the
    launch of a big campaign ends; batches then grow to `launch_batch_size`."""
    for i in range(31):
        add_contact(engine, workspace, f"+4860020040{i:02d}", now, first_name=f"L{i}")
    campaign_id = _setup(engine, workspace, now, contacts=9, codes=40)
    monkeypatch.setattr(materialise, "FIRST_BATCH", 2)
    real_commit = materialise._commit_batch
    seen: list[tuple[int, int]] = []  # (rows in the batch, queued texts once it committed)

    def commit_and_look(*args, **kwargs):
        batch = real_commit(*args, **kwargs)
        with engine.connect() as conn:
            queued = conn.execute(select(messages.c.id).where(messages.c.status == "queued"))
            seen.append((len(batch.rows), len(queued.all())))
        return batch

    monkeypatch.setattr(materialise, "_commit_batch", commit_and_look)

    result = _launch(engine, settings.model_copy(update={"launch_batch_size": 20}), workspace,
                     campaign_id, now)  # fmt: skip

    assert result["queued"] == 40
    assert seen == [(2, 2), (8, 10), (20, 30), (10, 40)]
    _check_outbox(engine, 40, set())


def test_a_segment_on_an_attribute_no_contact_has_any_more_is_refused_at_launch(
    engine, settings, workspace, now
):
    add_contact(engine, workspace, "+48600200500", now, first_name="A", plan="gold")
    draft = CampaignDraft(name="Gold", body="Hi {{ first_name }}", segment='plan = "gold"')
    campaign_id = create_campaign(engine, workspace, draft, actor="t", now=now)
    contacts = table_of(Contact)
    with engine.begin() as conn:
        conn.execute(update(contacts).values(attributes={"first_name": "A"}))

    with pytest.raises(UserError) as refused:
        _launch(engine, settings, workspace, campaign_id, now)

    assert "unknown field 'plan'" in refused.value.problem.message
    assert campaign_report(engine, workspace.id, campaign_id)["status"] == "draft"


def test_a_taken_link_token_fails_the_batch_write_as_an_integrity_error(engine, workspace, now):
    """The launch writes a batch again with new tokens when one collides: the bulk write
    (PostgreSQL: COPY) must say so as an INSERT would."""
    contact_ids = [add_contact(engine, workspace, f"+4860020060{i}", now) for i in range(2)]
    fixed = {"workspace_id": workspace.id, **FIXED}
    columns = ("contact_id", "phone", "body", "link_token")
    with engine.begin() as conn:
        insert_value_rows(conn, messages, columns, [(contact_ids[0], "+48600200600", "Hi",
                                                     "AAtoken00001")], fixed)  # fmt: skip
    with pytest.raises(IntegrityError) as refused, engine.begin() as conn:
        insert_value_rows(conn, messages, columns, [(contact_ids[1], "+48600200601", "Hi",
                                                     "AAtoken00001")], fixed)  # fmt: skip
    assert "link_token" in str(refused.value)
    with engine.connect() as conn:
        assert conn.execute(select(messages.c.phone)).all() == [("+48600200600",)]
