"""Properties of the inbound router over whole generated conversations, not single texts.

A few senders text one number: STOP, START and HELP in English and Polish, keywords
with and without automatic answers, a double opt-in JOIN and its YES, free text,
empty texts and floods, at generated intervals, while campaigns are dispatched to
everyone the router's state says may get promotions. The state between texts is
rebuilt the way the engine rebuilds it (replies in the last hour, texts in the
last minute counted over a sliding clock), so the properties hold across hours.

The model of what the person wants is written here, from the words they sent, not
from the router: a STOP word opts them out, whatever else is going on (a flood
included); START, a keyword that opts in, and a YES to a JOIN they sent after
their last STOP opt them back in. Then:

- no promotional text is dispatched to a sender whose model says opted out;
- no sender gets more automatic answers in any hour than the limit (the opt-out
  confirmation is exempt, and a STOP is confirmed at most once in a row).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from smscast.core.keywords import compliance_words
from smscast.core.router import (
    CampaignContact,
    ContactState,
    Decision,
    KeywordRule,
    Route,
    Routing,
    build_index,
    counts_against_guard,
    next_state,
    replies_of,
    route,
)
from smscast.core.rule_actions import ActionKind, ReplyKind, RuleAction

START = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
LIMIT = 3  # SMSCAST_AUTO_REPLY_LIMIT_PER_HOUR, low so that sequences reach it
FLOOD = 8  # SMSCAST_INBOUND_FLOOD_PER_MINUTE, low so that floods are cheap to generate
CONFIRM_WITHIN = timedelta(hours=24)
HOUR, MINUTE = timedelta(hours=1), timedelta(minutes=1)

STOPS = (
    "STOP",
    "Stop.",
    " stop ",
    "STOPALL",
    "stop all",
    "KONIEC",
    "NIE",
    "Rezygnuję",
    "WYPISZ MNIE",
    "unsubscribe",
    "STÓP",
)
STARTS = ("START", "start", "UNSTOP", "ZAPISZ")
HELPS = ("HELP", "Pomoc", "INFO", "help")
YESES = ("YES", "tak", "Y", "ok", "Potwierdzam")
KEYWORDS = ("PROMO", "promo kod", "GODZINY", "TAGME", "KLUB", "club", "JOIN", "join now")
FREE = (
    "Hello, is the shop open?",
    "Czy macie rozmiar M?",
    "",
    "   ",
    "stopper",
    "STOP IT NOW",
    "yes please call me",
    "😀",
)
TEXTS = STOPS + STARTS + HELPS + YESES + KEYWORDS + FREE


def _reply(text: str) -> RuleAction:
    return RuleAction(ActionKind.REPLY, text=text)


RULES = (
    KeywordRule(1, "PROMO", (_reply("Your code: SPRING"),)),
    KeywordRule(2, "GODZINY", (_reply("Open 9-17"), _reply("Sat 10-14"))),  # two answers
    KeywordRule(3, "TAGME", (RuleAction(ActionKind.TAG, name="fan"),)),  # no answer at all
    KeywordRule(
        4,
        "KLUB",
        (RuleAction(ActionKind.OPT_IN, purpose="promotional"), _reply("Welcome to the club")),
        aliases=("CLUB",),
    ),
    KeywordRule(
        5,
        "JOIN",
        (RuleAction(ActionKind.DOUBLE_OPT_IN, text="Reply YES to confirm", purpose="promotional"),),
    ),
)
THANKS = (_reply("Thanks for your answer!"),)  # a campaign's automatic answer to replies
DEFAULT_RULE = KeywordRule(6, None, (_reply("Thanks, we will get back to you"),))


def routing_for(default_answer: bool) -> Routing:
    rules = (*RULES, DEFAULT_RULE) if default_answer else RULES
    return Routing(
        compliance_words(["pl"]),
        build_index(rules),
        auto_reply_limit=LIMIT,
        flood_limit=FLOOD,
    )


def _normalised(text: str) -> str:
    return " ".join(text.replace(".", " ").split()).casefold()


STOP_WORDS = {_normalised(t) for t in STOPS} | {"stop", "stóp"}


@dataclass(frozen=True)
class Step:
    sender: int
    what: str  # an inbound text, or "<dispatch>" for a campaign sent to everyone
    after_s: int  # seconds since the previous step
    repeat: int = 1  # the same text, that many times in the same second (a flood)


steps = st.builds(
    Step,
    sender=st.integers(0, 2),
    what=st.sampled_from((*TEXTS, "<dispatch>")),
    after_s=st.sampled_from((0, 1, 20, 61, 600, 1800, 3601)),
    repeat=st.sampled_from((1, 1, 1, 2, 12)),
)


@dataclass
class Person:
    """What the sender wants (the model) and what the product did (the observations)."""

    wants_out: bool = False
    asked_join_at: datetime | None = None  # a JOIN prompt sent after their last STOP
    state: ContactState = field(default_factory=ContactState)
    inbound: list[datetime] = field(default_factory=list)
    guarded: list[datetime] = field(default_factory=list)  # automatic answers, as counted
    stop_confirmations: int = 0
    last_campaign: CampaignContact | None = None  # it asks for replies, and answers them


@dataclass
class Conversation:
    routing: Routing
    now: datetime = START
    people: dict[int, Person] = field(default_factory=lambda: defaultdict(Person))
    dispatched_to_opted_out: list[str] = field(default_factory=list)
    dispatched: int = 0

    def text(self, sender: int, text: str) -> Decision:
        person = self.people[sender]
        now = self.now
        state = ContactState(
            opted_out=person.state.opted_out,
            pending_opt_in_until=person.state.pending_opt_in_until,
            last_campaign=person.last_campaign,
            auto_replies_last_hour=sum(1 for t in person.guarded if t >= now - HOUR),
            inbound_last_minute=sum(1 for t in person.inbound if t >= now - MINUTE),
        )
        decision = route(text, state, self.routing, now)
        person.state = next_state(state, decision, now, CONFIRM_WITHIN)
        person.inbound.append(now)
        for answer in replies_of(decision):
            if counts_against_guard(answer):
                person.guarded.append(now)
            elif answer.reply_kind == ReplyKind.CONFIRM:
                person.stop_confirmations += 1
        self._update_model(person, text, decision, now)
        return decision

    def _update_model(self, person: Person, text: str, decision: Decision, now: datetime) -> None:
        words = _normalised(text)
        if words in STOP_WORDS:
            person.wants_out, person.asked_join_at = True, None
        elif words in {_normalised(t) for t in STARTS} or words.split(" ")[0] in ("klub", "club"):
            if decision.route != Route.FLOOD:
                person.wants_out = False
        elif words.split(" ")[0] == "join" and decision.route == Route.KEYWORD:
            if any(a.kind == ActionKind.DOUBLE_OPT_IN for a in decision.actions):
                person.asked_join_at = now  # the prompt went out: a YES now answers it
        elif decision.route == Route.CONFIRM_OPT_IN:
            asked = person.asked_join_at
            assert asked is not None and now <= asked + CONFIRM_WITHIN, (
                "a YES confirmed an opt-in the person was not asked for since their last STOP"
            )
            person.wants_out, person.asked_join_at = False, None

    def dispatch(self) -> None:
        """A promotional campaign to everyone the router's state lets have one."""
        for sender, person in self.people.items():
            if not person.state.opted_out:
                self.dispatched += 1
                person.last_campaign = CampaignContact(self.dispatched, self.now, True, THANKS)
                if person.wants_out:
                    self.dispatched_to_opted_out.append(f"sender {sender} at {self.now:%H:%M:%S}")


def play(steps_: list[Step], default_answer: bool) -> Conversation:
    conversation = Conversation(routing_for(default_answer))
    for step in steps_:
        conversation.now += timedelta(seconds=step.after_s)
        if step.what == "<dispatch>":
            conversation.dispatch()
            continue
        for _ in range(step.repeat):
            conversation.text(step.sender, step.what)
    return conversation


def most_in_an_hour(times: list[datetime]) -> int:
    return max((sum(1 for t in times if end - HOUR <= t <= end) for end in times), default=0)


@settings(
    max_examples=1000, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(st.lists(steps, max_size=40), st.booleans())
# Found by this test: a STOP that arrives in a flood was set aside with the flood, and
# a YES after a STOP confirmed the JOIN the person had sent before it.
@example([Step(0, "hello", 0, repeat=12), Step(0, "STOP", 0), Step(0, "<dispatch>", 1)], False)
@example(
    [Step(0, "JOIN", 0), Step(0, "STOP", 5), Step(0, "YES", 5), Step(0, "<dispatch>", 1)], False
)
def test_no_promotion_to_an_opted_out_sender_and_no_more_answers_than_the_limit(
    steps_: list[Step], default_answer: bool
) -> None:
    conversation = play(steps_, default_answer)
    assert conversation.dispatched_to_opted_out == []
    for sender, person in conversation.people.items():
        assert most_in_an_hour(person.guarded) <= LIMIT, sender
        stops = sum(1 for s in steps_ if s.sender == sender and _normalised(s.what) in STOP_WORDS)
        assert person.stop_confirmations <= stops


def test_the_properties_are_not_vacuous() -> None:
    """The generated conversations do reach the limits the properties are about."""
    flood = [Step(0, "PROMO", 0, repeat=12), Step(0, "<dispatch>", 1)]
    busy = play(flood, default_answer=False).people[0]
    assert len(busy.guarded) == LIMIT  # twelve answers asked for, the limit sent
    assert len(busy.inbound) == 12
    stop_join_yes = [Step(1, "STOP", 0), Step(1, "JOIN", 1), Step(1, "YES", 1)]
    back_in = play([*stop_join_yes, Step(1, "<dispatch>", 1)], default_answer=True)
    assert back_in.dispatched == 1 and back_in.dispatched_to_opted_out == []
