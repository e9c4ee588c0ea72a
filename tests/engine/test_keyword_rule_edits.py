"""Changing a keyword rule in place (with the checks a new rule gets), turning it off
and on, the compliance words per language, and a number's own compliance answers."""

from __future__ import annotations

from datetime import datetime

import pytest
from mo_harness import SHORT, setup_numbers
from sqlalchemy import Engine, select

from smscast.config import Settings
from smscast.core.errors import UserError
from smscast.core.router import Route
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.inbound.keyword_rules import (
    add_keyword_rule,
    compliance_replies,
    compliance_words_by_language,
    edit_compliance_word,
    keyword_rule_by_id,
    set_compliance_reply,
    set_keyword_rule_enabled,
    update_keyword_rule,
)
from smscast.engine.inbound.numbers import NumberRef
from smscast.engine.inbound.route_preview import preview_route
from smscast.store.models import AuditEvent, table_of

REPLY = [{"type": "reply", "text": "Yum"}]


@pytest.fixture
def short(engine: Engine, workspace: WorkspaceRef, now: datetime) -> NumberRef:
    return setup_numbers(engine, workspace, now)[2]


def audit_actions(engine: Engine) -> list[str]:
    events = table_of(AuditEvent)
    with engine.connect() as conn:
        return list(conn.execute(select(events.c.action).order_by(events.c.id)).scalars())


def test_a_rule_is_changed_in_place_with_the_checks_of_a_new_one(
    engine: Engine, workspace: WorkspaceRef, short: NumberRef, now: datetime
) -> None:
    pizza = add_keyword_rule(engine, workspace, SHORT, "PIZZA", REPLY, actor="t", now=now)
    add_keyword_rule(engine, workspace, SHORT, "MENU", REPLY, actor="t", now=now)
    changed = update_keyword_rule(
        engine, workspace, pizza["id"], "Pizza Party", [{"type": "tag", "name": "party"}],
        aliases=["PARTY"], match="exact", actor="ola", now=now,
    )  # fmt: skip
    assert changed["keyword"] == "pizza party"
    stored = keyword_rule_by_id(engine, workspace, pizza["id"])
    assert (stored["keyword"], stored["aliases"], stored["match"], stored["actions"]) == (
        "pizza party", ["party"], "exact", [{"type": "tag", "name": "party"}],
    )  # fmt: skip
    assert stored["number"] == SHORT
    assert audit_actions(engine)[-1] == "keyword_rule.updated"

    for keyword, aliases, code in (("menu", [], "rule_exists"), ("STOP", [], "compliance_keyword"),
                                   ("ok", ["pomoc"], "compliance_keyword"),
                                   ("!!", [], "empty_keyword")):  # fmt: skip
        with pytest.raises(UserError) as refused:
            update_keyword_rule(engine, workspace, pizza["id"], keyword, REPLY, aliases=aliases,
                                actor="t", now=now)  # fmt: skip
        assert refused.value.problem.code == code
    with pytest.raises(UserError) as bad_action:
        update_keyword_rule(engine, workspace, pizza["id"], "pizza", [{"type": "reply"}],
                            actor="t", now=now)  # fmt: skip
    assert bad_action.value.problem.field == "actions[0].text"
    with pytest.raises(UserError) as unknown:
        update_keyword_rule(engine, workspace, 999_999, "pizza", REPLY, actor="t", now=now)
    assert unknown.value.problem.code == "unknown_rule"
    # Keeping its own keyword is no clash with itself.
    update_keyword_rule(engine, workspace, pizza["id"], "pizza party", REPLY, actor="t", now=now)


def test_a_disabled_rule_answers_nothing_until_enabled_again(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, short: NumberRef, now: datetime
) -> None:
    rule = add_keyword_rule(engine, workspace, SHORT, "PIZZA", REPLY, actor="t", now=now)
    set_keyword_rule_enabled(engine, workspace, rule["id"], False, actor="t", now=now)
    assert keyword_rule_by_id(engine, workspace, rule["id"])["enabled"] is False
    shown = preview_route(engine, settings, workspace, SHORT, "pizza", now=now)
    assert shown.route == Route.TICKET
    set_keyword_rule_enabled(engine, workspace, rule["id"], True, actor="t", now=now)
    shown = preview_route(engine, settings, workspace, SHORT, "pizza", now=now)
    assert shown.route == Route.KEYWORD
    assert audit_actions(engine)[-2:] == ["keyword_rule.disabled", "keyword_rule.enabled"]


def test_compliance_words_are_listed_per_language_with_the_workspaces_edits(
    engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    edit_compliance_word(engine, workspace, "opt_out", "Basta", language="pl", removed=False,
                         actor="t", now=now)  # fmt: skip
    edit_compliance_word(engine, workspace, "opt_out", "NIE", language="pl", removed=True,
                         actor="t", now=now)  # fmt: skip
    lists = compliance_words_by_language(engine, workspace)
    assert list(lists) == ["pl", "en"]  # the workspace's language first, English always
    polish = lists["pl"]["opt_out"]
    assert "basta" in polish["words"] and "nie" not in polish["words"]
    assert (polish["added"], polish["removed"]) == (["basta"], ["nie"])
    assert "stop" in lists["en"]["opt_out"]["words"]
    assert lists["pl"]["help"]["words"] == ["info", "pomoc"]


def test_a_number_gets_its_own_compliance_answer_and_back_the_built_in_one(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, short: NumberRef, now: datetime
) -> None:
    built_in = {r["what"]: r for r in compliance_replies(engine, workspace, short.id)}
    assert built_in["help"]["custom"] is None
    assert built_in["help"]["defaults"]["pl"].startswith("{{ sender }}: odpisz STOP")
    set_compliance_reply(engine, workspace, short.id, "help", "Call us: 22 100 200 ({{ sender }})",
                         actor="t", now=now)  # fmt: skip
    assert compliance_replies(engine, workspace, short.id)[2]["custom"].startswith("Call us")
    shown = preview_route(engine, settings, workspace, SHORT, "HELP", now=now)
    assert [r.text for r in shown.replies] == ["Call us: 22 100 200 (Shop)"]
    with pytest.raises(UserError) as broken:
        set_compliance_reply(engine, workspace, short.id, "help", "Hi {{ first_name ",
                             actor="t", now=now)  # fmt: skip
    assert broken.value.problem.field == "template"
    set_compliance_reply(engine, workspace, short.id, "help", None, actor="t", now=now)
    shown = preview_route(engine, settings, workspace, SHORT, "HELP", now=now)
    assert [r.text for r in shown.replies] == [
        "Shop: odpisz STOP, aby się wypisać, START, aby się zapisać."
    ]
