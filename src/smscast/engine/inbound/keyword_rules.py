"""Keyword rules of a number and the workspace's edits of the compliance lists.

Rules are checked when they are written (keyword clashes with STOP/HELP, broken
templates, bad webhook URLs) so a mistake is an error for the operator, never a
surprise for the customer who texts.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from smscast.config import Settings
from smscast.core.addresses import AddressPolicy
from smscast.core.errors import UserError
from smscast.core.keywords import (
    ComplianceKind,
    ComplianceOverride,
    compliance_words,
    default_reply,
    default_words,
    normalise,
)
from smscast.core.router import KeywordRule as RuleValue
from smscast.core.router import MatchMode, Routing, build_index
from smscast.core.rule_actions import ActionKind, RuleAction, action_to_json, parse_actions
from smscast.engine.accounts.audit import record_audit
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.inbound.numbers import NumberRef, number_by_id, number_by_text
from smscast.engine.inbound.numbers import _check_reply_template as check_reply_template
from smscast.engine.webhooks.keyword_forward import add_rule_targets
from smscast.engine.webhooks.targets import check_webhook_url
from smscast.store.inbound_models import ComplianceKeyword, KeywordRule
from smscast.store.messaging_models import Campaign, Number
from smscast.store.models import table_of

rules = table_of(KeywordRule)
number_rows = table_of(Number)
compliance = table_of(ComplianceKeyword)
campaign_rows = table_of(Campaign)


def add_keyword_rule(
    engine: Engine,
    workspace: WorkspaceRef,
    number: str,
    keyword: str | None,
    actions: Any,
    *,
    aliases: list[str] | None = None,
    match: str = "first_word",
    campaign_id: int | None = None,
    actor: str,
    now: datetime,
    policy: AddressPolicy | None = None,
) -> dict[str, Any]:
    """Adds a rule to a number; `keyword` None adds the number's default rule.

    Webhook actions' URLs are checked against `policy` (public addresses only unless
    given one, e.g. the settings' `address_policy`) and become the rule's targets.
    """
    parsed, hooks, words, alias_words = _checked_rule(keyword, actions, aliases, match, policy)
    with engine.begin() as conn:
        ref = number_by_text(conn, workspace, number)
        _check_rule_words(conn, workspace, ref, words, alias_words, campaign_id, rule_id=None)
        values = {
            "workspace_id": workspace.id, "number_id": ref.id, "keyword": words,
            "aliases": alias_words, "match": match,
            "actions": [action_to_json(a) for a in parsed], "campaign_id": campaign_id,
            "enabled": True, "created_at": now,
        }  # fmt: skip
        rule_id = conn.execute(insert(rules).values(values).returning(rules.c.id)).scalar_one()
        add_rule_targets(conn, workspace.id, rule_id, hooks, now)
        subject = f"{ref.number} {words or '*'}"
        record_audit(
            conn, workspace.id, actor, "keyword_rule.added", subject, {"rule_id": rule_id}, now
        )
    return {"id": rule_id, "number": ref.number, **{k: values[k] for k in
            ("keyword", "aliases", "match", "actions", "campaign_id")}}  # fmt: skip


def _checked_rule(
    keyword: str | None, actions: Any, aliases: list[str] | None, match: str,
    policy: AddressPolicy | None,
) -> tuple[tuple[RuleAction, ...], list[str], str | None, list[str]]:  # fmt: skip
    """A rule's parts checked before the database is asked: (actions, their webhook URLs,
    the normalised keyword, the normalised aliases)."""
    parsed = parse_actions(actions)
    hooks = _check_webhook_actions(parsed, policy or AddressPolicy())
    if match not in {m.value for m in MatchMode}:
        raise UserError.of("invalid_match", f'"{match}" is not exact or first_word', field="match")
    words = None if keyword is None else _keyword(keyword, "keyword")
    alias_words = [_keyword(a, "aliases") for a in aliases or []]
    return parsed, hooks, words, alias_words


def _check_rule_words(
    conn: Connection, workspace: WorkspaceRef, number: NumberRef, words: str | None,
    aliases: list[str], campaign_id: int | None, *, rule_id: int | None,
) -> None:  # fmt: skip
    """The checks against what is stored: the campaign is the workspace's, no word is a
    compliance word, and no other rule of the number (than `rule_id`) has the keyword."""
    if campaign_id is not None:
        _check_campaign(conn, workspace, campaign_id)
    _refuse_compliance_clash(conn, workspace, [w for w in [words, *aliases] if w])
    query = select(rules.c.id).where(
        rules.c.number_id == number.id,
        rules.c.keyword.is_(None) if words is None else rules.c.keyword == words,
    )
    if rule_id is not None:
        query = query.where(rules.c.id != rule_id)
    if conn.execute(query).first():
        what = "a default rule" if words is None else f'a rule for "{words}"'
        raise UserError.of("rule_exists", f"{number.number} already has {what}", field="keyword")


def update_keyword_rule(
    engine: Engine,
    workspace: WorkspaceRef,
    rule_id: int,
    keyword: str | None,
    actions: Any,
    *,
    aliases: list[str] | None = None,
    match: str = "first_word",
    campaign_id: int | None = None,
    enabled: bool = True,
    actor: str,
    now: datetime,
    policy: AddressPolicy | None = None,
) -> dict[str, Any]:
    """Changes a rule in place (same id, same number), with the checks of
    `add_keyword_rule`; `enabled` False keeps the rule but routing skips it."""
    parsed, hooks, words, alias_words = _checked_rule(keyword, actions, aliases, match, policy)
    with engine.begin() as conn:
        ref = _rule_number(conn, workspace, rule_id)
        _check_rule_words(conn, workspace, ref, words, alias_words, campaign_id, rule_id=rule_id)
        values = {
            "keyword": words, "aliases": alias_words, "match": match,
            "actions": [action_to_json(a) for a in parsed], "campaign_id": campaign_id,
            "enabled": enabled,
        }  # fmt: skip
        conn.execute(update(rules).where(rules.c.id == rule_id).values(values))
        add_rule_targets(conn, workspace.id, rule_id, hooks, now)
        record_audit(conn, workspace.id, actor, "keyword_rule.updated",
                     f"{ref.number} {words or '*'}", {"rule_id": rule_id, "enabled": enabled},
                     now)  # fmt: skip
    return {"id": rule_id, "number": ref.number, **values}


def set_keyword_rule_enabled(
    engine: Engine, workspace: WorkspaceRef, rule_id: int, enabled: bool, *, actor: str,
    now: datetime,
) -> None:  # fmt: skip
    """Turns a rule on or off without changing it: a disabled rule answers nothing."""
    with engine.begin() as conn:
        ref = _rule_number(conn, workspace, rule_id)
        conn.execute(update(rules).where(rules.c.id == rule_id).values(enabled=enabled))
        action = "keyword_rule.enabled" if enabled else "keyword_rule.disabled"
        record_audit(conn, workspace.id, actor, action, f"{ref.number} #{rule_id}", {}, now)


def keyword_rule_by_id(engine: Engine, workspace: WorkspaceRef, rule_id: int) -> dict[str, Any]:
    """One rule as `list_keyword_rules` gives it; another workspace's is as unknown as none."""
    with engine.connect() as conn:
        row = conn.execute(
            select(rules, number_rows.c.number)
            .join(number_rows, number_rows.c.id == rules.c.number_id)
            .where(rules.c.id == rule_id, rules.c.workspace_id == workspace.id)
        ).first()
    if row is None:
        raise UserError.of("unknown_rule", f"no keyword rule #{rule_id}", field="id")
    return dict(row._mapping)


def _rule_number(conn: Connection, workspace: WorkspaceRef, rule_id: int) -> NumberRef:
    number_id = conn.execute(
        select(rules.c.number_id).where(rules.c.id == rule_id, rules.c.workspace_id == workspace.id)
    ).scalar()
    if number_id is None:
        raise UserError.of("unknown_rule", f"no keyword rule #{rule_id}", field="id")
    return number_by_id(conn, workspace, int(number_id))


def _check_webhook_actions(actions: tuple[RuleAction, ...], policy: AddressPolicy) -> list[str]:
    """The URLs of the webhook actions, each resolved and checked (`unsafe_url` naming
    `actions[N].url`) before the rule is saved; they are checked again at each send."""
    urls = []
    for index, action in enumerate(actions):
        if action.kind == ActionKind.WEBHOOK:
            check_webhook_url(action.url, policy=policy, field=f"actions[{index}].url")
            urls.append(action.url)
    return urls


def _check_campaign(conn: Connection, workspace: WorkspaceRef, campaign_id: int) -> None:
    """Refuses a campaign of another workspace exactly like one that does not exist, so
    a rule's link cannot be used to learn which ids other workspaces hold."""
    found = conn.execute(
        select(campaign_rows.c.id).where(
            campaign_rows.c.id == campaign_id, campaign_rows.c.workspace_id == workspace.id
        )
    ).first()
    if found is None:
        raise UserError.of(
            "unknown_campaign", f"no campaign #{campaign_id} in this workspace",
            field="campaign_id",
        )  # fmt: skip


def link_keyword_campaign(
    engine: Engine,
    workspace: WorkspaceRef,
    rule_id: int,
    campaign_id: int | None,
    *,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Links a rule to the campaign its keyword answers (None unlinks): texts matching it
    then count as that campaign's responses in its report and in `number_report`."""
    with engine.begin() as conn:
        found = conn.execute(
            select(rules.c.id).where(rules.c.id == rule_id, rules.c.workspace_id == workspace.id)
        ).first()
        if found is None:
            raise UserError.of("unknown_rule", f"no keyword rule #{rule_id}", field="id")
        if campaign_id is not None:
            _check_campaign(conn, workspace, campaign_id)
        conn.execute(update(rules).where(rules.c.id == rule_id).values(campaign_id=campaign_id))
        record_audit(conn, workspace.id, actor, "keyword_rule.campaign_linked", f"#{rule_id}",
                     {"campaign_id": campaign_id}, now)  # fmt: skip
        row = conn.execute(
            select(rules, number_rows.c.number)
            .join(number_rows, number_rows.c.id == rules.c.number_id)
            .where(rules.c.id == rule_id)
        ).one()
    return dict(row._mapping)


def _keyword(raw: str, field: str) -> str:
    word = normalise(raw)
    if not word:
        raise UserError.of(
            "empty_keyword", f'"{raw}" has no letters or digits to match', field=field
        )
    return word


def _refuse_compliance_clash(conn: Connection, workspace: WorkspaceRef, words: list[str]) -> None:
    lists = workspace_compliance(conn, workspace)
    for word in words:
        kind = lists.kind_of(word)
        if kind is not None:
            raise UserError.of(
                "compliance_keyword",
                f'"{word}" is a compliance keyword ({kind}) and always means that; '
                "remove it from the compliance list first to use it as a keyword",
                field="keyword",
            )


def list_keyword_rules(
    engine: Engine,
    workspace: WorkspaceRef,
    number: str | None = None,
    *,
    after_id: int = 0,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Rules in id order, each with its number as text (`number`) beside `number_id`;
    `after_id` and `limit` read them a page at a time."""
    with engine.connect() as conn:
        query = (
            select(rules, number_rows.c.number)
            .join(number_rows, number_rows.c.id == rules.c.number_id)
            .where(rules.c.workspace_id == workspace.id, rules.c.id > after_id)
            .order_by(rules.c.id)
            .limit(limit)
        )
        if number is not None:
            query = query.where(rules.c.number_id == number_by_text(conn, workspace, number).id)
        return [dict(r._mapping) for r in conn.execute(query)]


def remove_keyword_rule(
    engine: Engine, workspace: WorkspaceRef, rule_id: int, *, actor: str, now: datetime
) -> None:
    with engine.begin() as conn:
        done = conn.execute(
            delete(rules).where(rules.c.id == rule_id, rules.c.workspace_id == workspace.id)
        ).rowcount
        if not done:
            raise UserError.of("unknown_rule", f"no keyword rule #{rule_id}", field="id")
        record_audit(conn, workspace.id, actor, "keyword_rule.removed", f"#{rule_id}", {}, now)


def edit_compliance_word(
    engine: Engine,
    workspace: WorkspaceRef,
    kind: str,
    word: str,
    *,
    language: str,
    removed: bool,
    actor: str,
    now: datetime,
) -> None:
    """Adds a word to a compliance list, or takes one off (`removed`), for one language."""
    if kind not in {k.value for k in ComplianceKind}:
        allowed = ", ".join(k.value for k in ComplianceKind)
        raise UserError.of("invalid_kind", f'"{kind}" is not a list ({allowed})', field="kind")
    normalised = _keyword(word, "word")
    with engine.begin() as conn:
        conn.execute(delete(compliance).where(
            compliance.c.workspace_id == workspace.id, compliance.c.language == language,
            compliance.c.kind == kind, compliance.c.word == normalised,
        ))  # fmt: skip
        conn.execute(insert(compliance).values(
            workspace_id=workspace.id, language=language, kind=kind, word=normalised,
            removed=removed, created_at=now,
        ))  # fmt: skip
        action = "compliance_word.removed" if removed else "compliance_word.added"
        record_audit(conn, workspace.id, actor, action, f"{language} {kind} {normalised}", {}, now)


def compliance_overrides(conn: Connection, workspace_id: int) -> list[ComplianceOverride]:
    rows = conn.execute(
        select(compliance)
        .where(compliance.c.workspace_id == workspace_id)
        .order_by(compliance.c.id)
    )
    return [ComplianceOverride(r.language, ComplianceKind(r.kind), r.word, r.removed) for r in rows]


def workspace_languages(workspace: WorkspaceRef) -> list[str]:
    configured = workspace.settings.get("languages")
    if isinstance(configured, list) and configured:
        return [str(x) for x in configured]
    return ["pl"] if workspace.country == "PL" else ["en"]


def workspace_compliance(conn: Connection, workspace: WorkspaceRef) -> Any:
    return compliance_words(
        workspace_languages(workspace), compliance_overrides(conn, workspace.id)
    )


def list_compliance_words(engine: Engine, workspace: WorkspaceRef) -> dict[str, list[str]]:
    with engine.connect() as conn:
        words = workspace_compliance(conn, workspace)
    return {
        "opt_out": sorted(words.opt_out), "opt_in": sorted(words.opt_in),
        "help": sorted(words.help),
    }  # fmt: skip


def compliance_words_by_language(
    engine: Engine, workspace: WorkspaceRef
) -> dict[str, dict[str, dict[str, list[str]]]]:
    """language → list (opt_out, opt_in, help) → the words in force (`words`), which of
    them the workspace added (`added`) and the defaults it took off (`removed`); the
    workspace's languages first, then English, which is always in force (see
    `core.keywords.compliance_words`: routing merges every language's lists)."""
    with engine.connect() as conn:
        edits = compliance_overrides(conn, workspace.id)
    languages = dict.fromkeys(
        [*workspace_languages(workspace), "en", *sorted({e.language for e in edits})]
    )
    out: dict[str, dict[str, dict[str, list[str]]]] = {}
    for language in languages:
        defaults = default_words(language)
        out[language] = {}
        for kind in ComplianceKind:
            words = set(defaults[kind])
            for edit in edits:  # one row per word (`edit_compliance_word` replaces it)
                if edit.language == language and edit.kind == kind:
                    (words.discard if edit.removed else words.add)(normalise(edit.word))
            out[language][kind.value] = {
                "words": sorted(words),
                "added": sorted(words - defaults[kind]),
                "removed": sorted(defaults[kind] - words),
            }
    return out


COMPLIANCE_REPLIES = ("opt_out", "opt_in", "help", "confirmed")
"""The automatic answers of the compliance words and of a double opt-in's YES, each a
built-in template per language (`core.keywords.DEFAULT_REPLIES`) that a number may
replace with its own (its setting `replies`, read by `load_routing`)."""


def compliance_replies(
    engine: Engine, workspace: WorkspaceRef, number_id: int
) -> list[dict[str, Any]]:
    """Each answer of the number: its own template (`custom`, None when it uses the
    built-in one) and the built-in one per workspace language (`defaults`)."""
    with engine.connect() as conn:
        ref = number_by_id(conn, workspace, number_id)
    own = ref.settings.get("replies")
    own = own if isinstance(own, dict) else {}
    return [
        {
            "what": what,
            "custom": own.get(what) or None,
            "defaults": {
                lang: default_reply(lang, what) for lang in workspace_languages(workspace)
            },
        }
        for what in COMPLIANCE_REPLIES
    ]


def set_compliance_reply(
    engine: Engine, workspace: WorkspaceRef, number_id: int, what: str, template: str | None,
    *, actor: str, now: datetime,
) -> None:  # fmt: skip
    """Gives the number its own answer to STOP (`opt_out`), START (`opt_in`), HELP or a
    double opt-in's YES (`confirmed`), in every language; None goes back to the built-in
    answers. The template is checked as the number's automatic reply is."""
    if what not in COMPLIANCE_REPLIES:
        raise UserError.of("invalid_reply", f'"{what}" is not one of '
                           f"{', '.join(COMPLIANCE_REPLIES)}", field="what")  # fmt: skip
    with engine.begin() as conn:
        ref = number_by_id(conn, workspace, number_id)
        if template is not None:
            check_reply_template(conn, workspace, template)
        own = ref.settings.get("replies")
        replies = dict(own) if isinstance(own, dict) else {}
        if template is None:
            replies.pop(what, None)
        else:
            replies[what] = template
        settings = {**ref.settings, "replies": replies}
        conn.execute(update(number_rows).where(number_rows.c.id == ref.id)
                     .values(settings=settings))  # fmt: skip
        record_audit(conn, workspace.id, actor, "number.compliance_reply_set",
                     f"{ref.number} {what}", {"template": template}, now)  # fmt: skip


def number_rules(conn: Connection, number_id: int) -> list[RuleValue]:
    rows = conn.execute(
        select(rules).where(rules.c.number_id == number_id, rules.c.enabled.is_(True))
    )
    return [
        RuleValue(
            r.id, r.keyword, parse_actions(r.actions), tuple(r.aliases or ()), MatchMode(r.match),
            r.campaign_id,
        )
        for r in rows
    ]  # fmt: skip


def load_routing(
    conn: Connection, workspace: WorkspaceRef, number: NumberRef, settings: Settings
) -> Routing:
    """Everything the router reads about one number; built once per batch."""
    replies = number.settings.get("replies")
    return Routing(
        compliance=workspace_compliance(conn, workspace),
        rules=build_index(number_rules(conn, number.id)),
        language=workspace_languages(workspace)[0],
        replies=dict(replies) if isinstance(replies, dict) else {},
        reply_window=timedelta(hours=settings.inbound_reply_window_hours),
        auto_reply_limit=settings.auto_reply_limit_per_hour,
        flood_limit=settings.inbound_flood_per_minute,
    )
