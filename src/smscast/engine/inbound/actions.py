"""Carrying out the router's decisions for a batch, inside its transaction.

Consent events, tags and attributes, double opt-ins, tickets and the answers (as
outbox rows) are written here; a rule's webhook posts are collected and queued as
deliveries of the one webhook sender in the same transaction (no HTTP in here).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection

from smscast.core.consent import Action, Source
from smscast.core.encoding import TextInfo, analyse
from smscast.core.errors import UserError
from smscast.core.router import REPLY_ROUTES, Decision, Route
from smscast.core.rule_actions import ActionKind, RuleAction
from smscast.core.templates import MessageTemplate, compile_template, render
from smscast.engine.inbound.consent_by_text import write_text_consents
from smscast.engine.inbound.double_opt_in import DoubleOptIns, pending_row
from smscast.engine.inbound.numbers import NumberRef
from smscast.engine.inbound.senders import Sender
from smscast.engine.sending.outbox import enqueue_messages
from smscast.engine.webhooks.keyword_forward import RuleWebhook
from smscast.store.bulk import DriverValues
from smscast.store.driver_sql import insert_values, update_by_ids
from smscast.store.messaging_models import Message
from smscast.store.models import Contact, table_of

contacts = table_of(Contact)
messages = table_of(Message)


@dataclass(slots=True)
class Routed:
    """One inbound text of the batch, its sender and what the router decided."""

    text: str
    received_at: datetime
    sender: Sender
    decision: Decision
    was_opted_out: bool
    message_id: int = 0
    ticket_id: int | None = None
    replies: int = 0
    details: list[str] = field(default_factory=list)
    resend_key: str | None = None
    stamp: Any = None  # received_at as the driver takes it, once converted
    detail: str | None = None  # the details joined, once every action is done
    link: str = ""  # the connection it came over (see engine.inbound_resend)
    #: The channel it came on: consent it gives or withdraws is that channel's, and the
    #: answers go back on it.
    channel: str = "sms"
    address: str | None = None  # the sender's address when not the phone (email, WhatsApp)
    payload: dict[str, Any] | None = None  # kept on the inbound row (subject, Message-ID)
    #: What every answer's outbox row carries beside the SMS fields: channel, address,
    #: payload (an email's "Re:" subject and In-Reply-To) and the connector it leaves by.
    answer: dict[str, Any] | None = None
    our_address: str = ""  # the address it was written to, when not the number


@dataclass(slots=True)
class Effects:
    """What the batch leaves to do after the actions: rows to queue, posts to send."""

    replies: list[dict[str, Any]] = field(default_factory=list)
    webhooks: list[RuleWebhook] = field(default_factory=list)
    changed: dict[int, Sender] = field(default_factory=dict)
    consent: list[dict[str, Any]] = field(default_factory=list)  # ledger rows, in order
    #: The double opt-ins of the texts to the number being routed (see `DoubleOptIns`).
    opt_ins: DoubleOptIns | None = None


def flush_consent(conn: Connection, effects: Effects) -> None:
    """Writes the consent events and double opt-ins collected so far."""
    if effects.consent:
        write_text_consents(conn, effects.consent)
        effects.consent = []
    if effects.opt_ins is not None:
        effects.opt_ins.write(conn)


@lru_cache(maxsize=512)
def _template(source: str) -> MessageTemplate:
    return compile_template(source)


@lru_cache(maxsize=4096)
def _analysis(body: str) -> TextInfo:
    """Answers repeat (most are a keyword's fixed text): each is analysed once."""
    return analyse(body)


def carry_out(
    workspace_id: int, number: NumberRef, item: Routed, effects: Effects, brand: str,
    confirm_within: timedelta,
) -> None:  # fmt: skip
    """Performs every action of one decision, in order, into `effects`: nothing is
    written until the batch's `flush_consent` and the writes after it."""
    opt_ins = effects.opt_ins
    assert opt_ins is not None, "the number's DoubleOptIns are set before its texts"
    for action in item.decision.actions:
        kind = action.kind
        if kind == ActionKind.REPLY:
            _reply(workspace_id, number, item, action, action.text, effects, brand)
        elif kind in (ActionKind.OPT_IN, ActionKind.OPT_OUT):
            consent = Action.OPT_IN if kind == ActionKind.OPT_IN else Action.OPT_OUT
            effects.consent.append({
                "workspace_id": workspace_id, "contact_id": item.sender.id,
                "channel": item.channel, "purpose": action.purpose, "action": consent.value,
                "source": Source.KEYWORD.value, "evidence": item.text,
                "actor": f"{item.channel}:{item.our_address or number.number}",
                "occurred_at": item.received_at,
            })  # fmt: skip
            if consent == Action.OPT_OUT:
                opt_ins.opted_out(item.sender.id, item.channel, action.purpose, item.received_at)
        elif kind == ActionKind.DOUBLE_OPT_IN:
            prompt = _render(action.text, item, brand) if action.text else None
            opt_ins.start(pending_row(
                workspace_id=workspace_id, contact_id=item.sender.id, number_id=number.id,
                rule_id=item.decision.rule_id, purpose=action.purpose, join_text=item.text,
                prompt_text=prompt or "", now=item.received_at, within=confirm_within,
            ))  # fmt: skip  # fmt: skip
            if prompt is not None:
                _queue(workspace_id, number, item, "confirm", prompt, effects)
        elif kind == ActionKind.CONFIRM_OPT_IN:
            confirmed = opt_ins.confirm(item.sender.id, item.text, item.received_at)
            if confirmed is None:
                item.details.append("no double opt-in waiting any more")
                return
            effects.consent.append(confirmed)  # after this contact's earlier events
        elif kind == ActionKind.TAG:
            if action.name not in item.sender.tags:
                item.sender.tags.append(action.name)
                effects.changed[item.sender.id] = item.sender
        elif kind == ActionKind.SET_ATTRIBUTE:
            value = _render(action.text, item, brand) if action.text else item.decision.rest
            if value is not None:
                item.sender.attributes[action.name] = value
                effects.changed[item.sender.id] = item.sender
        elif kind == ActionKind.WEBHOOK and item.decision.rule_id is not None:
            data = _payload(number, item)
            effects.webhooks.append(RuleWebhook(item.decision.rule_id, action.url, data))
        # TICKET is resolved before the inbound rows are written (they carry its id).


def _reply(
    workspace_id: int, number: NumberRef, item: Routed, action: RuleAction, source: str,
    effects: Effects, brand: str,
) -> None:  # fmt: skip
    body = _render(source, item, brand)
    if body is not None:
        _queue(workspace_id, number, item, action.reply_kind.value, body, effects)


def _render(source: str, item: Routed, brand: str) -> str | None:
    values = {
        **item.sender.attributes, "phone": item.sender.phone, "text": item.text,
        "keyword": item.decision.keyword or "", "rest": item.decision.rest, "sender": brand,
    }  # fmt: skip
    try:
        return render(_template(source), values, language=item.sender.language or "en").strip()
    except UserError as error:
        item.details.append(f"answer not sent: {error.problem.message}")
        return None


def _queue(
    workspace_id: int, number: NumberRef, item: Routed, kind: str, body: str, effects: Effects
) -> None:
    if not body:
        item.details.append("answer not sent: the template rendered to nothing")
        return
    if item.answer is not None:  # another channel: one unit whatever its length
        effects.replies.append({
            "workspace_id": workspace_id, "direction": "out", "kind": kind,
            "purpose": "informational", "contact_id": item.sender.id, "phone": item.sender.phone,
            "number_id": number.id, "ticket_id": item.ticket_id, "body": body,
            "encoding": "UTF-8", "parts": 1, "status": "queued",
            "send_after": item.received_at, "created_at": item.received_at, **item.answer,
        })  # fmt: skip
        item.replies += 1
        return
    try:
        info = _analysis(body)
    except UserError as error:
        item.details.append(f"answer not sent: {error.problem.message}")
        return
    effects.replies.append({
        "workspace_id": workspace_id, "direction": "out", "kind": kind,
        "purpose": "informational", "contact_id": item.sender.id, "phone": item.sender.phone,
        "number_id": number.id, "connector_id": number.connector_id, "ticket_id": item.ticket_id,
        "body": body, "encoding": info.encoding.value, "parts": info.parts, "status": "queued",
        "send_after": item.received_at, "created_at": item.received_at,
    })  # fmt: skip
    item.replies += 1


def _payload(number: NumberRef, item: Routed) -> dict[str, Any]:
    decision = item.decision
    return {
        "message_id": item.message_id, "from": item.address or item.sender.phone,
        "to": item.our_address or number.number, "channel": item.channel, "text": item.text,
        "received_at": item.received_at.isoformat(),
        "route": decision.route.value, "keyword": decision.keyword, "rest": decision.rest,
        "rule_id": decision.rule_id, "campaign_id": decision.campaign_id,
        "contact_id": item.sender.id,
    }  # fmt: skip


REPLY_COLUMNS = (
    "workspace_id", "direction", "kind", "purpose", "contact_id", "phone", "number_id",
    "connector_id", "ticket_id", "body", "encoding", "parts", "parts_done", "cost", "status",
    "run", "attempts", "send_after", "created_at",
)  # fmt: skip
REPLIES_INSERT = f"INSERT INTO {messages.name} ({', '.join(REPLY_COLUMNS)})"


def queue_replies(
    conn: Connection, rows: list[dict[str, Any]], stamps: dict[datetime, Any] | None = None
) -> None:
    """Queues the answers as `enqueue_messages` would, in one driver-level insert: each
    already names its number, connector, encoding and parts. One whose number has no
    connector, or that goes on another channel than SMS, is left to `enqueue_messages`,
    which picks the workspace's connector and writes the channel's columns.

    `stamps` has the driver's form of moments converted before (the inbound rows'):
    an answer is created when its text arrived."""
    addressed = [row for row in rows if "channel" in row]
    if addressed:
        enqueue_messages(conn, addressed)
        rows = [row for row in rows if "channel" not in row]
        if not rows:
            return
    if any(row["connector_id"] is None for row in rows):
        enqueue_messages(conn, rows)
        return
    values = DriverValues(conn)
    stamps = stamps if stamps is not None else {}  # moments already converted, by value
    out = []
    for r in rows:
        at = r["created_at"]
        stamp = stamps.get(at) or stamps.setdefault(at, values.moment(at))
        after = stamp if r["send_after"] == at else values.moment(r["send_after"])
        out.append((
            r["workspace_id"], "out", r["kind"], r["purpose"], r["contact_id"], r["phone"],
            r["number_id"], r["connector_id"], r["ticket_id"], r["body"], r["encoding"],
            r["parts"], 0, 0, "queued", 0, 0, after, stamp,
        ))  # fmt: skip
    insert_values(conn, REPLIES_INSERT, out)


def save_contact_changes(conn: Connection, changed: dict[int, Sender], now: datetime) -> None:
    """Writes tags and attributes the batch's actions changed, one row per contact."""
    if not changed:
        return
    values = DriverValues(conn)
    at = values.moment(now)
    update_by_ids(  # contacts given the same tag alike: one statement for them all
        conn,
        "UPDATE contacts SET tags = ?, attributes = ?, updated_at = ? WHERE id {ids}",
        [(values.json(s.tags), values.json(s.attributes), at, s.id) for s in changed.values()],
    )


def reply_deltas(item: Routed) -> dict[str, int]:
    """What one inbound counts as: a reply, perhaps an opt-out - for the campaign it
    answers, and in the workspace's traffic whether it answers a campaign or not.

    A STOP, START or HELP is not a reply (see `REPLY_ROUTES`): counted as one, a
    campaign's reply rate would rise with its opt-outs."""
    decision = item.decision
    if decision.route in (Route.EMPTY, Route.FLOOD):
        return {}
    deltas = {"replies": 1} if decision.route in REPLY_ROUTES else {}
    opts_out = any(
        a.kind == ActionKind.OPT_OUT and a.purpose in ("all", "promotional")
        for a in decision.actions
    )
    if opts_out and not item.was_opted_out:
        deltas["opt_outs"] = 1
    return deltas
