"""Materialising a launch: segment members become outbox rows, batch by batch.

Members are read in contact-id order; each batch is screened (phone, duplicate,
consent, frequency cap), given coupons and link tokens, rendered, timed and written
in one transaction together with the counters and the launch's progress mark. An
interrupted launch run again starts after the last committed contact, and the
unique (campaign, run, contact) key refuses any second message for anyone.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Text,
    and_,
    func,
    insert,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.exc import IntegrityError

from smscast.config import Settings
from smscast.core.campaign_rules import CampaignRules, rules_from_settings
from smscast.core.cost import MessageRules
from smscast.core.errors import UserError
from smscast.core.links import new_tokens
from smscast.core.segment_parser import parse_segment
from smscast.core.templates import compile_template
from smscast.engine.campaigns import campaign_row, launches, messages, variants
from smscast.engine.coupons import allocate_coupons, free_codes, release_coupons
from smscast.engine.recipients import (
    SAMPLE_SEED,
    BuiltBatch,
    Member,
    RecipientBuilder,
    Timing,
    Variant,
    bucket,
)
from smscast.engine.segments import segment_where
from smscast.engine.stats import bump_campaign_stats
from smscast.engine.workspaces import WorkspaceRef
from smscast.store.bulk import DriverValues, insert_rows
from smscast.store.campaign_models import CampaignLink
from smscast.store.messaging_models import Campaign
from smscast.store.models import ConsentState, Contact, table_of
from smscast.store.segment_sql import segment_condition

contacts = table_of(Contact)
consent_states = table_of(ConsentState)
campaign_links = table_of(CampaignLink)
campaigns = table_of(Campaign)

MESSAGE_COLUMNS = (
    "workspace_id", "direction", "kind", "purpose", "contact_id", "phone", "number_id",
    "campaign_id", "run", "variant_id", "body", "encoding", "parts", "parts_done", "cost",
    "status", "send_after", "valid_until", "attempts", "coupon_code", "link_token",
    "created_at",
)  # fmt: skip
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


def run_start(schedule: dict[str, Any], now: datetime) -> datetime:
    at = schedule.get("at")
    start = datetime.fromisoformat(at) if at else now
    return max(start, now)


def _variants(conn: Connection, campaign: Any, stage: Stage) -> list[Variant]:
    rows = conn.execute(
        select(variants).where(variants.c.campaign_id == campaign.id).order_by(variants.c.id)
    ).all()
    if stage.name == "rest":
        rows = [row for row in rows if row.is_winner] or rows[:1]
    share = {row.id: (100 if stage.name == "rest" else row.split_percent) for row in rows}
    return [Variant(row.id, compile_template(row.body), share[row.id]) for row in rows]


def make_plan(conn: Connection, workspace: WorkspaceRef, campaign: Any, run: int, stage: Stage,
              now: datetime) -> Plan:  # fmt: skip
    rules = rules_from_settings(workspace.settings)
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
        quiet=rules.quiet_applies(campaign.purpose),
        validity=timedelta(seconds=validity) if validity else None,
    )
    message_rules = MessageRules(
        promotional=campaign.purpose == "promotional", footer_required=rules.footer_required,
        opt_out_keyword=rules.opt_out_keyword, smart=bool(options.get("smart_encoding")),
    )  # fmt: skip
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
    )  # fmt: skip
    uses_coupon = "coupon" in names
    pool = options.get("coupon_pool_id")
    if uses_coupon and pool is None:
        raise UserError.of("no_coupon_pool", "the text uses {{ coupon }} but the campaign has "
                           "no coupon pool (--coupon-pool NAME)", field="coupon_pool")  # fmt: skip
    return Plan(workspace, campaign, run, stage, rules, builder, uses_coupon, "link" in names,
                pool)  # fmt: skip


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
    if plan.campaign.purpose == "promotional":
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
            f"the coupon pool has {free} free codes but this launch needs up to {need}: "
            f"{need - free} codes missing; add codes with `smscast coupons import` or "
            "`smscast coupons generate`",
            field="coupon_pool",
        )


def capped_contacts(conn: Connection, plan: Plan, first: int, last: int, now: datetime
                    ) -> set[int]:  # fmt: skip
    cap = plan.rules.cap
    if not cap.applies_to(plan.campaign.purpose):
        return set()
    query = (
        select(messages.c.contact_id)
        .where(
            messages.c.contact_id.between(first, last),
            messages.c.direction == "out",
            messages.c.purpose == cap.purpose,
            messages.c.created_at >= cap.window_start(now),
            messages.c.status.not_in(NOT_COUNTED),
        )
        .group_by(messages.c.contact_id)
        .having(func.count() >= cap.limit)
    )
    return set(conn.execute(query).scalars())


def _progress(conn: Connection, plan: Plan, now: datetime) -> tuple[int, bool]:
    key = (launches.c.campaign_id == plan.campaign.id, launches.c.run == plan.run,
           launches.c.stage == plan.stage.name)  # fmt: skip
    row = conn.execute(select(launches.c.last_contact_id, launches.c.done).where(*key)).first()
    if row is None:
        conn.execute(
            insert(launches).values(
                campaign_id=plan.campaign.id, run=plan.run, stage=plan.stage.name,
                last_contact_id=0, done=False, started_at=now, updated_at=now,
            )
        )  # fmt: skip
        return 0, False
    return int(row.last_contact_id), bool(row.done)


def _write_batch(conn: Connection, plan: Plan, eligible: list[Member], batch: BuiltBatch,
                 rng: random.Random, now: datetime) -> None:  # fmt: skip
    coupons = None
    if plan.uses_coupon and plan.pool is not None and eligible:
        coupons = allocate_coupons(conn, plan.pool, plan.campaign.id, len(eligible), now)
    tokens = new_tokens(rng, len(eligible)) if plan.uses_link else None
    plan.builder.build(eligible, batch, coupons, tokens)
    if batch.unused_coupons and plan.pool is not None:
        release_coupons(conn, plan.pool, batch.unused_coupons)
    if batch.new_links:
        conn.execute(insert(campaign_links), [
            {"campaign_id": plan.campaign.id, "position": position, "url": url}
            for url, position in batch.new_links.items()
        ])  # fmt: skip
    values = DriverValues(conn)
    moments: dict[datetime, Any] = {}

    def moment(at: datetime) -> Any:  # most rows of a batch share one send_after
        stored = moments.get(at)
        if stored is None:
            stored = moments[at] = values.moment(at)
        return stored

    campaign = plan.campaign
    price = plan.rules.part_price
    constant = (plan.workspace.id, "out", "campaign", campaign.purpose)
    created = moment(now)
    rows = [
        (*constant, row.contact_id, row.phone, campaign.number_id, campaign.id, plan.run,
         row.variant_id, row.body, row.encoding, row.parts, 0, row.parts * price, "queued",
         moment(row.send_after), moment(row.valid_until) if row.valid_until else None, 0,
         row.coupon_code, row.link_token, created)
        for row in batch.rows
    ]  # fmt: skip
    insert_rows(conn, messages, MESSAGE_COLUMNS, rows)
    excluded = {f"excluded_{reason}": count for reason, count in batch.excluded.items()}
    bump_campaign_stats(
        conn, campaign.id, now, targeted=len(rows) + sum(batch.excluded.values()),
        queued=len(rows), **excluded,
    )  # fmt: skip


def _write_with_retry(engine: Engine, plan: Plan, eligible: list[Member], screened: BuiltBatch,
                      last_id: int, rng: random.Random, now: datetime) -> BuiltBatch:  # fmt: skip
    """Writes one batch; a (vanishingly rare) link token collision retries it with new tokens."""
    for attempt in range(3):
        batch = BuiltBatch(excluded=screened.excluded.copy())
        try:
            with engine.begin() as conn:
                _write_batch(conn, plan, eligible, batch, rng, now)
                conn.execute(
                    update(launches)
                    .where(launches.c.campaign_id == plan.campaign.id,
                           launches.c.run == plan.run, launches.c.stage == plan.stage.name)
                    .values(last_contact_id=last_id, updated_at=now)
                )  # fmt: skip
            return batch
        except IntegrityError as error:
            for url in batch.new_links:
                plan.builder.links.pop(url, None)
            if "link_token" not in str(error) or attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _read_members(conn: Connection, plan: Plan, where: Any, after: int, limit: int,
                  now: datetime) -> tuple[list[Member], int, set[int]]:  # fmt: skip
    rows = conn.execute(_member_query(plan, where, after, limit)).all()
    if not rows:
        return [], after, set()
    last = rows[-1][0]
    capped = capped_contacts(conn, plan, rows[0][0], last, now)
    includes = plan.stage.includes
    members = [
        Member(r[0], r[1], r[2], _attributes(r[3]), r[4], r[5], r[6], r[7])
        for r in rows
        if includes(r[0])
    ]
    return members, last, capped


_decode_json = json.JSONDecoder().decode


def _attributes(stored: str | dict[str, Any] | None) -> dict[str, Any]:
    if not stored:
        return {}
    return _decode_json(stored) if isinstance(stored, str) else stored


def materialise(engine: Engine, settings: Settings, plan: Plan, now: datetime,
                rng: random.Random) -> dict[str, Any]:  # fmt: skip
    """Writes the outbox rows of one stage of one run, resuming where it stopped."""
    totals: dict[str, int] = {"queued": 0}
    problems: list[str] = []
    with engine.begin() as conn:
        after, done = _progress(conn, plan, now)
    if done:
        return {"queued": 0, "excluded": {}, "problems": []}
    with engine.connect() as conn:
        where = segment_where(conn, plan.workspace, plan.campaign.segment_expression, now)
        check_coupons(conn, plan, where, after)
        where = _by_id_range(conn, plan, now)
    while True:
        with engine.connect() as conn:
            members, last, capped = _read_members(
                conn, plan, where, after, settings.launch_batch_size, now
            )
        if last == after:
            break
        eligible, screened = plan.builder.screen(members, capped)
        batch = _write_with_retry(engine, plan, eligible, screened, last, rng, now)
        totals["queued"] += len(batch.rows)
        for reason, count in batch.excluded.items():
            totals[reason] = totals.get(reason, 0) + count
        problems.extend(batch.problems[: 5 - len(problems)])
        after = last
        if _cancelled(engine, plan.campaign.id):
            break
    _finish(engine, plan, problems, now)
    queued = totals.pop("queued")
    return {"queued": queued, "excluded": totals, "problems": problems}


def _by_id_range(conn: Connection, plan: Plan, now: datetime) -> Any:
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


def _cancelled(engine: Engine, campaign_id: int) -> bool:
    with engine.connect() as conn:
        status = conn.execute(
            select(campaigns.c.status).where(campaigns.c.id == campaign_id)
        ).scalar()
    return status == "cancelled"


def _finish(engine: Engine, plan: Plan, problems: list[str], now: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(launches)
            .where(launches.c.campaign_id == plan.campaign.id, launches.c.run == plan.run,
                   launches.c.stage == plan.stage.name)
            .values(done=True, finished_at=now, updated_at=now)
        )  # fmt: skip
        if problems:
            row = campaign_row(conn, plan.workspace.id, plan.campaign.id)
            excluded = dict(row.excluded or {})
            excluded["examples"] = (excluded.get("examples", []) + problems)[:5]
            conn.execute(
                update(campaigns)
                .where(campaigns.c.id == plan.campaign.id)
                .values(excluded=excluded)
            )
