"""The match preview on a real database: the router's own decision for a sample text
(compliance words first, then keywords, the number's reply, a campaign's reply, a
ticket), the answers as the contact would read them, and nothing written."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import count
from typing import Any

import pytest
from campaign_data import add_contact
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from mo_harness import SHORT, add_sent_campaign, setup_numbers
from sqlalchemy import Engine, func, select, table

from smscast.channels.base import InboundMessage
from smscast.config import Settings
from smscast.core.errors import UserError
from smscast.core.router import ContactState, Route, route
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.inbound.keyword_rules import add_keyword_rule, load_routing
from smscast.engine.inbound.numbers import NumberRef, set_auto_reply
from smscast.engine.inbound.receive import clean_text, handle_inbound
from smscast.engine.inbound.route_preview import Why, preview_route


@pytest.fixture
def short(engine: Engine, workspace: WorkspaceRef, now: datetime) -> NumberRef:
    """The short code 4000 with a PIZZA keyword (alias PIZZE) and an exact-match MENU."""
    _, _, short = setup_numbers(engine, workspace, now)
    add_keyword_rule(engine, workspace, SHORT, "PIZZA", [
        {"type": "reply", "text": "Hi {{ first_name | default('there') }}, code {{ rest }}!"},
        {"type": "tag", "name": "pizza"},
    ], aliases=["pizze"], actor="test", now=now)  # fmt: skip
    add_keyword_rule(engine, workspace, SHORT, "MENU", [{"type": "reply", "text": "Menu: ..."}],
                     match="exact", actor="test", now=now)  # fmt: skip
    return short


def preview(engine: Engine, settings: Settings, workspace: WorkspaceRef, text: str,
            phone: str | None = None, *, at: datetime) -> Any:  # fmt: skip
    return preview_route(engine, settings, workspace, SHORT, text, phone=phone, now=at)


def test_a_keyword_answers_with_its_reply_rendered_for_a_new_sender(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, short: NumberRef, now: datetime
) -> None:
    shown = preview(engine, settings, workspace, "pizza  SPRING", at=now)
    assert shown.route == Route.KEYWORD
    assert shown.why == Why.KEYWORD_FIRST
    assert shown.rule is not None and shown.rule.keyword == "pizza"
    assert shown.decision.rest == "spring"
    assert shown.contact_id is None
    [reply] = shown.replies
    assert (reply.kind, reply.text, reply.encoding, reply.parts) == (
        "auto_reply", "Hi there, code spring!", "GSM-7", 1,
    )  # fmt: skip
    assert "keyword" in shown.reason and "pizza" in shown.reason

    alias = preview(engine, settings, workspace, "Pizze", at=now)
    assert (alias.route, alias.why, alias.decision.keyword) == (
        Route.KEYWORD, Why.ALIAS_EXACT, "pizze",
    )  # fmt: skip
    # MENU matches only the whole text: with more words it is a ticket.
    assert preview(engine, settings, workspace, "MENU", at=now).why == Why.KEYWORD_EXACT
    longer = preview(engine, settings, workspace, "menu please", at=now)
    assert (longer.route, longer.why, longer.replies) == (Route.TICKET, Why.TICKET, ())


def test_compliance_words_come_first_with_the_numbers_own_or_built_in_answer(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, short: NumberRef, now: datetime
) -> None:
    stop = preview(engine, settings, workspace, "Stop", at=now)
    assert (stop.route, stop.why, stop.decision.keyword) == (Route.OPT_OUT, Why.COMPLIANCE, "stop")
    [confirmation] = stop.replies
    # The workspace speaks Polish (country PL) and its name is the brand.
    assert confirmation.kind == "confirm"
    assert confirmation.text is not None and confirmation.text.startswith("Shop: wypisano Cię")
    assert confirmation.encoding == "UCS-2"

    help_ = preview(engine, settings, workspace, "POMOC", at=now)
    assert (help_.route, [r.kind for r in help_.replies]) == (Route.HELP, ["help"])


def test_then_the_numbers_reply_then_a_campaign_that_asked_then_a_ticket(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, short: NumberRef, now: datetime
) -> None:
    contact_id = add_contact(engine, workspace, "+48600100200", now=now - timedelta(days=1))
    add_sent_campaign(engine, workspace, short.id, contact_id, now - timedelta(hours=2),
                      options={"expects_reply": True})  # fmt: skip
    known = preview(engine, settings, workspace, "what is this?", "600100200", at=now)
    assert (known.route, known.why, known.contact_id) == (
        Route.CAMPAIGN_REPLY, Why.CAMPAIGN, contact_id,
    )  # fmt: skip
    stranger = preview(engine, settings, workspace, "what is this?", "+48600999888", at=now)
    assert (stranger.route, stranger.contact_id) == (Route.TICKET, None)

    set_auto_reply(engine, workspace, SHORT, "Thanks, {{ sender }} answers soon.", actor="t",
                   now=now)  # fmt: skip
    default = preview(engine, settings, workspace, "what is this?", "600100200", at=now)
    assert (default.route, default.why) == (Route.DEFAULT, Why.DEFAULT)
    assert [r.text for r in default.replies] == ["Thanks, Shop answers soon."]


def test_a_bad_phone_is_an_error_on_the_phone_field(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, short: NumberRef, now: datetime
) -> None:
    with pytest.raises(UserError) as refused:
        preview(engine, settings, workspace, "PIZZA", "not a phone", at=now)
    assert refused.value.problem.field == "phone"


TABLES = ("messages", "contacts", "inbound_routes", "tickets", "consent_events",
          "pending_opt_ins", "webhook_deliveries", "audit_events", "consent_states")  # fmt: skip


def row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            name: int(conn.execute(select(func.count()).select_from(table(name))).scalar_one())
            for name in TABLES
        }


def test_the_preview_writes_nothing(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, short: NumberRef, now: datetime
) -> None:
    add_keyword_rule(engine, workspace, SHORT, "JOIN", [
        {"type": "double_opt_in", "text": "Reply YES to join"}, {"type": "ticket"},
    ], actor="test", now=now)  # fmt: skip
    before = row_counts(engine)
    for text in ("JOIN", "STOP", "START", "pizza 1", "hello", "", "YES"):
        for phone in (None, "+48600100300"):
            preview(engine, settings, workspace, text, phone, at=now)
    assert row_counts(engine) == before


SAMPLES = st.one_of(
    st.sampled_from(["PIZZA", "pizza extra", "PIZZE", "menu", "menu now", "STOP", "nie",
                     "Rezygnuję", "START", "HELP", "pomoc", "YES", "", "  ", "żółw 🍕"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30),
)  # fmt: skip


def test_the_preview_is_what_handle_inbound_then_does_for_a_new_sender(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    _, _, short = setup_numbers(engine, workspace, now)
    add_keyword_rule(engine, workspace, SHORT, "PIZZA", [{"type": "reply", "text": "Yum"}],
                     aliases=["pizze"], actor="test", now=now)  # fmt: skip
    add_keyword_rule(engine, workspace, SHORT, "MENU", [{"type": "reply", "text": "Menu"}],
                     match="exact", actor="test", now=now)  # fmt: skip
    connector_id = short.connector_id
    assert connector_id is not None
    phones = count(600_200_000)
    with engine.connect() as conn:
        routing = load_routing(conn, workspace, short, settings)

    @hypothesis_settings(max_examples=40, deadline=None,
                         suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
    @given(text=SAMPLES)
    @example(text="pizza\x00")
    def check(text: str) -> None:
        phone = f"+48{next(phones)}"
        shown = preview_route(engine, settings, workspace, short.id, text, phone=phone, now=now)
        assert shown.decision == route(clean_text(text), ContactState(), routing, now)
        done = handle_inbound(engine, settings, connector_id,
                              InboundMessage(phone, SHORT, text, now))  # fmt: skip
        assert done.route == shown.route.value
        assert done.replies == sum(1 for r in shown.replies if r.text)

    check()
