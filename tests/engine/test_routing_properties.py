"""Inbound routing and dispatch on a real database, over generated conversations.

The engine-level twin of tests/core/test_router_properties.py: three contacts who
had agreed to promotions text a short code (STOP, START, HELP in English and Polish,
keywords with and without answers, a double opt-in JOIN and its YES, free text,
floods carried as one batch) through the real `handle_inbound_batch`, while
promotional campaigns are created and launched with the real use cases and the
real dispatcher's database step claims, re-checks and hands messages to an
in-process connector. The clock is passed everywhere.

The model of what each person wants comes from the words they sent (a STOP word
opts them out, always; START, the KLUB keyword, or a YES to a JOIN sent after their
last STOP opts them in). Properties:

- no promotional text is handed to the connector for a contact whose model says
  opted out, and the stored consent never says "opted in" against the model;
- no contact is queued (or handed) more automatic answers in any hour than
  `SMSCAST_AUTO_REPLY_LIMIT_PER_HOUR`; the opt-out confirmation is exempt.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from campaign_data import add_contact
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from mo_harness import add_connector
from sqlalchemy import Engine, select, update

from smscast.channels.base import ConnectorState, InboundMessage, OutgoingMessage, SubmitResult
from smscast.channels.base import SubmitOutcome as Outcome
from smscast.config import Settings
from smscast.engine.accounts.workspaces import WorkspaceRef, create_workspace
from smscast.engine.campaigns.launch import launch_campaign
from smscast.engine.campaigns.lifecycle import CampaignDraft, create_campaign
from smscast.engine.db_thread import DbThread
from smscast.engine.inbound.keyword_rules import add_keyword_rule
from smscast.engine.inbound.numbers import add_number
from smscast.engine.inbound.receive import handle_inbound_batch
from smscast.engine.sending.dispatcher import Dispatcher, DispatchLimits, _Done
from smscast.engine.sending.outbox import RetryPolicy
from smscast.store.messaging_models import Connector, Message
from smscast.store.models import ConsentState, table_of

LIMIT = 3  # SMSCAST_AUTO_REPLY_LIMIT_PER_HOUR, low so that conversations reach it
FLOOD = 6  # SMSCAST_INBOUND_FLOOD_PER_MINUTE
HOUR = timedelta(hours=1)
CONFIRM_WITHIN = timedelta(hours=24)
WORKER = "property-worker"
GUARDED_KINDS = ("auto_reply", "help", "confirm")

STOPS = ("STOP", "Stop.", "stopall", "KONIEC", "NIE", "Rezygnuję", "unsubscribe")
STARTS = ("START", "ZAPISZ")
TEXTS = (
    *STOPS,
    *STARTS,
    "HELP",
    "Pomoc",
    "YES",
    "tak",
    "PROMO",
    "GODZINY",
    "TAGME",
    "KLUB",
    "JOIN",
    "Czy macie rozmiar M?",
    "hello",
)
RULES: tuple[tuple[str, list[dict[str, Any]]], ...] = (
    ("PROMO", [{"type": "reply", "text": "Your code: SPRING"}]),
    ("GODZINY", [{"type": "reply", "text": "Open 9-17"}, {"type": "reply", "text": "Sat 10-14"}]),
    ("TAGME", [{"type": "tag", "name": "fan"}]),
    (
        "KLUB",
        [
            {"type": "opt_in", "purpose": "promotional"},
            {"type": "reply", "text": "Welcome to the club"},
        ],
    ),
    ("JOIN", [{"type": "double_opt_in", "purpose": "promotional", "text": "Reply YES to confirm"}]),
)


def _words(text: str) -> str:
    return " ".join(text.replace(".", " ").split()).casefold()


STOP_WORDS = {_words(t) for t in STOPS}
START_WORDS = {_words(t) for t in STARTS} | {"klub"}


@dataclass(frozen=True)
class Step:
    sender: int
    what: str  # a text, "<launch>" (a promotional campaign to all) or "<dispatch>"
    after_s: int
    repeat: int = 1  # that many copies in one batch: a flood


steps = st.builds(
    Step,
    sender=st.integers(0, 2),
    what=st.sampled_from((*TEXTS, "<launch>", "<dispatch>", "<dispatch>")),
    after_s=st.sampled_from((0, 1, 30, 61, 900, 1801)),
    repeat=st.sampled_from((1, 1, 1, 8)),
)


@dataclass
class Person:
    phone: str
    contact_id: int
    wants_out: bool = False
    asked_join_at: datetime | None = None
    answers: list[tuple[datetime, int]] = field(default_factory=list)  # guarded, queued


class EdgeConnector:
    """The carrier side: the dispatcher's `_step` is driven by hand, never `send`."""

    name = "edge"

    def state(self) -> ConnectorState:
        return ConnectorState(self.name, True)

    async def send(self, batch: list[OutgoingMessage]) -> list[SubmitResult]:
        raise AssertionError("the test hands batches itself")


_examples = itertools.count(1)


@dataclass
class World:
    """One fresh workspace, short code, connector and three opted-in contacts."""

    engine: Engine
    settings: Settings
    workspace: WorkspaceRef
    connector_id: int
    number: str
    people: list[Person]
    dispatcher: Dispatcher
    clock: list[datetime]
    violations: list[str] = field(default_factory=list)
    handed_promotions: int = 0
    seen_message_id: int = 0
    carrier_ids: itertools.count[int] = field(default_factory=itertools.count)

    @classmethod
    def make(cls, engine: Engine, settings: Settings, db: DbThread, now: datetime) -> World:
        n = next(_examples)
        workspace = create_workspace(engine, f"Shop {n}", "PL", "Europe/Warsaw", actor="t", now=now)
        connector_id = add_connector(engine, workspace, now, name="edge")
        with engine.begin() as conn:
            conn.execute(
                update(table_of(Connector))
                .where(table_of(Connector).c.id == connector_id)
                .values(lease_owner=WORKER, lease_until=now + timedelta(days=365))
            )
        number = f"7{n:03d}"
        add_number(engine, workspace, number, connector="edge", actor="t", now=now)
        for keyword, actions in RULES:
            add_keyword_rule(engine, workspace, number, keyword, actions, actor="t", now=now)
        people = []
        for i in range(3):
            phone = f"+4860{n:04d}{i:03d}"
            people.append(Person(phone, add_contact(engine, workspace, phone, now)))
        clock = [now]
        dispatcher = Dispatcher(
            db,
            EdgeConnector(),
            connector_id,
            WORKER,
            DispatchLimits(50, 1),
            RetryPolicy(first_s=1, max_s=5),
            clock=lambda: clock[0],
        )
        return cls(engine, settings, workspace, connector_id, number, people, dispatcher, clock)

    # --- the steps --------------------------------------------------------------------

    def text(self, person: Person, text: str, repeat: int) -> None:
        now = self.clock[0]
        batch = [
            InboundMessage(
                person.phone.lstrip("+"),
                self.number,
                text,
                now,
                carrier_ids=(f"mo{next(self.carrier_ids)}",),
            )
            for _ in range(repeat)
        ]
        results = handle_inbound_batch(self.engine, self.settings, self.connector_id, batch)
        opt_out_confirmations = sum(r.replies for r in results if r.route == "opt_out")
        answered = self._new_answers(person) - opt_out_confirmations
        person.answers += [(now, 1)] * answered
        self._update_model(person, text, [r.route for r in results], answered, now)

    def _new_answers(self, person: Person) -> int:
        messages = table_of(Message)
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(messages.c.id, messages.c.contact_id).where(
                    messages.c.id > self.seen_message_id,
                    messages.c.workspace_id == self.workspace.id,
                    messages.c.direction == "out",
                    messages.c.kind.in_(GUARDED_KINDS),
                )
            ).all()
        if rows:
            self.seen_message_id = max(self.seen_message_id, *(r.id for r in rows))
        assert all(r.contact_id == person.contact_id for r in rows)
        return len(rows)

    def _update_model(
        self, person: Person, text: str, routes: list[str], answered: int, now: datetime
    ) -> None:
        words = _words(text)
        if words in STOP_WORDS:
            person.wants_out, person.asked_join_at = True, None
        elif words in START_WORDS and any(r != "flood" for r in routes):
            person.wants_out = False
        elif words == "join" and answered:
            person.asked_join_at = now  # the YES prompt went out
        elif words in ("yes", "tak") and self._opted_in(person):
            asked = person.asked_join_at
            if asked is not None and now <= asked + CONFIRM_WITHIN:
                person.wants_out, person.asked_join_at = False, None
        if person.wants_out and self._opted_in(person):
            self.violations.append(f"{person.phone} opted in by {text!r} at {now:%H:%M:%S}")

    def _opted_in(self, person: Person) -> bool:
        states = table_of(ConsentState)
        with self.engine.connect() as conn:
            status = conn.execute(
                select(states.c.status).where(
                    states.c.contact_id == person.contact_id,
                    states.c.channel == "sms",
                    states.c.purpose == "promotional",
                )
            ).scalar()
        return status == "opted_in"

    def launch(self) -> None:
        now = self.clock[0]
        draft = CampaignDraft(
            name=f"Sale {now:%H%M%S%f}",
            body="Sale! -20% today, tell us what you think",
            from_number=self.number,
            expects_reply=True,  # free text after it is a reply, answered automatically
            extra={"reply_actions": [{"type": "reply", "text": "Thanks for your answer!"}]},
        )
        campaign_id = create_campaign(self.engine, self.workspace, draft, actor="t", now=now)
        launch_campaign(
            self.engine,
            self.settings,
            self.workspace,
            campaign_id,
            actor="t",
            now=now,
            rng=random.Random(0),
        )

    def dispatch(self) -> None:
        """Claims what is due and hands it over, answering each accepted at once."""
        by_phone = {p.phone: p for p in self.people}
        while batch := self.dispatcher._step([], 50):
            for message in batch:
                person = by_phone[message.phone]
                if message.purpose == "promotional":
                    self.handed_promotions += 1
                    if person.wants_out:
                        self.violations.append(
                            f"promotion {message.id} handed to {person.phone} at "
                            f"{self.clock[0]:%H:%M:%S}, who had texted STOP"
                        )
            results = [SubmitResult(m.id, Outcome.ACCEPTED, (f"c{m.id}",)) for m in batch]
            self.dispatcher._step([_Done({m.id: m for m in batch}, results)], 0)


def _most_in_an_hour(times: list[datetime]) -> int:
    return max((sum(1 for t in times if end - HOUR <= t <= end) for end in times), default=0)


def play(world: World, steps_: list[Step]) -> None:
    for step in steps_:
        world.clock[0] += timedelta(seconds=step.after_s)
        if step.what == "<launch>":
            world.launch()
        elif step.what == "<dispatch>":
            world.dispatch()
        else:
            world.text(world.people[step.sender], step.what, step.repeat)
    world.dispatch()
    for person in world.people:
        assert _most_in_an_hour([t for t, _ in person.answers]) <= LIMIT, person.phone
    assert world.violations == []


@pytest.fixture
def db(engine: Engine) -> Any:
    thread = DbThread(engine)
    yield thread
    thread.close()


@pytest.mark.sqlite_only  # one step at a time: the database kind adds nothing but minutes
@settings(
    max_examples=120,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(steps, max_size=18))
@example(
    [
        Step(0, "JOIN", 0),
        Step(0, "STOP", 5),
        Step(0, "tak", 5),
        Step(0, "<launch>", 1),
        Step(0, "<dispatch>", 1),
    ]
)
@example(
    [
        Step(1, "hello", 0, repeat=8),
        Step(1, "STOP", 1),
        Step(1, "<launch>", 1),
        Step(1, "<dispatch>", 1),
    ]
)
def test_no_promotion_to_an_opted_out_contact_and_no_more_answers_than_the_limit(
    engine: Engine, settings: Settings, db: DbThread, now: datetime, steps_: list[Step]
) -> None:
    limited = settings.model_copy(
        update={"auto_reply_limit_per_hour": LIMIT, "inbound_flood_per_minute": FLOOD}
    )
    play(World.make(engine, limited, db, now), steps_)


@pytest.mark.sqlite_only
def test_the_engine_properties_are_not_vacuous(
    engine: Engine, settings: Settings, db: DbThread, now: datetime
) -> None:
    """A launch reaches opted-in contacts, and a keyword flood reaches the limit."""
    limited = settings.model_copy(
        update={"auto_reply_limit_per_hour": LIMIT, "inbound_flood_per_minute": FLOOD}
    )
    world = World.make(engine, limited, db, now)
    flood_then_campaign = [
        Step(0, "PROMO", 0, repeat=5),
        Step(1, "<launch>", 1),
        Step(1, "<dispatch>", 1),
        Step(1, "hello", 1),  # a reply to the campaign: answered by its reply actions
    ]
    play(world, flood_then_campaign)
    assert world.handed_promotions == 3
    assert len(world.people[0].answers) == LIMIT
    assert len(world.people[1].answers) == 1
