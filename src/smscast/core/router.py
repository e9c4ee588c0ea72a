"""The inbound router: from (text, the number's rules, the contact's state) to a decision.

Order of precedence, first match wins:

1. a flood from one sender is set aside (nothing is answered), except a STOP from a
   sender not yet opted out: an opt-out is honoured whatever else the sender sends;
2. compliance keywords (STOP, START, HELP and their equivalents) — always, whatever
   the number's rules say, because the law and the carriers require it;
3. the answer to a pending double opt-in (YES within its deadline);
4. the number's keyword rules, most specific first: a rule matching the whole text
   beats one matching its first words, a longer keyword beats a shorter one, the
   keyword itself beats an alias, and an older rule beats a newer one;
5. the number's default rule;
6. a reply to a campaign that asked for one (the campaign that last texted the
   contact from this number, within the reply window);
7. otherwise a support ticket.

The engine carries the decision out; `next_state` says how the contact's state moves,
so a batch routes each message against the state its predecessors left behind.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from smscast.core.keywords import (
    CONFIRM_WORDS,
    ComplianceKind,
    ComplianceWords,
    default_reply,
    normalise,
)
from smscast.core.rule_actions import ActionKind, ReplyKind, RuleAction


class Route(enum.StrEnum):
    EMPTY = "empty"
    FLOOD = "flood"
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    CONFIRM_OPT_IN = "confirm_opt_in"
    KEYWORD = "keyword"
    DEFAULT = "default"
    CAMPAIGN_REPLY = "campaign_reply"
    TICKET = "ticket"


REPLY_ROUTES = (Route.KEYWORD, Route.DEFAULT, Route.CAMPAIGN_REPLY, Route.TICKET)
"""Routes of a text a person wrote to answer: what `replied()`, the A/B reply metric and
a campaign's `replies` count. STOP, START, HELP and a double opt-in's YES are compliance
words, and an empty or flooding text is no answer."""


class MatchMode(enum.StrEnum):
    EXACT = "exact"  # the whole text is the keyword (or an alias)
    FIRST_WORD = "first_word"  # the text begins with the keyword's words


@dataclass(frozen=True, slots=True)
class KeywordRule:
    """One rule of a number. `keyword` None makes it the number's default rule."""

    id: int
    keyword: str | None
    actions: tuple[RuleAction, ...]
    aliases: tuple[str, ...] = ()
    match: MatchMode = MatchMode.FIRST_WORD
    campaign_id: int | None = None


@dataclass(frozen=True, slots=True)
class CampaignContact:
    """The campaign that last texted this contact from this number."""

    campaign_id: int
    sent_at: datetime
    asks_reply: bool = False
    reply_actions: tuple[RuleAction, ...] = ()


@dataclass(frozen=True, slots=True)
class ContactState:
    """What routing needs to know of the sender, as of this message."""

    opted_out: bool = False
    language: str | None = None
    pending_opt_in_until: datetime | None = None  # a double opt-in awaiting YES
    last_campaign: CampaignContact | None = None
    auto_replies_last_hour: int = 0
    inbound_last_minute: int = 0


@dataclass(frozen=True, slots=True)
class RuleIndex:
    """A number's rules arranged for lookup by the first word of a text."""

    by_first_word: Mapping[str, tuple[tuple[tuple[str, ...], bool, KeywordRule], ...]]
    default: KeywordRule | None


@dataclass(frozen=True, slots=True)
class Routing:
    """Everything about the number and workspace that routing reads."""

    compliance: ComplianceWords
    rules: RuleIndex
    language: str = "en"
    replies: Mapping[str, str] = field(default_factory=dict)  # overrides of default_reply
    reply_window: timedelta = timedelta(hours=72)
    auto_reply_limit: int = 5  # automatic answers per contact per hour (the loop guard)
    flood_limit: int = 30  # inbound texts per sender per minute before they are set aside


@dataclass(frozen=True, slots=True)
class Decision:
    route: Route
    normalised: str
    actions: tuple[RuleAction, ...] = ()
    keyword: str | None = None
    rule_id: int | None = None
    campaign_id: int | None = None  # the campaign the text answers, whatever the route
    rest: str = ""  # what follows the keyword
    suppressed: int = 0  # automatic answers held back by the loop guard


def build_index(rules: Iterable[KeywordRule]) -> RuleIndex:
    """Arranges rules for `route`; build once per number, not per message."""
    by_word: dict[str, list[tuple[tuple[str, ...], bool, KeywordRule]]] = {}
    default: KeywordRule | None = None
    for rule in sorted(rules, key=lambda r: r.id):
        if rule.keyword is None:
            default = default or rule
            continue
        for position, word in enumerate((rule.keyword, *rule.aliases)):
            words = tuple(normalise(word).split(" "))
            if words[0]:
                by_word.setdefault(words[0], []).append((words, position == 0, rule))
    return RuleIndex({k: tuple(v) for k, v in by_word.items()}, default)


def route(text: str, state: ContactState, routing: Routing, now: datetime) -> Decision:
    """Decides what to do with one inbound text (see the module docstring)."""
    normalised = normalise(text)
    campaign = _campaign_in_window(state, routing, now)
    campaign_id = campaign.campaign_id if campaign else None
    if not text.strip():
        return Decision(Route.EMPTY, normalised, campaign_id=campaign_id)
    kind = routing.compliance.kind_of(normalised)
    if state.inbound_last_minute >= routing.flood_limit and (
        kind != ComplianceKind.OPT_OUT or state.opted_out
    ):
        return Decision(Route.FLOOD, normalised, campaign_id=campaign_id)
    if kind is not None:
        decision = _compliance(kind, normalised, state, routing, campaign_id)
    elif (
        state.pending_opt_in_until is not None
        and now <= state.pending_opt_in_until
        and normalised in CONFIRM_WORDS
    ):
        reply = _reply(routing, state, "confirmed", ReplyKind.CONFIRM)
        decision = Decision(
            Route.CONFIRM_OPT_IN,
            normalised,
            (RuleAction(ActionKind.CONFIRM_OPT_IN), reply),
            campaign_id=campaign_id,
        )
    else:
        decision = _by_rules(normalised, routing.rules, campaign, campaign_id)
    return _loop_guard(decision, state, routing)


def _compliance(
    kind: ComplianceKind,
    normalised: str,
    state: ContactState,
    routing: Routing,
    campaign_id: int | None,
) -> Decision:
    if kind == ComplianceKind.OPT_OUT:
        actions: tuple[RuleAction, ...] = (RuleAction(ActionKind.OPT_OUT, purpose="all"),)
        if not state.opted_out:  # confirmed once; a second STOP gets no second text
            confirm = _reply(routing, state, "opt_out", ReplyKind.CONFIRM)
            actions += (replace(confirm, guarded=False),)
        return Decision(Route.OPT_OUT, normalised, actions, normalised, campaign_id=campaign_id)
    if kind == ComplianceKind.OPT_IN:
        actions = (
            RuleAction(ActionKind.OPT_IN, purpose="all"),
            _reply(routing, state, "opt_in", ReplyKind.CONFIRM),
        )
        return Decision(Route.OPT_IN, normalised, actions, normalised, campaign_id=campaign_id)
    reply = _reply(routing, state, "help", ReplyKind.HELP)
    return Decision(Route.HELP, normalised, (reply,), normalised, campaign_id=campaign_id)


def _reply(routing: Routing, state: ContactState, what: str, kind: ReplyKind) -> RuleAction:
    template = routing.replies.get(what) or default_reply(state.language or routing.language, what)
    return RuleAction(ActionKind.REPLY, text=template, reply_kind=kind)


def _by_rules(
    normalised: str,
    rules: RuleIndex,
    campaign: CampaignContact | None,
    campaign_id: int | None,
) -> Decision:
    words = normalised.split(" ")
    best: tuple[tuple[bool, int, bool, int], KeywordRule, tuple[str, ...]] | None = None
    for keyword_words, primary, rule in rules.by_first_word.get(words[0], ()):
        size = len(keyword_words)
        if tuple(words[:size]) != keyword_words:
            continue
        exact = size == len(words)
        if rule.match == MatchMode.EXACT and not exact:
            continue
        score = (exact, size, primary, -rule.id)
        if best is None or score > best[0]:
            best = (score, rule, keyword_words)
    if best is not None:
        _, rule, keyword_words = best
        return Decision(
            Route.KEYWORD,
            normalised,
            rule.actions,
            keyword=" ".join(keyword_words),
            rule_id=rule.id,
            campaign_id=rule.campaign_id or campaign_id,
            rest=" ".join(words[len(keyword_words) :]),
        )
    if rules.default is not None:
        default = rules.default
        return Decision(
            Route.DEFAULT,
            normalised,
            default.actions,
            rule_id=default.id,
            campaign_id=default.campaign_id or campaign_id,
            rest=normalised,
        )
    if campaign is not None and campaign.asks_reply:
        return Decision(
            Route.CAMPAIGN_REPLY,
            normalised,
            campaign.reply_actions,
            campaign_id=campaign_id,
            rest=normalised,
        )
    ticket = (RuleAction(ActionKind.TICKET),)
    return Decision(Route.TICKET, normalised, ticket, campaign_id=campaign_id, rest=normalised)


def _campaign_in_window(
    state: ContactState, routing: Routing, now: datetime
) -> CampaignContact | None:
    campaign = state.last_campaign
    if campaign is None or now - campaign.sent_at > routing.reply_window:
        return None
    return campaign


def counts_against_guard(action: RuleAction) -> bool:
    """Automatic texts the loop guard limits: all but the one-time opt-out confirmation."""
    if action.kind == ActionKind.DOUBLE_OPT_IN:
        return True
    return action.kind == ActionKind.REPLY and action.guarded


def _loop_guard(decision: Decision, state: ContactState, routing: Routing) -> Decision:
    """Drops automatic answers beyond the hourly limit, so two robots cannot text each
    other forever; the rest of the decision (consent, tags, ticket) still stands."""
    budget = routing.auto_reply_limit - state.auto_replies_last_hour
    if budget >= len(decision.actions):
        return decision  # room for every action: nothing to count (the usual case)
    kept: list[RuleAction] = []
    suppressed = 0
    for action in decision.actions:
        if counts_against_guard(action):
            if budget <= 0:
                suppressed += 1  # a double opt-in is dropped whole: nobody was asked
                continue
            budget -= 1
        kept.append(action)
    if not suppressed:
        return decision
    return replace(decision, actions=tuple(kept), suppressed=suppressed)


def next_state(
    state: ContactState, decision: Decision, now: datetime, confirm_within: timedelta
) -> ContactState:
    """The contact's state after the engine carried `decision` out."""
    opted_out = state.opted_out
    pending = state.pending_opt_in_until
    replies = 0
    for action in decision.actions:
        if action.kind == ActionKind.OPT_OUT and action.purpose in ("all", "promotional"):
            opted_out = True
            pending = None  # a YES after a STOP answers no JOIN sent before it
        elif action.kind in (ActionKind.OPT_IN, ActionKind.CONFIRM_OPT_IN):
            opted_out = False
            pending = None if action.kind == ActionKind.CONFIRM_OPT_IN else pending
        elif action.kind == ActionKind.DOUBLE_OPT_IN:
            pending = now + confirm_within
        if counts_against_guard(action) and action.text:
            replies += 1
    return ContactState(  # built directly: `replace` costs more, once per text
        opted_out=opted_out,
        language=state.language,
        pending_opt_in_until=pending,
        last_campaign=state.last_campaign,
        auto_replies_last_hour=state.auto_replies_last_hour + replies,
        inbound_last_minute=state.inbound_last_minute + 1,
    )


def replies_of(decision: Decision) -> Sequence[RuleAction]:
    """The texts a decision sends back: replies, and double opt-in prompts."""
    return [
        a
        for a in decision.actions
        if a.text and a.kind in (ActionKind.REPLY, ActionKind.DOUBLE_OPT_IN)
    ]
