"""Inbound texts: stored, routed by number and keyword, answered, turned into tickets.

The connector runtime calls `handle_inbound` for every `InboundMessage` event (or
`handle_inbound_batch` with what it has collected). One transaction per batch
stores the texts (messages rows, direction "in"), how each was routed, the consent
it gave or withdrew, the answers as outbox rows, and the deliveries of rules'
webhook actions (sent later by the one webhook sender). A text that cannot be
routed (a number we do not own, a sender that is not a phone number, a flood) is
still stored, with the reason.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Engine, select

from smscast.channels.base import InboundMessage
from smscast.config import Settings
from smscast.core.channels import PHONE_CHANNELS, Channel
from smscast.core.encoding import analyse
from smscast.core.errors import UserError
from smscast.core.phones import Phone
from smscast.core.router import CampaignContact, Route, next_state, route
from smscast.core.rule_actions import ActionKind
from smscast.engine.accounts.workspaces import WorkspaceRef, resolve_workspace
from smscast.engine.inbound.actions import (
    Effects,
    Routed,
    carry_out,
    flush_consent,
    queue_replies,
    reply_deltas,
    save_contact_changes,
)
from smscast.engine.inbound.addressed import (
    Placement,
    answer_fields,
    inbound_payload,
    place,
    sender_address,
)
from smscast.engine.inbound.batch_rows import insert_rows_with_ids
from smscast.engine.inbound.double_opt_in import DoubleOptIns
from smscast.engine.inbound.keyword_rules import load_routing
from smscast.engine.inbound.numbers import NumberRef, find_number, numbers_of_connector
from smscast.engine.inbound.resends import Resends, find_resends, resend_key
from smscast.engine.inbound.senders import (
    Sender,
    create_senders,
    find_senders,
    load_senders,
    load_states,
    sender_phone,
)
from smscast.engine.inbound.tickets import tickets_for_inbound
from smscast.engine.tally import Tally
from smscast.engine.traffic import bump_traffic
from smscast.engine.webhooks.events import emit_events, load_subscriptions
from smscast.engine.webhooks.keyword_forward import queue_rule_webhooks
from smscast.store.bulk import DriverValues, insert_returning, insert_rows
from smscast.store.driver_sql import insert_values
from smscast.store.inbound_models import InboundRoute
from smscast.store.messaging_models import Campaign, Message
from smscast.store.models import table_of

log = logging.getLogger(__name__)
messages = table_of(Message)
campaigns = table_of(Campaign)
routes = table_of(InboundRoute)
UNROUTED = "unrouted"
DUPLICATE = "duplicate"  # the carrier sent a text again that is already stored


@dataclass(frozen=True, slots=True)
class InboundResult:
    """What became of one inbound text."""

    message_id: int | None
    route: str
    contact_id: int | None = None
    ticket_id: int | None = None
    replies: int = 0
    detail: str | None = None


def handle_inbound(
    engine: Engine, settings: Settings, connector_id: int, message: InboundMessage
) -> InboundResult:
    """Stores and routes one inbound text that arrived on `connector_id`."""
    return handle_inbound_batch(engine, settings, connector_id, [message])[0]


def handle_inbound_batch(
    engine: Engine, settings: Settings, connector_id: int, batch: list[InboundMessage]
) -> list[InboundResult]:
    """Stores and routes texts in arrival order, in one transaction; results in that order."""
    if not batch:
        return []
    effects = Effects()
    with engine.begin() as conn:
        workspace_id, owned = numbers_of_connector(conn, connector_id)
        if workspace_id is None:
            log.warning("inbound on unknown connector #%d: %d text(s) dropped", connector_id,
                        len(batch))  # fmt: skip
            return [InboundResult(None, UNROUTED, detail=f"no connector #{connector_id}")] * len(
                batch
            )
        workspace = resolve_workspace(conn, str(workspace_id))
        keys = [resend_key(m) for m in batch]
        window = timedelta(seconds=settings.inbound_resend_window_s)
        resends = find_resends(conn, connector_id, batch, keys, window)
        if not resends:
            results = _handle(conn, settings, workspace, connector_id, owned, batch, keys, effects)
        else:
            results = _handle_fresh(conn, settings, workspace, connector_id, owned, batch, keys,
                                    resends, effects)  # fmt: skip
    return results


def _handle_fresh(
    conn: Connection, settings: Settings, workspace: WorkspaceRef, connector_id: int,
    owned: list[NumberRef], batch: list[InboundMessage], keys: list[str], resends: Resends,
    effects: Effects,
) -> list[InboundResult]:  # fmt: skip
    """Routes the texts not sent before; a resend gets the stored copy's id, no route."""
    fresh = [i for i in range(len(batch)) if i not in resends.stored and i not in resends.in_batch]
    routed = _handle(conn, settings, workspace, connector_id, owned, [batch[i] for i in fresh],
                     [keys[i] for i in fresh], effects)  # fmt: skip
    results: dict[int, InboundResult] = dict(zip(fresh, routed, strict=True))
    for index in range(len(batch)):
        if index in resends.stored:
            results[index] = _resent(resends.stored[index])
        elif index in resends.in_batch:
            results[index] = _resent(results[resends.in_batch[index]].message_id)
    return [results[i] for i in range(len(batch))]


def _resent(message_id: int | None) -> InboundResult:
    detail = f"sent again by the carrier: stored before as #{message_id}"
    return InboundResult(message_id, DUPLICATE, detail=detail)


def _handle(
    conn: Connection, settings: Settings, workspace: WorkspaceRef, connector_id: int,
    owned: list[NumberRef], batch: list[InboundMessage], keys: list[str], effects: Effects,
) -> list[InboundResult]:  # fmt: skip
    results: list[InboundResult | None] = [None] * len(batch)
    groups: dict[tuple[int, str], list[int]] = defaultdict(list)
    by_id = {n.id: n for n in owned}
    unrouted: list[tuple[int, NumberRef | None, str]] = []
    found: dict[str, NumberRef | None] = {}
    addressed: list[int] = []
    for index, message in enumerate(batch):
        if message.channel not in PHONE_CHANNELS:
            addressed.append(index)
            continue
        if message.recipient not in found:
            found[message.recipient] = find_number(owned, message.recipient)
        number = found[message.recipient]
        if number is None:
            unrouted.append((index, None, f"{message.recipient} is not a number of this workspace"))
        else:
            groups[(number.id, message.channel)].append(index)
    for (number_id, _), indexes in groups.items():
        number = by_id[number_id]
        for index, result in _handle_number(
            conn,
            settings,
            workspace,
            connector_id,
            number,
            [(i, batch[i]) for i in indexes],
            keys,
            effects,
            unrouted,
        ):
            results[index] = result  # fmt: skip
    if addressed:
        for index, result in _handle_addressed(
            conn,
            settings,
            workspace,
            connector_id,
            owned,
            batch,
            addressed,
            keys,
            effects,
            unrouted,
        ):
            results[index] = result  # fmt: skip
    for index, result in _store_unrouted(conn, workspace, connector_id, batch, keys, unrouted):
        results[index] = result
    return [r for r in results if r is not None]


@dataclass(slots=True)
class _Arrival:
    """One text of a group to route: who sent it, and the campaign it names itself."""

    index: int
    message: InboundMessage
    sender: Sender
    replied: CampaignContact | None = None
    address: str | None = None  # the sender's address when not the phone


def _handle_number(
    conn: Connection, settings: Settings, workspace: WorkspaceRef, connector_id: int,
    number: NumberRef, items: list[tuple[int, InboundMessage]], keys: list[str],
    effects: Effects, unrouted: list[tuple[int, NumberRef | None, str]],
) -> list[tuple[int, InboundResult]]:  # fmt: skip
    """Texts to one number on a phone channel (SMS): the sender is found by phone, and a
    phone nobody has yet becomes a contact."""
    phones: dict[int, Phone] = {}
    for index, message in items:
        phone = sender_phone(message.sender, number.country)
        if phone is None:
            unrouted.append((index, number, f"sender {message.sender!r} is not a phone number"))
        else:
            phones[index] = phone
    if not phones:
        return []
    latest = max(message.received_at for _, message in items)
    by_phone = {p.e164: p for p in phones.values()}
    senders, new = find_senders(conn, workspace.id, by_phone)
    arrivals = [_Arrival(index, message, senders[phones[index].e164])
                for index, message in items if index in phones]  # fmt: skip

    def create() -> None:
        create_senders(conn, workspace.id, new, by_phone, workspace.timezone, latest)

    return _route_and_store(conn, settings, workspace, connector_id, number, arrivals, keys,
                            effects, create)  # fmt: skip


def _handle_addressed(
    conn: Connection, settings: Settings, workspace: WorkspaceRef, connector_id: int,
    owned: list[NumberRef], batch: list[InboundMessage], indexes: list[int], keys: list[str],
    effects: Effects, unrouted: list[tuple[int, NumberRef | None, str]],
) -> list[tuple[int, InboundResult]]:  # fmt: skip
    """Messages on channels whose sender is an address (email, WhatsApp): placed by
    `addressed.place`, then routed as texts are, a group per number and channel."""
    groups: dict[tuple[int, str], list[tuple[int, Placement]]] = defaultdict(list)
    numbers: dict[int, NumberRef] = {}
    for index in indexes:
        message = batch[index]
        placed = place(conn, workspace.id, connector_id, owned, message)
        if placed.number is None:
            unrouted.append((index, None, placed.reason or "no number"))
            continue
        numbers[placed.number.id] = placed.number
        groups[(placed.number.id, message.channel)].append((index, placed))
    out: list[tuple[int, InboundResult]] = []
    for (number_id, _), placements in groups.items():
        number = numbers[number_id]
        known = load_senders(conn, [p.contact_id for _, p in placements if p.contact_id])
        phones: dict[int, Phone] = {}
        arrivals: list[_Arrival] = []
        for index, placed in placements:
            message = batch[index]
            sender = known.get(placed.contact_id or -1)
            if sender is None and message.channel == Channel.WHATSAPP:
                phone = sender_phone(placed.address, number.country)
                if phone is not None:
                    phones[index] = phone
                    continue
            if sender is None:
                unrouted.append((index, number, _stranger(message, placed.address)))
                continue
            arrivals.append(_Arrival(index, message, sender, placed.replied, placed.address))
        by_phone = {p.e164: p for p in phones.values()}
        new: list[Sender] = []
        if by_phone:  # a WhatsApp number nobody has: a phone, so a contact as for SMS
            senders, new = find_senders(conn, workspace.id, by_phone)
            arrivals += [
                _Arrival(index, batch[index], senders[phone.e164],
                         address=sender_address(batch[index]))
                for index, phone in phones.items()
            ]  # fmt: skip
            arrivals.sort(key=lambda a: a.index)
        if not arrivals:
            continue
        latest = max(a.message.received_at for a in arrivals)

        def create(new: list[Sender] = new, by_phone: dict[str, Phone] = by_phone,
                   latest: datetime = latest) -> None:  # fmt: skip
            create_senders(conn, workspace.id, new, by_phone, workspace.timezone, latest)

        out += _route_and_store(conn, settings, workspace, connector_id, number, arrivals, keys,
                                effects, create)  # fmt: skip
    return out


def _stranger(message: InboundMessage, address: str) -> str:
    if message.channel == Channel.EMAIL:
        return f"no contact has the email address {address}: kept, not answered"
    return f"no contact has the {message.channel} address {address}: kept, not answered"


def _route_and_store(
    conn: Connection, settings: Settings, workspace: WorkspaceRef, connector_id: int,
    number: NumberRef, arrivals: list[_Arrival], keys: list[str], effects: Effects,
    create_new: Callable[[], None],
) -> list[tuple[int, InboundResult]]:  # fmt: skip
    """Routes texts to one number on one channel and writes everything they lead to."""
    channel = arrivals[0].message.channel
    latest = max(a.message.received_at for a in arrivals)
    routing = load_routing(conn, workspace, number, settings)
    states = load_states(conn, number.id, [a.sender for a in arrivals], latest,
                         routing.reply_window, channel)  # fmt: skip
    confirm_within = timedelta(hours=settings.double_opt_in_hours)
    planned: list[tuple[int, Routed]] = []
    for arrival in arrivals:
        message, sender = arrival.message, arrival.sender
        state = states[sender.id]
        if arrival.replied is not None:  # it names the campaign it answers
            state = replace(state, last_campaign=arrival.replied)
        text = clean_text(message.text)
        decision = route(text, state, routing, message.received_at)
        states[sender.id] = next_state(state, decision, message.received_at, confirm_within)
        item = Routed(text, message.received_at, sender, decision, state.opted_out,
                      resend_key=keys[arrival.index], link=message.link,
                      channel=message.channel)  # fmt: skip
        if message.channel != Channel.SMS and arrival.address is not None:
            item.address = arrival.address
            item.payload = inbound_payload(message)
            item.answer = answer_fields(message, arrival.address, connector_id)
            item.our_address = message.recipient
        planned.append((arrival.index, item))
    # The batch's writes start here (routing above only read): on SQLite the write
    # lock is held from the first write to the commit.
    create_new()
    ticketed = [
        item
        for _, item in planned
        if any(a.kind == ActionKind.TICKET for a in item.decision.actions)
    ]
    ticket_of = tickets_for_inbound(
        conn, workspace.id, number.id, [(i.sender.id, i.text, i.received_at) for i in ticketed],
        channel,
    )  # fmt: skip
    for item in ticketed:
        item.ticket_id = ticket_of[item.sender.id]
    _insert_inbound(conn, workspace.id, connector_id, number, [item for _, item in planned])
    brand = str(number.settings.get("brand") or workspace.name)
    confirming = [
        item.sender.id
        for _, item in planned
        if any(a.kind == ActionKind.CONFIRM_OPT_IN for a in item.decision.actions)
    ]
    effects.opt_ins = DoubleOptIns(conn, workspace.id, number.id, number.number, confirming)
    for _, item in planned:
        carry_out(workspace.id, number, item, effects, brand, confirm_within)
    flush_consent(conn, effects)
    save_contact_changes(conn, effects.changed, latest)
    effects.changed.clear()
    if effects.replies:
        queue_replies(conn, effects.replies, {item.received_at: item.stamp for _, item in planned})
        effects.replies = []
    if effects.webhooks:
        queue_rule_webhooks(conn, workspace.id, effects.webhooks, latest)
        effects.webhooks = []
    _insert_routes(conn, workspace.id, number, [item for _, item in planned])
    _count(conn, workspace.id, connector_id, number.id, [item for _, item in planned])
    subscriptions = load_subscriptions(conn)
    if subscriptions.wants(workspace.id, "inbound.received"):
        emit_events(conn, subscriptions, workspace.id, "inbound.received", [
            _received(item.message_id, item.address or item.sender.phone,
                      item.our_address or number.number, item.text, item.received_at,
                      item.sender.id, item.ticket_id, item.decision.route.value,
                      item.decision.keyword, item.channel)
            for _, item in planned
        ], latest)  # fmt: skip
    return [(index, _result(item)) for index, item in planned]


def _received(
    message_id: int, sender: str, number: str | None, text: str, at: datetime,
    contact_id: int | None, ticket_id: int | None, route: str, keyword: str | None,
    channel: str = "sms",
) -> dict[str, Any]:  # fmt: skip
    return {"message_id": message_id, "from": sender, "to": number, "channel": channel,
            "text": text, "received_at": at.isoformat(), "contact_id": contact_id,
            "ticket_id": ticket_id, "route": route, "keyword": keyword}  # fmt: skip


def _emit_received(
    conn: Connection, workspace_id: int, items: list[dict[str, Any]], now: datetime
) -> None:
    """Queues `inbound.received` for subscribers, once routing decided each text's fate."""
    subscriptions = load_subscriptions(conn)
    if items and subscriptions.wants(workspace_id, "inbound.received"):
        emit_events(conn, subscriptions, workspace_id, "inbound.received", items, now)


def clean_text(text: str) -> str:
    """What can be stored on every database: no NUL, no lone surrogates (from a broken
    UCS-2 part); everything else is kept exactly as received."""
    text = text.replace("\x00", "")
    return text.encode("utf-8", "replace").decode("utf-8")


@lru_cache(maxsize=4096)
def _text_info(text: str) -> tuple[str, int]:
    try:
        info = analyse(text)
    except UserError:  # longer than any SMS we would send: still an inbound text
        return "UCS-2", 0
    return info.encoding.value, info.parts


MESSAGE_COLUMNS = (
    "workspace_id", "direction", "kind", "purpose", "contact_id", "phone", "number_id",
    "connector_id", "ticket_id", "body", "encoding", "parts", "parts_done", "cost", "status",
    "run", "attempts", "error", "created_at", "done_at", "resend_key",
    "inbound_link",
)  # fmt: skip


#: An inbound row on another channel than SMS also keeps the channel, the sender's
#: address on it and what came with the text (subject, Message-ID).
CHANNEL_COLUMNS = (*MESSAGE_COLUMNS, "channel", "address", "payload")


def _insert_inbound(
    conn: Connection, workspace_id: int, connector_id: int, number: NumberRef, items: list[Routed]
) -> None:
    """Stores a group's texts: all of one channel, so of one column set."""
    values = DriverValues(conn)
    rows = []
    other = items[0].channel != Channel.SMS
    for item in items:
        encoding, parts = _text_info(item.text) if not other else ("UTF-8", 1)
        status = "set_aside" if item.decision.route == Route.FLOOD else "received"
        at = item.stamp = values.moment(item.received_at)
        row: tuple[Any, ...] = (
            workspace_id, "in", "inbound", "informational", item.sender.id, item.sender.phone,
            number.id, connector_id, item.ticket_id, item.text, encoding, parts, parts, 0,
            status, 0, 0, None, at, at, item.resend_key, item.link or None,
        )  # fmt: skip
        if other:
            payload = values.json(item.payload) if item.payload is not None else None
            row += (item.channel, item.address, payload)
        rows.append(row)
    columns = CHANNEL_COLUMNS if other else MESSAGE_COLUMNS
    ids = insert_rows_with_ids(conn, messages, columns, rows)
    for item, message_id in zip(items, ids, strict=True):
        item.message_id = message_id


ROUTE_COLUMNS = (
    "message_id", "workspace_id", "number_id", "contact_id", "route", "keyword", "rule_id",
    "campaign_id", "replies", "suppressed", "detail", "received_at",
)  # fmt: skip
ROUTES_INSERT = f"INSERT INTO {routes.name} ({', '.join(ROUTE_COLUMNS)})"


def _insert_routes(
    conn: Connection, workspace_id: int, number: NumberRef | None, items: list[Routed]
) -> None:
    number_id = number.id if number else None
    insert_values(conn, ROUTES_INSERT, [
        (
            item.message_id, workspace_id, number_id, item.sender.id,
            item.decision.route.value, item.decision.keyword, item.decision.rule_id,
            item.decision.campaign_id, item.replies, item.decision.suppressed,
            _detail(item), item.stamp,
        )
        for item in items
    ])  # fmt: skip


def _detail(item: Routed) -> str | None:
    if item.detail is not None:
        return item.detail or None
    details = list(item.details)
    if item.decision.route == Route.FLOOD:
        details.append("flood: too many texts from this sender in the last minute")
    if item.decision.suppressed:
        details.append(f"loop guard: {item.decision.suppressed} automatic answer(s) held back")
    item.detail = "; ".join(details)  # asked for twice per text, once actions are done
    return item.detail or None


def _count(conn: Connection, workspace_id: int, connector_id: int, number_id: int,
           items: list[Routed]) -> None:  # fmt: skip
    """Counts the batch's texts where they arrived (`traffic_stats`), and the replies
    and opt-outs they bring to the campaigns they answer (`campaign_stats`).

    An answer to a campaign is counted under the campaign's purpose, so the dashboard's
    purpose filter keeps a promotional campaign's replies and opt-outs with its texts."""
    tally = Tally()
    answered = {i.decision.campaign_id for i in items if i.decision.campaign_id is not None}
    purposes: dict[int | None, str] = {}
    if answered:
        rows = conn.execute(
            select(campaigns.c.id, campaigns.c.purpose).where(campaigns.c.id.in_(answered))
        )
        purposes.update((row.id, row.purpose) for row in rows)
    # Texts alike (same campaign, hour and counts) are summed first: the tally then
    # takes a few additions per batch, not one per text.
    alike: Counter[tuple[int | None, datetime, tuple[tuple[str, int], ...]]] = Counter()
    hour_start = hour_end = None
    for item in items:
        at = item.received_at
        if hour_start is None or hour_end is None or not hour_start <= at < hour_end:
            hour_start = at.replace(minute=0, second=0, microsecond=0)
            hour_end = hour_start + timedelta(hours=1)
        alike[(item.decision.campaign_id, hour_start, tuple(reply_deltas(item).items()))] += 1
    for (campaign_id, hour, deltas), count in alike.items():
        summed = {name: value * count for name, value in deltas}
        if campaign_id is not None and summed:
            tally.add(campaign_id, hour, None, **summed)
        route = (workspace_id, connector_id, number_id,
                 purposes.get(campaign_id, "informational"), campaign_id or 0)  # fmt: skip
        tally.add_traffic(route, hour, inbound=count, **summed)
    tally.write(conn)


def _result(item: Routed) -> InboundResult:
    return InboundResult(item.message_id, item.decision.route.value, item.sender.id,
                         item.ticket_id, item.replies, _detail(item))  # fmt: skip


def _store_unrouted(
    conn: Connection, workspace: WorkspaceRef, connector_id: int, batch: list[InboundMessage],
    keys: list[str], unrouted: list[tuple[int, NumberRef | None, str]],
) -> list[tuple[int, InboundResult]]:  # fmt: skip
    """Keeps texts nobody can answer, with the reason, for the operator to see."""
    out: list[tuple[int, InboundResult]] = []
    values = DriverValues(conn)
    for index, number, reason in sorted(unrouted, key=lambda u: u[0]):
        message = batch[index]
        text = clean_text(message.text)
        addressed = message.channel != Channel.SMS
        encoding, parts = _text_info(text) if not addressed else ("UTF-8", 1)
        at = values.moment(message.received_at)
        phone = message.sender[:20] if message.channel in PHONE_CHANNELS else ""
        row: tuple[Any, ...] = (
            workspace.id, "in", "inbound", "informational", None, phone,
            number.id if number else None, connector_id, None, text, encoding, parts, parts, 0,
            UNROUTED, 0, 0, reason, at, at, keys[index], message.link or None,
        )  # fmt: skip
        columns: tuple[str, ...] = MESSAGE_COLUMNS
        if addressed:
            payload = inbound_payload(message)
            row += (message.channel, sender_address(message)[:512],
                    values.json(payload) if payload is not None else None)  # fmt: skip
            columns = CHANNEL_COLUMNS
        [(message_id,)] = insert_returning(conn, messages, columns, [row], ("id",))
        insert_rows(conn, routes, ROUTE_COLUMNS, [(
            message_id, workspace.id, number.id if number else None, None, UNROUTED, None, None,
            None, 0, 0, reason, at,
        )])  # fmt: skip
        log.warning("inbound from %s to %s not routed: %s", message.sender, message.recipient,
                    reason)  # fmt: skip
        out.append((index, InboundResult(int(message_id), UNROUTED, detail=reason)))
        route = (workspace.id, connector_id, number.id if number else 0, "informational", 0)
        bump_traffic(conn, route, message.received_at, inbound=1)
        _emit_received(conn, workspace.id, [
            _received(int(message_id), message.sender, message.recipient, text,
                      message.received_at, None, None, UNROUTED, None, message.channel)
        ], message.received_at)  # fmt: skip
    return out
