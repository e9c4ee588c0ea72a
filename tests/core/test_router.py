"""The inbound router: normalisation and the order of precedence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smscast.core.errors import UserError
from smscast.core.keywords import (
    ComplianceKind,
    ComplianceOverride,
    compliance_words,
    normalise,
)
from smscast.core.router import (
    CampaignContact,
    ContactState,
    KeywordRule,
    MatchMode,
    Route,
    Routing,
    build_index,
    next_state,
    replies_of,
    route,
)
from smscast.core.rule_actions import ActionKind, RuleAction, parse_actions

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
REPLY = RuleAction(ActionKind.REPLY, text="Thanks!")
WORDS = compliance_words(["pl"])


def routing(*rules: KeywordRule, **kwargs: object) -> Routing:
    return Routing(WORDS, build_index(rules), **kwargs)  # type: ignore[arg-type]


def rule(rule_id: int, keyword: str | None, *aliases: str, match: MatchMode = MatchMode.FIRST_WORD,
         actions: tuple[RuleAction, ...] = (REPLY,)) -> KeywordRule:  # fmt: skip
    return KeywordRule(rule_id, keyword, actions, aliases, match)


@pytest.mark.parametrize("text", ["Stop.", " stop ", "STÓP", "stop!!", "S-T-O-P", "\tSTOP\n"])
def test_stop_matches_however_it_is_written(text: str) -> None:
    assert route(text, ContactState(), routing(), NOW).route == Route.OPT_OUT


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("STOPALL", Route.OPT_OUT), ("unsubscribe", Route.OPT_OUT), ("Cancel", Route.OPT_OUT),
        ("END", Route.OPT_OUT), ("quit", Route.OPT_OUT), ("OPT-OUT", Route.OPT_OUT),
        ("revoke", Route.OPT_OUT), ("NIE", Route.OPT_OUT), ("Rezygnuję", Route.OPT_OUT),
        ("REZYGNUJE", Route.OPT_OUT), ("START", Route.OPT_IN), ("unstop", Route.OPT_IN),
        ("HELP", Route.HELP), ("info", Route.HELP), ("Pomoc", Route.HELP),
    ],
)  # fmt: skip
def test_compliance_keywords_in_english_and_polish(text: str, expected: Route) -> None:
    assert route(text, ContactState(), routing(), NOW).route == expected


def test_polish_letters_lose_their_marks() -> None:
    assert normalise("ZAŻÓŁĆ GĘŚLĄ JAŹŃ") == "zazolc gesla jazn"


def test_stop_inside_a_sentence_is_not_an_opt_out() -> None:
    decision = route("please don't stop the offers", ContactState(), routing(), NOW)
    assert decision.route == Route.TICKET


def test_opt_out_is_confirmed_once() -> None:
    first = route("STOP", ContactState(), routing(), NOW)
    assert [a.text != "" for a in replies_of(first)] == [True]
    state = next_state(ContactState(), first, NOW, timedelta(hours=24))
    assert state.opted_out
    again = route("STOP", state, routing(), NOW)
    assert again.route == Route.OPT_OUT
    assert [a.kind for a in again.actions] == [ActionKind.OPT_OUT]


def test_opt_out_confirmation_goes_out_even_past_the_loop_guard() -> None:
    state = ContactState(auto_replies_last_hour=50)
    decision = route("STOP", state, routing(), NOW)
    assert len(replies_of(decision)) == 1


def test_loop_guard_holds_back_automatic_replies_but_keeps_other_actions() -> None:
    tag = RuleAction(ActionKind.TAG, name="pizza")
    rules = (rule(1, "PIZZA", actions=(REPLY, tag)),)
    state = ContactState()
    sent = 0
    for _ in range(8):
        decision = route("pizza", state, routing(*rules), NOW)
        assert tag in decision.actions
        sent += len(replies_of(decision))
        state = next_state(state, decision, NOW, timedelta(hours=24))
    assert sent == 5


def test_most_specific_rule_wins() -> None:
    rules = (
        rule(1, "PIZZA"),
        rule(2, "PIZZA PROMO"),
        rule(3, "PROMO", "PIZZA NOW", match=MatchMode.EXACT),
    )
    r = routing(*rules)
    assert route("pizza", ContactState(), r, NOW).rule_id == 1
    assert route("Pizza promo please", ContactState(), r, NOW).rule_id == 2
    assert route("pizza now", ContactState(), r, NOW).rule_id == 3  # exact alias, 2 words
    assert route("pizza now please", ContactState(), r, NOW).rule_id == 1
    assert route("promo code", ContactState(), r, NOW).route == Route.TICKET  # exact only
    decision = route("PIZZA PROMO large one", ContactState(), r, NOW)
    assert (decision.keyword, decision.rest) == ("pizza promo", "large one")


def test_keyword_beats_alias_and_older_rule_beats_newer() -> None:
    r = routing(rule(5, "JOIN"), rule(4, "SIGNUP", "JOIN"), rule(9, "JOIN"))
    assert route("join", ContactState(), r, NOW).rule_id == 5
    r = routing(rule(7, "JOIN"), rule(6, "JOIN"))
    assert route("join", ContactState(), r, NOW).rule_id == 6


def test_default_rule_then_campaign_reply_then_ticket() -> None:
    campaign = CampaignContact(42, NOW - timedelta(hours=1), asks_reply=True,
                               reply_actions=(REPLY,))  # fmt: skip
    state = ContactState(last_campaign=campaign)
    with_default = routing(rule(1, "PIZZA"), rule(2, None))
    assert route("hello", state, with_default, NOW).route == Route.DEFAULT
    assert route("hello", state, with_default, NOW).campaign_id == 42
    without = routing(rule(1, "PIZZA"))
    assert route("hello", state, without, NOW).route == Route.CAMPAIGN_REPLY
    old = ContactState(last_campaign=CampaignContact(42, NOW - timedelta(days=5), True))
    decision = route("hello", old, without, NOW)
    assert (decision.route, decision.campaign_id) == (Route.TICKET, None)
    silent = ContactState(last_campaign=CampaignContact(42, NOW - timedelta(hours=1)))
    decision = route("hello", silent, without, NOW)
    assert (decision.route, decision.campaign_id) == (Route.TICKET, 42)


def test_double_opt_in_yes_within_deadline() -> None:
    doi = RuleAction(ActionKind.DOUBLE_OPT_IN, text="Reply YES to confirm", purpose="promotional")
    r = routing(rule(1, "JOIN", actions=(doi,)))
    joined = route("JOIN", ContactState(), r, NOW)
    state = next_state(ContactState(), joined, NOW, timedelta(hours=24))
    assert state.pending_opt_in_until == NOW + timedelta(hours=24)
    yes = route("Yes!", state, r, NOW + timedelta(hours=23))
    assert yes.route == Route.CONFIRM_OPT_IN
    late = route("Yes!", state, r, NOW + timedelta(hours=25))
    assert late.route == Route.TICKET
    confirmed = next_state(state, yes, NOW, timedelta(hours=24))
    assert confirmed.pending_opt_in_until is None


def test_empty_and_emoji_only_texts() -> None:
    assert route("", ContactState(), routing(), NOW).route == Route.EMPTY
    assert route("   ", ContactState(), routing(), NOW).route == Route.EMPTY
    assert route("👍🎉", ContactState(), routing(), NOW).route == Route.TICKET


def test_flood_is_set_aside_before_anything_but_a_first_stop() -> None:
    state = ContactState(inbound_last_minute=30)
    assert route("HELP", state, routing(flood_limit=30), NOW).route == Route.FLOOD
    assert route("STOP", state, routing(flood_limit=30), NOW).route == Route.OPT_OUT
    opted_out = ContactState(opted_out=True, inbound_last_minute=30)
    assert route("STOP", opted_out, routing(flood_limit=30), NOW).route == Route.FLOOD


def test_workspace_edits_compliance_lists() -> None:
    words = compliance_words(
        ["pl"],
        [
            ComplianceOverride("pl", ComplianceKind.OPT_OUT, "NIE", removed=True),
            ComplianceOverride("pl", ComplianceKind.OPT_OUT, "Dość"),
        ],
    )
    r = Routing(words, build_index([]))
    assert route("nie", ContactState(), r, NOW).route == Route.TICKET
    assert route("DOŚĆ", ContactState(), r, NOW).route == Route.OPT_OUT


def test_actions_are_checked_with_the_item_named() -> None:
    with pytest.raises(UserError, match=r"actions\[1\]\.type"):
        parse_actions([{"type": "reply", "text": "hi"}, {"type": "explode"}])
    with pytest.raises(UserError, match=r"actions\[0\]\.text: line 1"):
        parse_actions([{"type": "reply", "text": "Hi {{ name"}])
    with pytest.raises(UserError, match=r"actions\[0\]\.url"):
        parse_actions([{"type": "webhook", "url": "ftp://x"}])
    parsed = parse_actions([{"type": "tag", "name": " vip "}, {"type": "opt_in"}])
    assert parsed[0].name == "vip" and parsed[1].purpose == "promotional"


# --- properties -------------------------------------------------------------------------

texts = st.text(max_size=40)
keyword_text = st.text(alphabet="abcdefghijklmnopqrstuvwxyzĄĘÓŁŚ ", min_size=1, max_size=12)


@given(texts)
def test_normalisation_is_idempotent(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once


@given(texts)
def test_normalised_text_has_no_edge_or_double_spaces_and_no_capitals(text: str) -> None:
    out = normalise(text)
    assert out == out.strip() and "  " not in out and out == out.casefold()


@given(
    st.sampled_from(sorted(WORDS.opt_out | WORDS.opt_in | WORDS.help)),
    st.lists(keyword_text, max_size=5),
    st.sampled_from(["", " ", ".", "!", "  "]),
    st.booleans(),
)
def test_compliance_keywords_always_win(
    word: str, keywords: list[str], decoration: str, upper: bool
) -> None:
    rules = [rule(i, k, match=MatchMode.EXACT) for i, k in enumerate(keywords, 1)]
    rules += [rule(100, word), rule(101, None)]  # even a rule on the very word
    text = decoration + (word.upper() if upper else word) + decoration
    campaign = CampaignContact(1, NOW, asks_reply=True)
    state = ContactState(last_campaign=campaign, pending_opt_in_until=NOW + timedelta(hours=1))
    decision = route(text, state, routing(*rules), NOW)
    assert decision.route in (Route.OPT_OUT, Route.OPT_IN, Route.HELP)


@given(st.text(min_size=1, max_size=30), st.integers(min_value=0, max_value=20))
def test_never_more_guarded_replies_than_the_limit(text: str, already: int) -> None:
    rules = (rule(1, None, actions=(REPLY, REPLY, REPLY)),)
    state = ContactState(auto_replies_last_hour=already)
    decision = route(text, state, routing(*rules, auto_reply_limit=5), NOW)
    guarded = [a for a in replies_of(decision) if a.guarded]
    assert len(guarded) <= max(0, 5 - already)
