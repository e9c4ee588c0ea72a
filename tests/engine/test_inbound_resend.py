"""A text the carrier sends again (we stored it, but its acknowledgement never reached
the carrier) is stored and answered once; real repeats are still answered."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from mo_harness import SHORT, mo_pipe, outbox, setup_numbers
from sqlalchemy import Engine, func, select

from smscast.channels.base import InboundMessage
from smscast.config import Settings
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.inbound.keyword_rules import add_keyword_rule
from smscast.engine.inbound.receive import handle_inbound, handle_inbound_batch
from smscast.store.messaging_models import Message
from smscast.store.models import table_of

PHONE = "+48600100200"


def inbound_rows(engine: Engine) -> int:
    messages = table_of(Message)
    with engine.connect() as conn:
        query = select(func.count()).select_from(messages).where(messages.c.direction == "in")
        return int(conn.execute(query).scalar_one())


def pizza_rule(engine: Engine, workspace: WorkspaceRef, now: datetime) -> None:
    add_keyword_rule(engine, workspace, SHORT, "PIZZA", [{"type": "reply", "text": "PIZZA10"}],
                     actor="t", now=now)  # fmt: skip


async def test_unacknowledged_text_sent_again_after_a_reconnect_is_answered_once(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    connector_id, _, _ = setup_numbers(engine, workspace, now)
    pizza_rule(engine, workspace, now)
    async with mo_pipe(engine, settings, connector_id) as mo:
        first = await mo.receive(PHONE, SHORT, "pizza")
        stored = handle_inbound(engine, settings, connector_id, first)
        mo.received.clear()  # committed, then the connection dies before the ack
        assert mo.sim.drop_connections() == 1
        async with asyncio.timeout(15):
            again = await mo.inbox.get()
        mo.received.append(again)
        assert (again.sender, again.text) == (first.sender, first.text)
        resent = handle_inbound(engine, settings, connector_id, again)
        mo.acknowledge()
        assert resent.route == "duplicate"
        assert resent.message_id == stored.message_id
        assert resent.replies == 0
    assert stored.replies == 1
    assert inbound_rows(engine) == 1
    assert [m.body for m in outbox(engine)] == ["PIZZA10"]


async def test_carrier_ids_match_at_any_age_and_other_texts_are_still_answered(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    connector_id, _, _ = setup_numbers(engine, workspace, now)
    pizza_rule(engine, workspace, now)

    def text(at: datetime, ids: tuple[str, ...] = ()) -> InboundMessage:
        return InboundMessage(PHONE, SHORT, "pizza", at, carrier_ids=ids)

    first = handle_inbound(engine, settings, connector_id, text(now, ("SM1",)))
    late = now + timedelta(hours=3)  # a provider retrying its webhook hours later
    again = handle_inbound(engine, settings, connector_id, text(late, ("SM1",)))
    other = handle_inbound(engine, settings, connector_id, text(late, ("SM2",)))
    assert (first.replies, again.route, again.message_id) == (1, "duplicate", first.message_id)
    assert other.route != "duplicate" and other.replies == 1
    assert inbound_rows(engine) == 2


async def test_same_words_without_ids_count_as_a_resend_only_within_the_window(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    connector_id, _, _ = setup_numbers(engine, workspace, now)
    pizza_rule(engine, workspace, now)
    window = timedelta(seconds=settings.inbound_resend_window_s)

    def text(at: datetime, link: str, words: str = "pizza") -> InboundMessage:
        return InboundMessage(PHONE, SHORT, words, at, link=link)

    first = handle_inbound(engine, settings, connector_id, text(now, "bind1"))
    results: list[Any] = handle_inbound_batch(engine, settings, connector_id, [
        text(now + timedelta(seconds=5), "bind2"), text(now + timedelta(seconds=6), "bind2",
                                                        "PIZZA!"),
    ])  # fmt: skip
    repeat = handle_inbound(engine, settings, connector_id, text(now + timedelta(seconds=9),
                                                                 "bind2"))  # fmt: skip
    later = handle_inbound(engine, settings, connector_id, text(now + window * 2, "bind3"))
    assert [r.route == "duplicate" for r in results] == [True, False]
    assert results[0].message_id == first.message_id
    assert repeat.route != "duplicate" and repeat.replies == 1  # same connection: typed again
    assert later.route != "duplicate" and later.replies == 1
    assert inbound_rows(engine) == 4
    assert len(outbox(engine)) == 4


async def test_carrier_ids_sent_twice_in_one_batch_are_routed_once(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    connector_id, _, _ = setup_numbers(engine, workspace, now)
    pizza_rule(engine, workspace, now)
    message = InboundMessage(PHONE, SHORT, "pizza", now, carrier_ids=("SM9",))
    results = handle_inbound_batch(engine, settings, connector_id, [message, message])
    assert [r.route == "duplicate" for r in results] == [False, True]
    assert results[1].message_id == results[0].message_id
    assert len(outbox(engine)) == 1
