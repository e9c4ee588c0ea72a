"""The match preview: what the router would do with a text, without it being sent.

The portal's keyword editor asks "if someone texted this to the number, which rule
answers, and with what?". The answer is the router's own decision: the number's
routing is loaded as `receive.py` loads it (`load_routing`), the sender's state as it
stands now (`load_states`, or a new sender's empty state), and `core.router.route`
decides; the answers are rendered as `actions.py` renders them. Nothing is written:
no message, no contact, no consent, no ticket.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from smscast.config import Settings
from smscast.core.encoding import analyse
from smscast.core.errors import UserError
from smscast.core.keywords import normalise
from smscast.core.router import Decision, Route, RuleIndex, replies_of, route
from smscast.core.router import KeywordRule as RuleValue
from smscast.core.rule_actions import ActionKind
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.inbound.actions import Routed, _render
from smscast.engine.inbound.keyword_rules import load_routing
from smscast.engine.inbound.numbers import NumberRef, find_workspace_number
from smscast.engine.inbound.receive import clean_text
from smscast.engine.inbound.senders import Sender, find_senders, load_states, sender_phone


class Why(enum.StrEnum):
    """Why the router chose its route, in the terms of its order of precedence."""

    EMPTY = "empty"  # nothing but spaces
    FLOOD = "flood"  # too many texts from this sender in the last minute
    COMPLIANCE = "compliance"  # the whole text is a STOP, START or HELP word
    CONFIRM = "confirm"  # a YES to a double opt-in that waits for it
    KEYWORD_EXACT = "keyword_exact"  # the whole text is the rule's keyword
    KEYWORD_FIRST = "keyword_first"  # the text begins with the rule's keyword
    ALIAS_EXACT = "alias_exact"  # the whole text is one of the rule's aliases
    ALIAS_FIRST = "alias_first"  # the text begins with one of the rule's aliases
    DEFAULT = "default"  # no keyword matched: the number's default rule (its reply)
    CAMPAIGN = "campaign"  # no rule: a reply to a campaign that asked for one
    TICKET = "ticket"  # nothing else: a ticket for an agent


@dataclass(frozen=True, slots=True)
class PreviewReply:
    """One text that would be sent back, as the contact would read it."""

    kind: str  # the outgoing row's kind: auto_reply, help, confirm
    text: str | None  # None: the template failed for this contact (`problem` says why)
    encoding: str = ""
    parts: int = 0
    problem: str = ""


@dataclass(frozen=True, slots=True)
class RoutePreview:
    decision: Decision
    why: Why
    number: NumberRef
    rule: RuleValue | None  # the rule that answers (keyword or default), if one does
    contact_id: int | None  # the sender's contact; None for a new sender
    opted_out: bool  # the sender's state as the router saw it
    replies: tuple[PreviewReply, ...]

    @property
    def route(self) -> Route:
        return self.decision.route

    @property
    def reason(self) -> str:
        """The reason in English, for the CLI and logs (the portal words it itself)."""
        keyword = self.decision.keyword or ""
        return {
            Why.EMPTY: "the text is empty",
            Why.FLOOD: "too many texts from this sender in the last minute: set aside",
            Why.COMPLIANCE: f'"{keyword}" is a compliance word: it always comes first',
            Why.CONFIRM: "a YES to the double opt-in this sender was asked to confirm",
            Why.KEYWORD_EXACT: f'the whole text is the keyword "{keyword}"',
            Why.KEYWORD_FIRST: f'the text begins with the keyword "{keyword}"',
            Why.ALIAS_EXACT: f'the whole text is the alias "{keyword}"',
            Why.ALIAS_FIRST: f'the text begins with the alias "{keyword}"',
            Why.DEFAULT: "no keyword matched: the number's reply answers",
            Why.CAMPAIGN: f"no rule matched: a reply to campaign #{self.decision.campaign_id}",
            Why.TICKET: "nothing else matched: a ticket for an agent",
        }[self.why]


def preview_route(
    engine: Engine,
    settings: Settings,
    workspace: WorkspaceRef,
    number: str | int,
    text: str,
    *,
    phone: str | None = None,
    now: datetime,
) -> RoutePreview:
    """What `handle_inbound` would decide for `text` sent to `number` now, from `phone`
    (a contact's state as it stands) or, without one, from a new sender. Reads only."""
    with engine.connect() as conn:
        ref = find_workspace_number(conn, workspace, number)
        routing = load_routing(conn, workspace, ref, settings)
        sender = Sender(-1, "", None, {}, [])
        if phone is not None and phone.strip():
            parsed = sender_phone(phone, ref.country)
            if parsed is None:
                raise UserError.of(
                    "invalid_phone", f'"{phone}" is not a phone number for {ref.country}',
                    field="phone",
                )  # fmt: skip
            sender = find_senders(conn, workspace.id, {parsed.e164: parsed})[0][parsed.e164]
        state = load_states(conn, ref.id, [sender], now, routing.reply_window)[sender.id]
    cleaned = clean_text(text)
    decision = route(cleaned, state, routing, now)
    rule = _rule_of(routing.rules, decision.rule_id)
    item = Routed(cleaned, now, sender, decision, state.opted_out)
    brand = str(ref.settings.get("brand") or workspace.name)
    replies = tuple(_reply(action.text, _kind(action.kind, action.reply_kind.value), item, brand)
                    for action in replies_of(decision))  # fmt: skip
    return RoutePreview(
        decision, _why(decision, rule), ref, rule, sender.id if sender.id > 0 else None,
        state.opted_out, replies,
    )  # fmt: skip


def _rule_of(index: RuleIndex, rule_id: int | None) -> RuleValue | None:
    """The rule of the decision, from the very index the router read."""
    if index.default is not None and index.default.id == rule_id:
        return index.default
    for entries in index.by_first_word.values():
        for _, _, rule in entries:
            if rule.id == rule_id:
                return rule
    return None


def _kind(kind: ActionKind, reply_kind: str) -> str:
    return "confirm" if kind == ActionKind.DOUBLE_OPT_IN else reply_kind


def _reply(source: str, kind: str, item: Routed, brand: str) -> PreviewReply:
    body = _render(source, item, brand)  # the very rendering the answers get
    if body is None:
        return PreviewReply(kind, None, problem="; ".join(item.details))
    if not body:
        return PreviewReply(kind, None, problem="the template rendered to nothing")
    try:
        info = analyse(body)
    except UserError as error:
        return PreviewReply(kind, body, problem=error.problem.message)
    return PreviewReply(kind, body, info.encoding.value, info.parts)


def _why(decision: Decision, rule: RuleValue | None) -> Why:
    found = decision.route
    if found == Route.KEYWORD:
        alias = rule is not None and normalise(rule.keyword or "") != decision.keyword
        whole = not decision.rest
        if alias:
            return Why.ALIAS_EXACT if whole else Why.ALIAS_FIRST
        return Why.KEYWORD_EXACT if whole else Why.KEYWORD_FIRST
    return {
        Route.EMPTY: Why.EMPTY,
        Route.FLOOD: Why.FLOOD,
        Route.OPT_OUT: Why.COMPLIANCE,
        Route.OPT_IN: Why.COMPLIANCE,
        Route.HELP: Why.COMPLIANCE,
        Route.CONFIRM_OPT_IN: Why.CONFIRM,
        Route.DEFAULT: Why.DEFAULT,
        Route.CAMPAIGN_REPLY: Why.CAMPAIGN,
        Route.TICKET: Why.TICKET,
    }[found]
