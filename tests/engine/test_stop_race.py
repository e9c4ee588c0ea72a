"""STOP while a campaign to that person is being dispatched: 1,000 randomised
interleavings of the real dispatcher's steps with the opt-out, 0 violations.

The dispatcher's database step (record results, claim, re-check consent and quiet
hours) runs on a real database; the connector at the edge is an in-process fake
that records, with a global sequence number, every message handed to it (the
moment the claim that passed the checks committed) and answers accepted or
"throttled, retry". The STOP goes through `handle_inbound`. The property: no
promotional message to a contact is handed to the connector after the
transaction recording that contact's opt-out committed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from mo_harness import add_connector
from sqlalchemy import Engine, insert, update

from smscast.channels.base import (
    ConnectorState,
    InboundMessage,
    OutgoingMessage,
    SubmitOutcome,
    SubmitResult,
)
from smscast.config import Settings
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.db_thread import DbThread
from smscast.engine.inbound.numbers import add_number
from smscast.engine.inbound.receive import handle_inbound
from smscast.engine.sending.dispatcher import Dispatcher, DispatchLimits, _Done
from smscast.engine.sending.outbox import Claimed, RetryPolicy, enqueue_messages
from smscast.store.messaging_models import Campaign, Connector
from smscast.store.models import ConsentState, Contact, table_of

SHORT = "4000"
CONTACTS_PER_ROUND = 100
ROUNDS = 10  # 1,000 interleavings: one per contact, ten seeds
WORKER = "race-worker"


@dataclass
class EdgeConnector:
    """The carrier side, in process: remembers what was handed over, and when."""

    name: str = "fake"
    handed: list[tuple[int, int]] = field(default_factory=list)  # (sequence, message id)

    def state(self) -> ConnectorState:
        return ConnectorState(self.name, True)

    async def send(self, batch: list[OutgoingMessage]) -> list[SubmitResult]:
        raise AssertionError("the test hands batches itself")


@dataclass
class Round:
    engine: Engine
    settings: Settings
    connector_id: int
    dispatcher: Dispatcher
    edge: EdgeConnector
    rng: random.Random
    clock: list[datetime]
    sequence: int = 0
    stop_at: dict[int, int] = field(default_factory=dict)  # contact → sequence of its STOP
    kind_of: dict[int, tuple[int, str]] = field(
        default_factory=dict
    )  # message → (contact, purpose)
    pending: list[list[Claimed]] = field(default_factory=list)

    def tick(self) -> int:
        self.sequence += 1
        self.clock[0] += timedelta(seconds=1)
        return self.sequence

    def claim(self) -> None:
        batch = self.dispatcher._step([], self.rng.randint(1, 12))
        at = self.tick()  # the claim that passed the checks has committed: handed now
        self.edge.handed.extend((at, m.id) for m in batch)
        if batch:
            self.pending.append(batch)

    def answer(self) -> None:
        if not self.pending:
            return
        batch = self.pending.pop(self.rng.randrange(len(self.pending)))
        results = [
            SubmitResult(m.id, SubmitOutcome.ACCEPTED, (f"c{m.id}",))
            if self.rng.random() < 0.7
            else SubmitResult(m.id, SubmitOutcome.TEMPORARY, (), "throttled", "throttled", 0.0)
            for m in batch
        ]
        self.dispatcher._step([_Done({m.id: m for m in batch}, results)], 0)
        self.tick()

    def stop(self, contact_id: int, phone: str) -> None:
        text = self.rng.choice(["STOP", "Stop.", " stop ", "STÓP", "NIE", "unsubscribe"])
        message = InboundMessage(phone.lstrip("+"), SHORT, text, self.clock[0])
        result = handle_inbound(self.engine, self.settings, self.connector_id, message)
        assert result.route == "opt_out"
        self.stop_at[contact_id] = self.tick()  # handle_inbound returned: committed


def seed_round(
    engine: Engine, workspace: WorkspaceRef, number_id: int, connector_id: int, now: datetime,
    round_no: int,
) -> tuple[dict[int, str], dict[int, tuple[int, str]]]:  # fmt: skip
    """Opted-in contacts, each with three promotional messages (three campaigns) and an
    informational one queued."""
    contacts, states, campaigns = table_of(Contact), table_of(ConsentState), table_of(Campaign)
    phones: dict[int, str] = {}
    kinds: dict[int, tuple[int, str]] = {}
    with engine.begin() as conn:
        campaign_ids = [
            conn.execute(insert(campaigns).values(
                workspace_id=workspace.id, name=f"r{round_no}c{i}", status="running",
                purpose="promotional", number_id=number_id, schedule={}, options={},
                excluded={}, created_at=now,
            ).returning(campaigns.c.id)).scalar_one()
            for i in range(3)
        ]  # fmt: skip
        rows: list[dict[str, Any]] = []
        for i in range(CONTACTS_PER_ROUND):
            phone = f"+48601{round_no:02d}{i:04d}"
            contact_id = conn.execute(insert(contacts).values(
                workspace_id=workspace.id, phone=phone, country="PL", attributes={},
                language="pl", timezone="Europe/Warsaw", email=None, tags=[], created_at=now,
                updated_at=now,
            ).returning(contacts.c.id)).scalar_one()  # fmt: skip
            conn.execute(insert(states).values(
                contact_id=contact_id, channel="sms", purpose="promotional", status="opted_in",
                event_id=0, changed_at=now,
            ))  # fmt: skip
            phones[contact_id] = phone
            common = {"workspace_id": workspace.id, "contact_id": contact_id, "phone": phone,
                      "number_id": number_id, "connector_id": connector_id, "created_at": now,
                      "send_after": now}  # fmt: skip
            rows += [{**common, "kind": "campaign", "purpose": "promotional",
                      "campaign_id": c, "body": f"Offer {c}"} for c in campaign_ids]  # fmt: skip
            rows.append({**common, "kind": "auto_reply", "purpose": "informational",
                         "campaign_id": None, "body": "Your order shipped"})  # fmt: skip
        ids = enqueue_messages(conn, rows)
        for message_id, row in zip(ids, rows, strict=True):
            kinds[message_id] = (row["contact_id"], row["purpose"])
    return phones, kinds


@pytest.mark.sqlite_only  # interleavings run one step at a time: the database kind adds nothing
def test_no_promotional_message_leaves_after_the_opt_out_committed(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    connector_id = add_connector(engine, workspace, now)
    number = add_number(engine, workspace, SHORT, connector="sim", actor="t", now=now)
    with engine.begin() as conn:
        connectors = table_of(Connector)
        conn.execute(update(connectors).values(lease_owner=WORKER,
                                               lease_until=now + timedelta(days=365)))  # fmt: skip
    db = DbThread(engine)
    violations: list[str] = []
    interleavings = 0
    late_blocked = 0
    try:
        for round_no in range(ROUNDS):
            rng = random.Random(round_no)
            clock = [now + timedelta(hours=round_no)]
            edge = EdgeConnector()
            retry = RetryPolicy(first_s=0.5, max_s=2.0)
            limits = DispatchLimits(12, 1)
            dispatcher = Dispatcher(db, edge, connector_id, WORKER, limits, retry,
                                    clock=lambda c=clock: c[0])  # fmt: skip
            race = Round(engine, settings, connector_id, dispatcher, edge, rng, clock)
            phones, race.kind_of = seed_round(engine, workspace, number.id, connector_id,
                                              clock[0], round_no)  # fmt: skip
            order = list(phones)
            rng.shuffle(order)
            while order or race.pending:
                step = rng.random()
                if order and step < 0.3:
                    contact_id = order.pop()
                    race.stop(contact_id, phones[contact_id])
                elif step < 0.7:
                    race.claim()
                else:
                    race.answer()
            idle = 0
            while idle < 3:  # what is still queued (retries) keeps being dispatched
                handed = len(edge.handed)
                race.claim()
                race.answer()
                idle = idle + 1 if len(edge.handed) == handed and not race.pending else 0
            interleavings += len(phones)
            answers = {m for _, m in edge.handed if m not in race.kind_of}
            assert len(answers) == len(phones)  # each STOP confirmed once, despite the opt-out
            for at, message_id in edge.handed:
                if message_id not in race.kind_of:
                    continue
                contact_id, purpose = race.kind_of[message_id]
                stopped = race.stop_at.get(contact_id)
                if purpose == "promotional" and stopped is not None and at > stopped:
                    violations.append(
                        f"round {round_no}: message {message_id} to contact {contact_id} "
                        f"handed at {at}, opt-out at {stopped}"
                    )
            handed_ids = {m for _, m in edge.handed}
            late_blocked += sum(
                1
                for m, (c, p) in race.kind_of.items()
                if p == "promotional" and m not in handed_ids
            )
    finally:
        db.close()
    assert interleavings == 1000
    assert violations == []
    assert late_blocked > 0  # the STOPs really raced the dispatch: some offers never left
