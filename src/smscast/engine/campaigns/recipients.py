"""Turning one batch of segment members into outbox rows: checks, text, timing.

Everything here is in memory; `smscast.engine.campaigns.launch` reads the batch, claims the
coupons and tokens, and writes what this returns. Templates are compiled once per
launch and rendered per contact; the time zone arithmetic is cached per zone.

A campaign on plain SMS takes the path tuned for millions (`screen`, `build`). One
with a chain of channels (`ChainStep`) picks each person's first channel on which
they have an address, consent for the campaign's purpose and no suppression, and
renders that step and every later usable one alike (same coupon, same tracked link);
the later ones ride in the row's `payload["next"]` until `fallback` needs them.
"""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, NamedTuple, cast

from smscast.core.campaign_rules import CampaignRules
from smscast.core.channels import PHONE_CHANNELS, Channel
from smscast.core.consent import Purpose, Status, may_send
from smscast.core.cost import (
    DEFAULT_TABLES,
    Counted,
    MessageRules,
    Recipient,
    compose_counted,
    count_finished,
    finished_text,
)
from smscast.core.encoding import Encoding, National, varying_chars
from smscast.core.errors import Problem, UserError
from smscast.core.links import short_url
from smscast.core.national import national_label
from smscast.core.phones import timezone_for_phone
from smscast.core.schedule import (
    next_allowed_time_in_zones,
    next_local_time,
    spread_offset,
    zone_of,
)
from smscast.core.smart import Replacements, merge_replacements, replacements_json
from smscast.core.templates import MessageTemplate, render
from smscast.core.text_frames import TextFrames

VALID_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_UNKNOWN = "?"
MEMBER_FIELDS = frozenset({"phone", "country", "language", "timezone", "email"})
"""Names a template reads from the contact itself rather than its attributes."""
_ABSENT = object()
"""A template variable the contact has no value for, in a frame key."""
SPLIT_SEED = 0x5BD1E995
SAMPLE_SEED = 0x27D4EB2F
NO_ADDRESS = "no_address"
"""A chain's member with no address on any of its channels."""
SUPPRESSED = "suppressed"
"""A member whose only addresses bounced or complained: no address we may use."""
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def bucket(contact_id: int, seed: int) -> int:
    """A stable 0–99 bucket per contact: the same on every run and every machine."""
    return ((contact_id * 0x9E3779B97F4A7C15 + seed) & 0xFFFFFFFFFFFF) % 100


@dataclass(frozen=True, slots=True)
class Variant:
    id: int
    template: MessageTemplate
    share: int


@dataclass(frozen=True, slots=True)
class Timing:
    """When a run's messages become due: now or at, per local time, spread, quiet hours."""

    start: datetime
    local_time: time | None
    spread: timedelta
    quiet: bool
    validity: timedelta | None


class Member(NamedTuple):
    """One segment member as read from the database (a tuple: a launch makes millions)."""

    id: int
    phone: str
    country: str
    attributes: dict[str, Any]
    language: str | None
    timezone: str
    consent: str | None
    email: str | None = None


class OutboxRow(NamedTuple):
    """What a launch decides for one recipient; the rest of the message row is constant.

    Named as the message columns and ready for the driver (times already converted
    by the builder's `stamp`), so a batch goes to the database as it is.
    """

    contact_id: int
    phone: str
    variant_id: int
    body: str
    encoding: str
    parts: int
    cost: float
    send_after: Any
    valid_until: Any
    coupon_code: str | None
    link_token: str | None
    national: str | None
    """The national shift tables the text is encoded with ("tr/tr", "/es"), None: default."""
    smart_changes: str | None
    """JSON object of what smart encoding replaced (character -> stand-in), None: nothing."""
    due_at: Any
    """When the text was due had quiet hours not moved it (None: not moved)."""


class ChainRow(NamedTuple):
    """An outbox row of a campaign on a chain of channels: `OutboxRow`'s columns and the
    channel's, the connector differing from row to row with the channel."""

    contact_id: int
    phone: str
    variant_id: int
    body: str
    encoding: str
    parts: int
    cost: float
    send_after: Any
    valid_until: Any
    coupon_code: str | None
    link_token: str | None
    national: str | None
    smart_changes: str | None
    due_at: Any
    channel: str
    address: str | None
    payload: str | None
    """JSON text: the channel's content and, under "next", the later steps rendered."""
    chain_step: int
    fallback_at: Any
    connector_id: int | None


@dataclass(frozen=True, slots=True)
class ChainStep:
    """One channel of a campaign's chain, its texts compiled once for the launch."""

    index: int
    channel: str
    connector_id: int | None
    price: float
    """Per message (per part on SMS): the workspace's `part_price` or `price_<channel>`."""
    quiet: bool
    """Whether quiet hours hold this channel's messages for this campaign."""
    body: MessageTemplate | None = None
    """The channel's own text; None: the person's variant of the campaign's body."""
    subject: MessageTemplate | None = None
    html: MessageTemplate | None = None
    title: MessageTemplate | None = None
    url: MessageTemplate | None = None
    params: tuple[MessageTemplate, ...] = ()
    template: str | None = None
    language: str | None = None

    def templates(self) -> list[MessageTemplate]:
        texts = [self.body, self.subject, self.html, self.title, self.url, *self.params]
        return [t for t in texts if t is not None]


@dataclass(frozen=True, slots=True)
class Reach:
    """How one batch's members can be reached beyond their phone and email, read with the
    batch: consent per channel for the campaign's purpose, WhatsApp numbers, the newest
    push subscription, and which of their addresses are suppressed."""

    consent: dict[tuple[int, str], str] = field(default_factory=dict)
    whatsapp: dict[int, str] = field(default_factory=dict)
    push: dict[int, int] = field(default_factory=dict)
    suppressed: set[tuple[str, str]] = field(default_factory=set)
    capped: set[tuple[int, str]] = field(default_factory=set)  # (member, channel)


Route = tuple[tuple[ChainStep, str], ...]
"""A member's usable steps in chain order with their address there; the first is sent."""


@dataclass
class BuiltBatch:
    rows: list[OutboxRow] = field(default_factory=list)
    """`ChainRow`s on a chain's campaign: the same first columns, then the channel's."""
    excluded: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    parts: int = 0
    smart_changed: int = 0
    """Texts smart encoding changed (the campaign counter `smart_changed`)."""
    smart_characters: dict[str, str] = field(default_factory=dict)
    """Every character smart encoding replaced in this batch, and its stand-in."""
    noted: int = 0
    """Rows with national tables or a `due_at`: with this and `smart_changed` 0, the
    rows' last three columns are NULL throughout (the writer then binds them once)."""
    new_links: dict[str, int] = field(default_factory=dict)
    unused_coupons: list[str] = field(default_factory=list)
    """Codes claimed for members whose text could not be made: they go back to the pool."""


class RecipientBuilder:
    """Builds outbox rows for the members of one launch stage."""

    def __init__(
        self, *, purpose: str, variants: list[Variant], rules: CampaignRules,
        message_rules: MessageRules, timing: Timing, links: dict[str, int],
        workspace_zone: str, stamp: Callable[[datetime], Any],
        chain: tuple[ChainStep, ...] = (), fallback_after: timedelta | None = None,
    ) -> None:  # fmt: skip
        self.chain = chain
        """Empty for a campaign on plain SMS (the fast path), else its channels in order."""
        self.fallback_after = fallback_after
        self._routes: dict[int, Route] = {}
        self._earlier_routes: dict[int, Route] = {}
        self._seen_addresses: set[tuple[str, str]] = set()
        self._chain_names = tuple(dict.fromkeys(
            [n for v in variants for n in _value_names(v.template)]
            + [use.name for step in chain for t in step.templates() for use in t.variables]
        ))  # fmt: skip
        self.purpose = Purpose(purpose)
        self.variants = variants
        self.rules = rules
        self.message_rules = message_rules
        self.timing = timing
        self.links = links
        self.workspace_zone = workspace_zone
        self.stamp = stamp
        """A time as the driver stores it (text on SQLite)."""
        self._stamps: dict[datetime, Any] = {}
        self._names = {v.id: _value_names(v.template) for v in variants}
        self._keyed = {v.id: tuple(n for n in self._names[v.id] if n != "coupon") for v in variants}
        """What a text depends on besides its coupon and token: the key of its frame."""
        self._keyed_fields = {v.id: tuple(n for n in self._names[v.id] if n in MEMBER_FIELDS)
                              for v in variants}  # fmt: skip
        self.frames = TextFrames()
        self._changes_json: dict[Replacements, str | None] = {}
        tables = message_rules.tables
        self._varying = varying_chars(tables) if tables else None
        self._with_tables: dict[Hashable, tuple[Encoding, int, National]] = {}
        """(frame key, language, lengths) -> what a text counted with the connector's tables."""
        self.seen_phones: set[int] = set()
        self._local_start: dict[str, datetime] = {}
        self._zones: dict[tuple[str, str], tuple[str, ...]] = {}
        self._allowed: dict[tuple[datetime, tuple[str, ...]], datetime] = {}
        self._consent: dict[str | None, str | None] = {}
        """Consent state -> exclusion reason (or None): a handful of states, millions of checks."""
        self._cumulative = self._split_points()

    def _split_points(self) -> list[tuple[int, Variant]]:
        points, total = [], 0
        for variant in self.variants:
            total += variant.share
            points.append((total, variant))
        return points

    def variant_for(self, contact_id: int) -> Variant:
        if len(self.variants) == 1:
            return self.variants[0]
        slot = bucket(contact_id, SPLIT_SEED) * sum(v.share for v in self.variants) // 100
        return next((v for end, v in self._cumulative if slot < end), self.variants[-1])

    def exclusion(self, member: Member, capped: set[int]) -> str | None:
        """Why a member gets no message, or None."""
        if not VALID_E164.match(member.phone):
            return "invalid_number"
        phone_key = int(member.phone[1:])
        if phone_key in self.seen_phones:
            return "duplicate"
        self.seen_phones.add(phone_key)
        consent = self._consent.get(member.consent, _UNKNOWN)
        if consent is _UNKNOWN:
            consent = self._consent[member.consent] = self._consent_exclusion(member.consent)
        if consent is not None:
            return consent
        if member.id in capped:
            return "capped"
        return None

    def _consent_exclusion(self, consent: str | None) -> str | None:
        status = Status(consent) if consent else None
        if not may_send(status, self.purpose):
            return "opted_out" if status == Status.OPTED_OUT else "no_consent"
        return None

    def zones(self, member: Member) -> tuple[str, ...]:
        key = (member.timezone or self.workspace_zone, member.phone[:6])
        zones = self._zones.get(key)
        if zones is None:
            own = key[0]
            try:
                zone_of(own)
            except UserError:
                own = self.workspace_zone
            by_number = timezone_for_phone(member.phone, own)
            zones = (own,) if by_number == own else (own, by_number)
            self._zones[key] = zones
        return zones

    def send_after(
        self, member: Member, zones: tuple[str, ...], quiet: bool | None = None
    ) -> tuple[datetime, datetime | None]:
        """When the member's text goes, and when it was due if quiet hours moved it
        (`messages.due_at`: what the report's wait and a change of quiet hours start from).
        `quiet`: whether quiet hours apply, when the channel decides (else the timing)."""
        timing = self.timing
        due = timing.start
        if timing.local_time is not None:
            due = self._local_start.get(zones[0]) or self._local_start.setdefault(
                zones[0], next_local_time(timing.start, timing.local_time, zones[0])
            )
        if timing.spread:
            due += spread_offset(member.id, timing.spread)
        if timing.quiet if quiet is None else quiet:  # pure in (due, zones): see below
            key = (due, zones)
            allowed = self._allowed.get(key)
            if allowed is None:
                if len(self._allowed) > 10_000:
                    self._allowed.clear()
                allowed = self._allowed[key] = next_allowed_time_in_zones(
                    due, zones, self.rules.quiet
                )
            if allowed != due:
                return allowed, due
        return due, None

    def compose(self, member: Member, variant: Variant, coupon: str | None,
                token: str | None, batch: BuiltBatch) -> Counted:  # fmt: skip
        """The member's text as sent (see `Counted`); a UserError when it cannot be made,
        an empty text included."""
        template = variant.template
        language = member.language or "en"
        if not template.plain or self.message_rules.smart:
            recipient = Recipient(str(member.id), self._values(member, variant, coupon), language,
                                  None)  # fmt: skip
            return compose_counted(template, recipient, self.message_rules,
                                   link=self._linker(token, batch))  # fmt: skip

        def render_with(code: str | None, link_token: str | None) -> str:
            return render(template, self._values(member, variant, code), language=language,
                          link=self._linker(link_token, batch))  # fmt: skip

        attributes = member.attributes
        try:  # what the text depends on besides its coupon and token
            key = (variant.id, coupon is None, token is None,
                   *[attributes.get(name, _ABSENT) for name in self._keyed[variant.id]],
                   *[getattr(member, name) for name in self._keyed_fields[variant.id]])  # fmt: skip
            body, units = self.frames.text_and_units(key, coupon, token, render_with)
        except TypeError:  # a list or mapping among the values: not a key, render it
            return count_finished(render_with(coupon, token), language, self.message_rules)
        if self._varying is not None and units is not Encoding.GSM7:
            return self._count_with_tables(key, body, language, coupon, token, units)
        return count_finished(body, language, self.message_rules, units)

    def _count_with_tables(self, key: Hashable, body: str, language: str, coupon: str | None,
                           token: str | None, units: Encoding | None) -> Counted:  # fmt: skip
        """`count_finished` with the connector's national tables, once per frame.

        Choosing among the tables reads the whole text several times (ten times the cost
        of UCS-2's arithmetic); texts of one frame whose coupon and token have the same
        lengths and only characters every allowed alphabet takes as one septet get the
        same plan (see `varying_chars`), so only the first of them is read.
        """
        rules = self.message_rules
        assert self._varying is not None
        if self._varying.search((coupon or "") + (token or "")) is not None:
            return count_finished(body, language, rules, units)
        text = finished_text(body, language, rules)
        memo = (key, language, len(coupon or ""), len(token or ""), len(text))
        known = self._with_tables.get(memo)
        if known is None:
            counted = count_finished(body, language, rules, units)
            if len(self._with_tables) > 20_000:
                self._with_tables.clear()
            self._with_tables[memo] = counted[1:4]
            return counted
        encoding, parts, national = known
        return text, encoding, parts, national, ()

    def _values(self, member: Member, variant: Variant, coupon: str | None) -> dict[str, Any]:
        """The names a template reads: the contact's attributes, its own fields, the coupon."""
        attributes = member.attributes
        values = {name: attributes[name] for name in self._names[variant.id] if name in attributes}
        values.update(phone=member.phone, country=member.country, language=member.language or "",
                      timezone=member.timezone, email=member.email or "")  # fmt: skip
        if coupon is not None:
            values["coupon"] = coupon
        return values

    def _linker(self, token: str | None, batch: BuiltBatch) -> Callable[[str], str]:
        def link(url: str) -> str:
            position = self.links.get(url)
            if position is None:
                position = len(self.links) + 1
                self.links[url] = position
                batch.new_links[url] = position
            return short_url(self.rules.short_domain, token or "", position)

        return link

    def forget_links(self, urls: Iterable[str]) -> None:
        """URLs a batch that was not written first numbered: the next batch numbers them again
        (and no kept text may carry the old numbers)."""
        for url in urls:
            self.links.pop(url, None)
        self.frames.clear()
        self._with_tables.clear()

    def stamped(self, at: datetime) -> Any:
        """`stamp(at)`, remembered: most rows of a launch share a handful of times."""
        stored = self._stamps.get(at)
        if stored is None:
            if len(self._stamps) > 10_000:
                self._stamps.clear()
            stored = self._stamps[at] = self.stamp(at)
        return stored

    def screen(self, members: list[Member], capped: set[int], reach: Reach | None = None
               ) -> tuple[list[Member], BuiltBatch]:  # fmt: skip
        """The members that may get a message; the others counted by reason in the batch.
        A chain's campaign needs the batch's `reach` (see `launch_plan.read_reach`)."""
        if self.chain:
            return self._screen_chain(members, capped, reach or Reach())
        batch = BuiltBatch()
        eligible = []
        for member in members:
            reason = self.exclusion(member, capped)
            if reason is None:
                eligible.append(member)
            else:
                batch.excluded[reason] += 1
        return eligible, batch

    def build(
        self, eligible: list[Member], batch: BuiltBatch, coupons: list[str] | None,
        tokens: list[str] | None,
    ) -> BuiltBatch:  # fmt: skip
        """Rows for screened members; `coupons` and `tokens` hold one value per member."""
        if self.chain:
            return self._build_chain(eligible, batch, coupons, tokens)
        validity = self.timing.validity
        price = self.rules.part_price
        stamped = self.stamped
        rows = batch.rows
        new_row = tuple.__new__  # OutboxRow's own __new__ is a Python call per row
        for index, member in enumerate(eligible):
            coupon = coupons[index] if coupons is not None else None
            token = tokens[index] if tokens is not None else None
            variant = self.variant_for(member.id)
            try:
                body, encoding, parts, national, replaced = self.compose(
                    member, variant, coupon, token, batch
                )
            except UserError as error:  # a value missing, or a text that renders empty
                batch.excluded["missing_value"] += 1
                if coupon is not None:
                    batch.unused_coupons.append(coupon)
                if len(batch.problems) < 5:
                    batch.problems.append(_problem_text(member, error.problem))
                continue
            zones = self.zones(member)
            due, held_from = self.send_after(member, zones)
            batch.parts += parts
            until = stamped(due + validity) if validity else None
            changes = None
            if replaced:
                changes = self._smart_changes(replaced, batch)
            tables = held = None
            if national is not DEFAULT_TABLES and national != DEFAULT_TABLES:
                tables = national_label(national)
                batch.noted += 1
            if held_from is not None:
                held = stamped(held_from)
                batch.noted += 1
            # `_value_`: the enum's `value` property costs ~7 times the plain attribute
            rows.append(new_row(OutboxRow, (
                member.id, member.phone, variant.id, body, encoding._value_, parts,
                parts * price, stamped(due), until, coupon, token, tables, changes, held,
            )))  # fmt: skip
        return batch

    def _smart_changes(self, replaced: Replacements, batch: BuiltBatch) -> str | None:
        """Counts a text smart encoding changed; its record, made once per set of changes."""
        batch.smart_changed += 1
        merge_replacements(batch.smart_characters, replaced)
        try:
            return self._changes_json[replaced]
        except KeyError:
            if len(self._changes_json) > 1000:
                self._changes_json.clear()
            made = self._changes_json[replaced] = replacements_json(replaced)
            return made

    # --- campaigns on a chain of channels --------------------------------------------

    def _screen_chain(self, members: list[Member], capped: set[int], reach: Reach
                      ) -> tuple[list[Member], BuiltBatch]:  # fmt: skip
        """Each member's route (see `Route`), kept for `build` of this batch; the others
        counted by the reason of their first channel that had an address."""
        batch = BuiltBatch()
        eligible: list[Member] = []
        # `build` of the batch before may still run (a batch written again the
        # sequential way after this one was read): its routes stay until the next one.
        self._earlier_routes, self._routes = self._routes, {}
        for member in members:
            route, unreached = self._route(member, reach)
            reason: str | None = unreached
            if route:
                first = (route[0][0].channel, route[0][1])
                if first in self._seen_addresses:
                    reason = "duplicate"
                else:
                    self._seen_addresses.add(first)
                    reason = None
            if reason is None:
                self._routes[member.id] = route
                eligible.append(member)
            else:
                batch.excluded[reason] += 1
        return eligible, batch

    def _route(self, member: Member, reach: Reach) -> tuple[Route, str]:
        usable: list[tuple[ChainStep, str]] = []
        refused: str | None = None
        suppressed = False
        for step in self.chain:
            address = _address_on(step.channel, member, reach)
            if address is None:
                continue
            if step.channel != Channel.SMS and (step.channel, address) in reach.suppressed:
                suppressed = True
                continue
            consent = reach.consent.get((member.id, step.channel))
            reason = self._consent.get(consent, _UNKNOWN)
            if reason is _UNKNOWN:
                reason = self._consent[consent] = self._consent_exclusion(consent)
            if reason is None and (member.id, step.channel) in reach.capped:
                reason = "capped"  # this channel's cap: the next channel may still go
            if reason is not None:
                refused = refused or reason
                continue
            usable.append((step, address))
        return tuple(usable), refused or (SUPPRESSED if suppressed else NO_ADDRESS)

    def _build_chain(self, eligible: list[Member], batch: BuiltBatch, coupons: list[str] | None,
                     tokens: list[str] | None) -> BuiltBatch:  # fmt: skip
        validity = self.timing.validity
        stamped = self.stamped
        for index, member in enumerate(eligible):
            coupon = coupons[index] if coupons is not None else None
            token = tokens[index] if tokens is not None else None
            variant = self.variant_for(member.id)
            route = self._routes.get(member.id) or self._earlier_routes[member.id]
            try:
                made = [self._render_step(step, address, member, variant, coupon, token, batch)
                        for step, address in route]  # fmt: skip
            except UserError as error:
                batch.excluded["missing_value"] += 1
                if coupon is not None:
                    batch.unused_coupons.append(coupon)
                if len(batch.problems) < 5:
                    batch.problems.append(_problem_text(member, error.problem))
                continue
            first, later = made[0], made[1:]
            step = route[0][0]
            due, held_from = self.send_after(member, self.zones(member), step.quiet)
            payload = dict(first["payload"])
            if later:
                payload["next"] = later
            national, changes = first.get("national"), first.get("smart_changes")
            if first.get("smart_changes") is not None:
                batch.smart_changed += 1
            if national is not None or held_from is not None:
                batch.noted += 1
            fallback_at = None
            if later and self.fallback_after is not None:
                fallback_at = stamped(due + self.fallback_after)
            batch.parts += first["parts"]
            batch.rows.append(cast(OutboxRow, ChainRow(
                member.id, member.phone, variant.id, first["body"], first["encoding"],
                first["parts"], first["cost"], stamped(due),
                stamped(due + validity) if validity else None, coupon, token, national, changes,
                stamped(held_from) if held_from is not None else None, step.channel,
                first["address"], _JSON.encode(payload) if payload else None, step.index,
                fallback_at, step.connector_id,
            )))  # fmt: skip
        return batch

    def _render_step(self, step: ChainStep, address: str, member: Member, variant: Variant,
                     coupon: str | None, token: str | None, batch: BuiltBatch
                     ) -> dict[str, Any]:  # fmt: skip
        """One step's message for the member: what its row (or its entry in the earlier
        row's `payload["next"]`) holds. SMS is composed and counted as on the fast path;
        the other channels carry one unit of UTF-8 text and their own content."""
        made: dict[str, Any] = {
            "step": step.index,
            "channel": step.channel,
            "address": None if step.channel in PHONE_CHANNELS else address,
        }
        if step.channel == Channel.SMS:
            body, encoding, parts, national, replaced = self.compose(member, variant, coupon,
                                                                     token, batch)  # fmt: skip
            made.update(body=body, encoding=encoding._value_, parts=parts,
                        cost=parts * step.price, payload={})  # fmt: skip
            if national is not DEFAULT_TABLES and national != DEFAULT_TABLES:
                made["national"] = national_label(national)
            if replaced:  # counted by `_build_chain` for the row's own step only
                made["smart_changes"] = self._smart_changes(replaced, batch)
                batch.smart_changed -= 1
            return made
        values = self._chain_values(member, coupon)
        language = member.language or "en"
        link = self._linker(token, batch)

        def text(template: MessageTemplate) -> str:
            return render(template, values, language=language, link=link)

        body = text(step.body or variant.template)
        if not body.strip():
            raise UserError.of("empty_text", f"the {step.channel} text renders empty",
                               field="body")  # fmt: skip
        payload: dict[str, Any] = {}
        if step.subject is not None:
            payload["subject"] = " ".join(text(step.subject).split())
        if step.html is not None:
            escaped = {k: html.escape(v) if isinstance(v, str) else v for k, v in values.items()}
            payload["html"] = render(step.html, escaped, language=language,
                                     link=lambda url: html.escape(link(url)))  # fmt: skip
        if step.template is not None:
            payload["template"] = step.template
            payload["params"] = [text(param) for param in step.params]
        if step.language is not None:
            payload["language"] = step.language
        if step.title is not None:
            payload["title"] = text(step.title)
        if step.url is not None:
            payload["url"] = text(step.url).strip()
        made.update(body=body, encoding="UTF-8", parts=1, cost=step.price, payload=payload)
        return made

    def _chain_values(self, member: Member, coupon: str | None) -> dict[str, Any]:
        """What any of the chain's texts may read: the same values as the SMS text's."""
        attributes = member.attributes
        values = {name: attributes[name] for name in self._chain_names if name in attributes}
        values.update(phone=member.phone, country=member.country, language=member.language or "",
                      timezone=member.timezone, email=member.email or "")  # fmt: skip
        if coupon is not None:
            values["coupon"] = coupon
        return values


def _address_on(channel: str, member: Member, reach: Reach) -> str | None:
    """The member's address on a channel, None when they have none there.

    Push: the newest subscription only, so a person gets one notification (and one
    row of the chain's step) however many browsers they subscribed in over time; the
    newest is the browser they used last, older ones are the likeliest to be gone.
    """
    if channel in PHONE_CHANNELS:
        return member.phone if VALID_E164.match(member.phone) else None
    if channel == Channel.WHATSAPP:
        number = reach.whatsapp.get(member.id) or member.phone
        return number if VALID_E164.match(number) else None
    if channel == Channel.EMAIL:
        return member.email or None
    if channel == Channel.PUSH:
        subscription = reach.push.get(member.id)
        return str(subscription) if subscription is not None else None
    return None


def _value_names(template: MessageTemplate) -> tuple[str, ...]:
    """The attributes a template can read: a contact's others need not be copied per text."""
    return tuple(use.name for use in template.variables)


def _problem_text(member: Member, problem: Problem) -> str:
    return f"contact {member.phone}: {problem.message}"
