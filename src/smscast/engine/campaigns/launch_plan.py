"""What a launch covers and how it reads its members: the plan, the batches, the checks.

A plan is made once per launch stage (variants compiled, rules and timing fixed);
members are then read in contact-id order, one id range per batch, with their
consent and whether a frequency cap holds them back. A campaign on a chain of
channels also reads, per batch, how each member can be reached (`read_reach`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, Text, and_, exists, func, or_, select, type_coerce
from sqlalchemy.orm import aliased

from smscast.core.campaign_rules import DEFAULT_SHORT_DOMAIN, CampaignRules, rules_from_settings
from smscast.core.channels import Channel
from smscast.core.cost import MessageRules
from smscast.core.counts import counted
from smscast.core.errors import UserError
from smscast.core.segment_parser import parse_segment
from smscast.core.segments import Compare, Contains, InList, IsSet, walk
from smscast.core.templates import compile_template
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.campaigns.coupons import free_codes
from smscast.engine.campaigns.lifecycle import messages, variants
from smscast.engine.campaigns.recipients import (
    SAMPLE_SEED,
    ChainStep,
    Member,
    Reach,
    RecipientBuilder,
    Timing,
    Variant,
    bucket,
)
from smscast.engine.campaigns.segments import segment_where
from smscast.engine.sending.national_tables import national_tables_of
from smscast.engine.sending.routing import load_routes
from smscast.store.bulk import DriverValues, select_in
from smscast.store.campaign_models import CampaignLink
from smscast.store.channel_models import PushSubscription
from smscast.store.messaging_models import Connector
from smscast.store.models import ConsentState, Contact, table_of
from smscast.store.segment_sql import segment_condition

contacts = table_of(Contact)
consent_states = table_of(ConsentState)
campaign_links = table_of(CampaignLink)
subscriptions = table_of(PushSubscription)
connectors = table_of(Connector)

NOT_COUNTED = ("cancelled", "failed", "rejected")
"""Messages in these states never reached the person and do not count against caps."""


@dataclass(frozen=True, slots=True)
class Stage:
    """Which members a launch pass covers: all, an A/B sample, or the rest after it."""

    name: str  # all, sample, rest
    sample_percent: int = 0

    def includes(self, contact_id: int) -> bool:
        if self.name == "all":
            return True
        in_sample = bucket(contact_id, SAMPLE_SEED) < self.sample_percent
        return in_sample if self.name == "sample" else not in_sample


@dataclass
class Plan:
    workspace: WorkspaceRef
    campaign: Any
    run: int
    stage: Stage
    rules: CampaignRules
    builder: RecipientBuilder
    uses_coupon: bool
    uses_link: bool
    pool: int | None
    number_id: int | None = None
    connector_id: int | None = None
    """The route its messages take, filled in at launch (see `plan_route`)."""


def run_start(schedule: dict[str, Any], now: datetime) -> datetime:
    at = schedule.get("at")
    start = datetime.fromisoformat(at) if at else now
    return max(start, now)


def _variants(conn: Connection, campaign: Any, stage: Stage) -> list[Variant]:
    rows = conn.execute(
        select(variants).where(variants.c.campaign_id == campaign.id).order_by(variants.c.id)
    ).all()
    winners = [row for row in rows if row.is_winner]
    if stage.name == "rest" or (stage.name == "all" and winners):  # after an A/B test
        rows = winners or rows[:1]
    share = {row.id: (100 if len(rows) == 1 else row.split_percent) for row in rows}
    return [Variant(row.id, compile_template(row.body), share[row.id]) for row in rows]


def make_plan(conn: Connection, workspace: WorkspaceRef, campaign: Any, run: int, stage: Stage,
              now: datetime, *, link_base: str = DEFAULT_SHORT_DOMAIN) -> Plan:  # fmt: skip
    """`link_base`: where tracked links point unless the workspace sets `short_domain`
    (launches pass `Settings.served_url()`, the address the server listens on)."""
    rules = rules_from_settings(workspace.settings, short_domain=link_base)
    options = campaign.options or {}
    schedule = campaign.schedule or {}
    found = _variants(conn, campaign, stage)
    names = {use.name for v in found for use in v.template.variables}
    local = schedule.get("local_time")
    validity = options.get("validity_seconds")
    timing = Timing(
        start=run_start(schedule, now),
        local_time=time.fromisoformat(local) if local else None,
        spread=timedelta(seconds=schedule.get("spread_seconds") or 0),
        quiet=rules.quiet.enabled and rules.quiet_applies(campaign.purpose),
        validity=timedelta(seconds=validity) if validity else None,
    )
    number_id, connector_id = plan_route(conn, workspace, campaign)
    message_rules = campaign_message_rules(conn, campaign, rules, connector_id)
    chain = chain_steps(conn, workspace, campaign, rules, connector_id)
    names |= {use.name for step in chain for t in step.templates() for use in t.variables}
    delay = options.get("fallback_after_s")
    links = {
        row.url: row.position
        for row in conn.execute(
            select(campaign_links.c.url, campaign_links.c.position).where(
                campaign_links.c.campaign_id == campaign.id
            )
        )
    }
    builder = RecipientBuilder(
        purpose=campaign.purpose, variants=found, rules=rules, message_rules=message_rules,
        timing=timing, links=links, workspace_zone=workspace.timezone,
        stamp=DriverValues(conn).moment, chain=chain,
        fallback_after=timedelta(seconds=delay) if delay else None,
    )  # fmt: skip
    uses_coupon = "coupon" in names
    pool = options.get("coupon_pool_id")
    if uses_coupon and pool is None:
        raise UserError.of("no_coupon_pool", "the text uses {{ coupon }} but the campaign has "
                           "no coupon pool (--coupon-pool NAME)", field="coupon_pool")  # fmt: skip
    return Plan(workspace, campaign, run, stage, rules, builder, uses_coupon, "link" in names,
                pool, number_id, connector_id)  # fmt: skip


def chain_steps(conn: Connection, workspace: WorkspaceRef, campaign: Any, rules: CampaignRules,
                sms_connector: int | None) -> tuple[ChainStep, ...]:  # fmt: skip
    """The campaign's channels with their compiled content, connector, price and quiet
    hours; empty for a campaign on plain SMS, which takes the launch's fast path."""
    options = campaign.options or {}
    channels = list(options.get("channels") or [Channel.SMS.value])
    content: dict[str, dict[str, Any]] = options.get("content") or {}
    if channels == [Channel.SMS.value] and not content:
        return ()
    routes = load_routes(conn, workspace.id)
    steps = []
    for index, channel in enumerate(channels):
        given = content.get(channel) or {}
        connector = sms_connector
        price = rules.part_price
        if channel != Channel.SMS:
            connector = routes.route(campaign.number_id, None, channel)[1]
            price = channel_price(workspace.settings, channel)

        def compiled(name: str, given: dict[str, Any] = given) -> Any:
            return compile_template(given[name]) if given.get(name) else None

        steps.append(ChainStep(
            index=index, channel=channel, connector_id=connector, price=price,
            quiet=rules.quiet.enabled and rules.quiet_applies(campaign.purpose, channel),
            body=compiled("body"), subject=compiled("subject"), html=compiled("html"),
            title=compiled("title"), url=compiled("url"),
            params=tuple(compile_template(p) for p in given.get("params") or ()),
            template=given.get("template"), language=given.get("language"),
        ))  # fmt: skip
    return tuple(steps)


def channel_price(settings: dict[str, Any] | None, channel: str) -> float:
    """What one message on a channel beside SMS costs: the workspace's `price_<channel>`
    setting (a number ≥ 0), else nothing; SMS is priced per part (`part_price`)."""
    price = (settings or {}).get(f"price_{channel}", 0.0)
    if not isinstance(price, int | float) or isinstance(price, bool) or price < 0:
        raise UserError.of("bad_setting", f"price_{channel} must be a number ≥ 0",
                           field=f"price_{channel}")  # fmt: skip
    return float(price)


def read_reach(conn: Connection, plan: Plan, members: list[Member],
               now: datetime | None = None) -> Reach | None:  # fmt: skip
    """How a batch's members can be reached on the chain's channels (see `Reach`): a few
    range reads by contact id, only for a campaign on a chain. With `now`, which
    channels' frequency caps each member has reached."""
    chain = plan.builder.chain
    if not chain or not members:
        return None
    first, last = members[0].id, members[-1].id
    channels = [step.channel for step in chain]
    reach = Reach()
    if now is not None:
        reach.capped.update(_capped_per_channel(conn, plan, first, last, channels, now))
    rows = conn.execute(
        select(consent_states.c.contact_id, consent_states.c.channel, consent_states.c.status)
        .where(consent_states.c.contact_id.between(first, last),
               consent_states.c.purpose == plan.campaign.purpose,
               consent_states.c.channel.in_(channels))
    )  # fmt: skip
    reach.consent.update(((row.contact_id, row.channel), row.status) for row in rows)
    if Channel.WHATSAPP in channels:
        rows = conn.execute(
            select(contacts.c.id, contacts.c.whatsapp).where(
                contacts.c.id.between(first, last), contacts.c.whatsapp.is_not(None)
            )
        )
        reach.whatsapp.update((row.id, row.whatsapp) for row in rows)
    if Channel.PUSH in channels:
        rows = conn.execute(
            select(subscriptions.c.contact_id, func.max(subscriptions.c.id).label("newest"))
            .where(subscriptions.c.contact_id.between(first, last),
                   subscriptions.c.workspace_id == plan.workspace.id)
            .group_by(subscriptions.c.contact_id)
        )  # fmt: skip
        reach.push.update((row.contact_id, int(row.newest)) for row in rows)
    addresses: set[str] = set()
    for channel in channels:
        if channel == Channel.EMAIL:
            addresses.update(m.email for m in members if m.email)
        elif channel == Channel.WHATSAPP:
            addresses.update(reach.whatsapp.get(m.id) or m.phone for m in members)
        elif channel == Channel.VOICE:
            addresses.update(m.phone for m in members)
    if addresses:
        found = select_in(
            conn, "SELECT channel, address FROM suppressed_addresses "
            f"WHERE workspace_id = {int(plan.workspace.id)} AND address IN", sorted(addresses),
        )  # fmt: skip
        reach.suppressed.update((channel, address) for channel, address in found)
    return reach


def campaign_message_rules(conn: Connection, campaign: Any, rules: CampaignRules,
                           connector_id: int | None) -> MessageRules:  # fmt: skip
    """How the campaign's texts are finished and counted: footer, smart encoding, and the
    national shift tables of the connector they leave by (launch and preview alike, so
    the preview's parts and cost are the launch's)."""
    options = campaign.options or {}
    return MessageRules(
        promotional=campaign.purpose == "promotional", footer_required=rules.footer_required,
        opt_out_keyword=rules.opt_out_keyword, smart=bool(options.get("smart_encoding")),
        tables=national_tables_of(conn, connector_id),
    )  # fmt: skip


def plan_route(conn: Connection, workspace: WorkspaceRef, campaign: Any) -> tuple[Any, Any]:
    """The sender number and connector every message of the launch takes.

    Written with the rows, so they never enter the unrouted index nor need the
    routing pass to rewrite them; with no connector yet they are left for that pass,
    which says why they wait.
    """
    return load_routes(conn, workspace.id).route(campaign.number_id, None)


def _member_query(plan: Plan, where: Any, after: int, limit: int) -> Any:
    joined = contacts.outerjoin(
        consent_states,
        and_(
            consent_states.c.contact_id == contacts.c.id,
            consent_states.c.channel == "sms",
            consent_states.c.purpose == plan.campaign.purpose,
        ),
    )
    # Attributes come as the stored JSON text (or, from psycopg, already decoded):
    # SQLAlchemy's JSON processing per row cost more than the query itself.
    return (
        select(contacts.c.id, contacts.c.phone, contacts.c.country,
               type_coerce(contacts.c.attributes, Text), contacts.c.language,
               contacts.c.timezone, consent_states.c.status, contacts.c.email)
        .select_from(joined)
        .where(where, contacts.c.id > after)
        .order_by(contacts.c.id)
        .limit(limit)
    )  # fmt: skip


def _consented_count(conn: Connection, plan: Plan, where: Any, after: int) -> int:
    status = consent_states.c.status
    query = _member_query(plan, where, after, 1).with_only_columns(func.count())
    query = query.order_by(None).limit(None)
    if plan.builder.chain:
        query = query.where(_consented_on_chain(plan))
    elif plan.campaign.purpose == "promotional":
        query = query.where(status == "opted_in")
    else:
        query = query.where(or_(status.is_(None), status != "opted_out"))
    already = (
        select(messages.c.id)
        .where(messages.c.campaign_id == plan.campaign.id, messages.c.run == plan.run,
               messages.c.contact_id == contacts.c.id)
        .exists()
    )  # fmt: skip
    return int(conn.execute(query.where(~already)).scalar_one())


def _consented_on_chain(plan: Plan) -> Any:
    """Members a chain's campaign may reach on one of its channels as far as consent goes
    (addresses aside: an upper bound, as the coupon check needs)."""
    given = aliased(consent_states)
    channels = [step.channel for step in plan.builder.chain]
    on_chain = and_(given.c.contact_id == contacts.c.id, given.c.channel.in_(channels),
                    given.c.purpose == plan.campaign.purpose)  # fmt: skip
    if plan.campaign.purpose == "promotional":
        return exists().where(on_chain, given.c.status == "opted_in")
    refused = select(func.count()).where(on_chain, given.c.status == "opted_out")
    return refused.scalar_subquery() < len(channels)


def check_launchable(conn: Connection, plan: Plan, now: datetime, after: int = 0) -> None:
    """Refuses a launch whose segment names an attribute no contact has any more, or
    whose coupon pool cannot serve it, before anything is written.

    Both read the whole workspace (every contact's attribute names; the consented
    members counted), about 0.5 s at a million contacts before the first text could
    go, so they run only when the answer can differ from the one the campaign got
    when it was created: the segment names an attribute, or a coupon pool must be
    counted. A segment of built-in fields only was fully checked then and cannot
    change.
    """
    expression = plan.campaign.segment_expression
    names_attribute = any(
        isinstance(node, Compare | InList | Contains | IsSet) and node.field.attribute
        for node in walk(parse_segment(expression))
    )
    if names_attribute or (plan.uses_coupon and plan.pool is not None):
        check_coupons(conn, plan, segment_where(conn, plan.workspace, expression, now), after)


def check_coupons(conn: Connection, plan: Plan, where: Any, after: int) -> None:
    """Refuses a launch the pool cannot serve, before anything is written."""
    if not plan.uses_coupon or plan.pool is None:
        return
    need = _consented_count(conn, plan, where, after)
    if plan.stage.name == "sample":
        need = math.ceil(need * plan.stage.sample_percent / 100)
    free = free_codes(conn, plan.pool)
    if free < need:
        raise UserError.of(
            "coupons_exhausted",
            f"the coupon pool has {counted(free, 'free code')} but this launch needs up to "
            f"{need}: {counted(need - free, 'code')} missing; add codes with "
            "`smscast coupons import` or "
            "`smscast coupons generate`",
            field="coupon_pool",
        )


def capped_contacts(conn: Connection, plan: Plan, first: int, last: int, now: datetime
                    ) -> set[int]:  # fmt: skip
    """Members an SMS campaign may not reach: the cap counts each channel on its own
    (two promotions a week by SMS leave email free), so a chain's campaign asks
    `read_reach` per channel instead."""
    cap = plan.rules.cap
    if not cap.applies_to(plan.campaign.purpose) or plan.builder.chain:
        return set()
    query = (
        select(messages.c.contact_id)
        .where(
            messages.c.contact_id.between(first, last),
            messages.c.direction == "out",
            messages.c.purpose == cap.purpose,
            messages.c.channel == Channel.SMS.value,
            messages.c.created_at >= cap.window_start(now),
            messages.c.status.not_in(NOT_COUNTED),
        )
        .group_by(messages.c.contact_id)
        .having(func.count() >= cap.limit)
    )
    return set(conn.execute(query).scalars())


def _capped_per_channel(conn: Connection, plan: Plan, first: int, last: int,
                        channels: list[str], now: datetime) -> set[tuple[int, str]]:  # fmt: skip
    """(member, channel) pairs whose cap on that channel is reached."""
    cap = plan.rules.cap
    if not cap.applies_to(plan.campaign.purpose):
        return set()
    query = (
        select(messages.c.contact_id, messages.c.channel)
        .where(
            messages.c.contact_id.between(first, last),
            messages.c.direction == "out",
            messages.c.purpose == cap.purpose,
            messages.c.channel.in_(channels),
            messages.c.created_at >= cap.window_start(now),
            messages.c.status.not_in(NOT_COUNTED),
        )
        .group_by(messages.c.contact_id, messages.c.channel)
        .having(func.count() >= cap.limit)
    )
    return {(row.contact_id, row.channel) for row in conn.execute(query)}


def _member_rows(conn: Connection, plan: Plan, where: Any, after: int, limit: int) -> list[Any]:
    """The batch's rows; on SQLite as one JSON array built by the database.

    Fetching row by row, sqlite3 gives the GIL back after each row and must win it
    back from the writer thread each time; one aggregated value is one fetch, and
    the attributes arrive already decoded inside it.
    """
    query = _member_query(plan, where, after, limit)
    if conn.dialect.name != "sqlite":
        return list(conn.execute(query).all())
    batch = query.subquery()
    packed = func.json_group_array(func.json_array(
        batch.c.id, batch.c.phone, batch.c.country, func.json(batch.c.attributes),
        batch.c.language, batch.c.timezone, batch.c.status, batch.c.email,
    ))  # fmt: skip
    rows: list[Any] = _decode_json(conn.execute(select(packed)).scalar_one())
    rows.sort(key=_first)  # the aggregate keeps the subquery's order; make sure of it
    return rows


def _first(row: list[Any]) -> Any:
    return row[0]


def read_members(conn: Connection, plan: Plan, where: Any, after: int, limit: int,
                  now: datetime) -> tuple[list[Member], int, set[int]]:  # fmt: skip
    rows = _member_rows(conn, plan, where, after, limit)
    if not rows:
        return [], after, set()
    last = rows[-1][0]
    capped = capped_contacts(conn, plan, rows[0][0], last, now)
    if plan.stage.name != "all":
        rows = [r for r in rows if plan.stage.includes(r[0])]
    make = Member._make
    return [make(r) if r[3].__class__ is dict else _member(r) for r in rows], last, capped


def _member(row: Sequence[Any]) -> Member:
    """A member whose attributes came as JSON text, or as nothing at all."""
    attributes = row[3]
    decoded = _decode_json(attributes) if isinstance(attributes, str) else attributes or {}
    return Member._make((*row[:3], decoded, *row[4:]))


_decode_json = json.JSONDecoder().decode
"""Attributes arrive as JSON text from SQLite, already decoded from psycopg."""


def members_where(conn: Connection, plan: Plan, now: datetime) -> Any:
    """The segment condition, written so batches are read by contact id range.

    With `workspace_id = ?` as it stands, SQLite (having no statistics) walks the
    workspace's whole (workspace_id, phone) index and sorts it for every batch,
    which makes a launch quadratic; `workspace_id + 0` cannot use that index, so
    each batch reads only its own rows by id.
    """
    tree = parse_segment(plan.campaign.segment_expression)
    condition = segment_condition(tree, workspace_id=plan.workspace.id,
                                  dialect=conn.dialect.name, now=now)  # fmt: skip
    return ((contacts.c.workspace_id + 0) == plan.workspace.id) & condition
