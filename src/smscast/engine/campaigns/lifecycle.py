"""Campaign use cases: create, pause, resume, cancel, complete.

The lifecycle is draft → scheduled → running → paused → completed | cancelled.
Each change is one short transaction on the campaign row; the dispatcher reads the
status when it claims messages, so a pause or cancel holds the next claim. Cancel
also marks the campaign's still-queued messages `cancelled` in the same transaction.
Launching lives in `smscast.engine.campaigns.launch`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, exists, func, insert, select, update

from smscast.core.cron import next_cron_time, parse_cron
from smscast.core.errors import UserError
from smscast.core.segment_parser import parse_segment
from smscast.core.segments import BUILTIN_FIELDS, check_segment
from smscast.core.templates import compile_template
from smscast.engine.accounts.audit import record_audit
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.campaigns.coupons import pool_id
from smscast.engine.campaigns.segments import saved_expression
from smscast.engine.stats import bump_campaign_stats, campaign_totals
from smscast.engine.webhooks.events import emit_events, load_subscriptions
from smscast.store.campaign_models import CampaignLaunch
from smscast.store.messaging_models import Campaign, CampaignVariant, Message, Number
from smscast.store.models import table_of
from smscast.store.segment_sql import attribute_names

campaigns = table_of(Campaign)
variants = table_of(CampaignVariant)
messages = table_of(Message)
numbers = table_of(Number)
launches = table_of(CampaignLaunch)

PURPOSES = ("promotional", "informational")
AB_METRICS = ("delivery", "click", "reply")
TEMPLATE_FIELDS = ("phone", "country", "language", "timezone", "email")
PENDING = ("queued", "sending")
"""Message states that mean the campaign is still sending."""
COMPLETED_COUNTS = ("sent", "delivered", "undelivered", "failed", "expired", "unknown",
                    "cancelled")  # fmt: skip
"""The outcome `campaign.completed` announces."""
AWAITING_REPORT = ("sent",)
"""Message states that mean the campaign has sent it but does not know yet whether it
arrived: the campaign is not finished until each has its delivery report (or expires
for want of one at the end of the late-report window, `reports.expire_silent`)."""
TRANSITIONS = {
    "pause": ({"running", "scheduled"}, "paused"),
    "resume": ({"paused"}, "running"),
    "cancel": ({"draft", "scheduled", "running", "paused"}, "cancelled"),
}


@dataclass(frozen=True, slots=True)
class ABTest:
    """Send variants to a sample first, then the best one to everyone else."""

    sample_percent: int
    metric: str = "click"
    decide_after: timedelta = timedelta(hours=2)


@dataclass(frozen=True, slots=True)
class CampaignDraft:
    name: str
    body: str
    segment: str = ""
    segment_name: str | None = None
    variants: tuple[tuple[str, str], ...] = ()
    """Further variants as (name, body); the main body is variant A."""
    split: tuple[int, ...] = ()
    purpose: str = "promotional"
    from_number: str | None = None
    at: datetime | None = None
    local_time: time | None = None
    spread: timedelta = timedelta(0)
    cron: str | None = None
    coupon_pool: str | None = None
    smart_encoding: bool = False
    expects_reply: bool = False
    validity: timedelta | None = None
    ab_test: ABTest | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _bodies(draft: CampaignDraft) -> list[tuple[str, str, int]]:
    named = [("A", draft.body), *draft.variants]
    names = [name for name, _ in named]
    if len(set(names)) != len(names):
        raise UserError.of("duplicate_variant", "each variant needs its own name", field="variant")
    split = draft.split or tuple(
        100 // len(named) + (1 if i < 100 % len(named) else 0) for i in range(len(named))
    )
    if len(split) != len(named) or sum(split) != 100 or min(split) < 0:
        raise UserError.of(
            "bad_split",
            f"--split needs {len(named)} percentages adding up to 100, got "
            f"{','.join(map(str, split))}",
            field="split",
        )
    return [(name, body, share) for (name, body), share in zip(named, split, strict=True)]


def _check_draft(conn: Connection, workspace: WorkspaceRef, draft: CampaignDraft,
                 now: datetime) -> tuple[str, int | None, int | None]:  # fmt: skip
    if not draft.name.strip():
        raise UserError.of("empty_name", "a campaign needs a name", field="name")
    if draft.purpose not in PURPOSES:
        raise UserError.of(
            "bad_purpose", f'"{draft.purpose}" is not promotional or informational',
            field="purpose",
        )  # fmt: skip
    expression = draft.segment
    if draft.segment_name:
        expression = saved_expression(conn, workspace, draft.segment_name)
    known = attribute_names(conn, workspace.id)
    check_segment(parse_segment(expression), known)
    for name, body, _ in _bodies(draft):
        try:
            template = compile_template(body, known=[*known, *TEMPLATE_FIELDS])
        except UserError as error:
            raise UserError.of(error.problem.code, f"variant {name}: {error.problem.message}",
                               field="body", line=error.problem.line,
                               column=error.problem.column) from None  # fmt: skip
        if draft.coupon_pool is None and template.position("coupon") is not None:
            raise UserError.of(
                "no_coupon_pool", f"variant {name} uses {{{{ coupon }}}} but the campaign has "
                "no coupon pool (--coupon-pool NAME)", field="coupon_pool",
            )  # fmt: skip
    if draft.at is not None and draft.at < now:
        raise UserError.of(
            "in_the_past", f"{draft.at:%Y-%m-%d %H:%M} UTC is in the past", field="at"
        )
    if draft.cron:
        parse_cron(draft.cron)
    if draft.ab_test is not None:
        if not 1 <= draft.ab_test.sample_percent <= 99 or draft.ab_test.metric not in AB_METRICS:
            raise UserError.of(
                "bad_ab_test", "an A/B test needs a sample of 1–99 % and a metric of "
                f"{', '.join(AB_METRICS)}", field="ab_test",
            )  # fmt: skip
        if not draft.variants:
            raise UserError.of("bad_ab_test", "an A/B test needs a second variant", field="variant")
    pool = pool_id(conn, workspace, draft.coupon_pool) if draft.coupon_pool else None
    number_id = None
    if draft.from_number:
        number_id = conn.execute(
            select(numbers.c.id).where(
                numbers.c.workspace_id == workspace.id, numbers.c.number == draft.from_number
            )
        ).scalar()
        if number_id is None:
            raise UserError.of("unknown_number", f"no number {draft.from_number} in this "
                               "workspace", field="from")  # fmt: skip
    return expression, pool, number_id


def create_campaign(
    engine: Engine, workspace: WorkspaceRef, draft: CampaignDraft, *, actor: str, now: datetime
) -> int:
    """Checks everything a launch will need (segment, templates, pool, time) and saves a draft."""
    with engine.begin() as conn:
        expression, pool, number_id = _check_draft(conn, workspace, draft, now)
        schedule = {
            "at": draft.at.isoformat() if draft.at else None,
            "local_time": draft.local_time.strftime("%H:%M") if draft.local_time else None,
            "spread_seconds": int(draft.spread.total_seconds()),
            "cron": draft.cron,
            "zone": workspace.timezone,
            "next_run_at": None,
            "runs": 0,
        }
        ab = None
        if draft.ab_test is not None:
            ab = {
                "sample_percent": draft.ab_test.sample_percent,
                "metric": draft.ab_test.metric,
                "decide_after_seconds": int(draft.ab_test.decide_after.total_seconds()),
                "winner": None,
            }
        options = {
            "coupon_pool_id": pool,
            "smart_encoding": draft.smart_encoding,
            "expects_reply": draft.expects_reply,
            "validity_seconds": int(draft.validity.total_seconds()) if draft.validity else None,
            "ab_test": ab,
            **draft.extra,
        }
        campaign_id = conn.execute(
            insert(campaigns)
            .values(
                workspace_id=workspace.id, name=draft.name.strip(), status="draft",
                purpose=draft.purpose, segment_expression=expression, number_id=number_id,
                schedule=schedule, options=options, excluded={}, created_by=actor,
                created_at=now,
            )
            .returning(campaigns.c.id)
        ).scalar_one()  # fmt: skip
        conn.execute(
            insert(variants),
            [{"campaign_id": campaign_id, "name": name, "body": body, "split_percent": share,
              "is_winner": False} for name, body, share in _bodies(draft)],
        )  # fmt: skip
        record_audit(conn, workspace.id, actor, "campaign.created", f"campaign #{campaign_id}",
                     {"name": draft.name}, now)  # fmt: skip
    return int(campaign_id)


def campaign_row(conn: Connection, workspace_id: int, campaign_id: int) -> Any:
    row = conn.execute(
        select(campaigns).where(
            campaigns.c.id == campaign_id, campaigns.c.workspace_id == workspace_id
        )
    ).first()
    if row is None:
        raise UserError.of("unknown_campaign", f"no campaign with id {campaign_id}",
                           field="campaign")  # fmt: skip
    return row


def next_run_time(schedule: dict[str, Any], after: datetime) -> datetime | None:
    """When a recurring campaign runs next after `after`; None if it does not recur."""
    if not schedule.get("cron"):
        return None
    return next_cron_time(parse_cron(schedule["cron"]), after, schedule["zone"])


def change_status(
    engine: Engine, workspace: WorkspaceRef, campaign_id: int, action: str, *,
    actor: str, now: datetime,
) -> dict[str, Any]:  # fmt: skip
    """Pauses, resumes or cancels; says which states allow it when the campaign is in another."""
    allowed, target = TRANSITIONS[action]
    with engine.begin() as conn:
        row = campaign_row(conn, workspace.id, campaign_id)
        if row.status not in allowed:
            raise UserError.of(
                "bad_transition",
                f"campaign {campaign_id} is {row.status}; {action} works on "
                f"{', '.join(sorted(allowed))} campaigns",
                field="status",
            )
        if action == "resume" and row.launched_at is None:
            target = "scheduled"
        values: dict[str, Any] = {"status": target}
        cancelled = 0
        if target == "cancelled":
            values["finished_at"] = now
            cancelled = conn.execute(
                update(messages)
                .where(messages.c.campaign_id == campaign_id, messages.c.status == "queued")
                .values(status="cancelled", done_at=now)
            ).rowcount
            bump_campaign_stats(conn, campaign_id, now, cancelled=cancelled, queued=-cancelled)
        conn.execute(update(campaigns).where(campaigns.c.id == campaign_id).values(**values))
        record_audit(conn, workspace.id, actor, f"campaign.{action}", f"campaign #{campaign_id}",
                     {"from": row.status, "cancelled_messages": cancelled}, now)  # fmt: skip
    return {"id": campaign_id, "status": target, "cancelled_messages": cancelled}


def complete_finished_campaigns(engine: Engine, now: datetime) -> list[int]:
    """Running campaigns whose every message is final become completed.

    Once nothing is queued or being sent the campaign has finished sending
    (`sending_finished_at` is set, once); it completes - and `campaign.completed` is
    announced with its outcome - only when no message awaits its delivery report
    either: delivered, undelivered, failed, expired, unknown and cancelled are final.
    A recurring campaign goes back to `scheduled` for its next run as soon as the run
    has finished sending (its reports are still counted as they come); an A/B test
    still waiting for its winner is not finished. Returns the campaigns completed or
    rescheduled.
    """
    pending = exists().where(messages.c.campaign_id == campaigns.c.id,
                             messages.c.status.in_(PENDING))  # fmt: skip
    awaiting = exists().where(messages.c.campaign_id == campaigns.c.id,
                              messages.c.status.in_(AWAITING_REPORT))  # fmt: skip
    unfinished = exists().where(launches.c.campaign_id == campaigns.c.id,
                                launches.c.done.is_(False))  # fmt: skip
    done: list[int] = []
    with engine.begin() as conn:
        rows = conn.execute(
            select(campaigns, awaiting.label("awaiting_reports")).where(
                campaigns.c.status == "running", campaigns.c.launched_at.is_not(None),
                ~pending, ~unfinished,
            )
        ).all()  # fmt: skip
        for row in rows:
            ab = (row.options or {}).get("ab_test")
            if ab and ab.get("winner") is None:
                continue
            finished_sending = row.sending_finished_at or now
            schedule = dict(row.schedule or {})
            following = next_run_time(schedule, now)
            if following is not None:
                schedule["next_run_at"] = following.isoformat()
                values: dict[str, Any] = {"status": "scheduled", "schedule": schedule,
                                          "sending_finished_at": now}  # fmt: skip
            elif row.awaiting_reports:
                if row.sending_finished_at is None:
                    conn.execute(
                        update(campaigns)
                        .where(campaigns.c.id == row.id, campaigns.c.status == "running")
                        .values(sending_finished_at=now)
                    )
                continue
            else:
                values = {"status": "completed", "finished_at": now,
                          "sending_finished_at": finished_sending}  # fmt: skip
            conn.execute(
                update(campaigns)
                .where(campaigns.c.id == row.id, campaigns.c.status == "running")
                .values(**values)
            )
            done.append(row.id)
            if values["status"] == "completed":
                _emit_completed(conn, row, finished_sending, now)
    return done


def _emit_completed(conn: Connection, row: Any, finished_sending: datetime, now: datetime) -> None:
    """Announces the campaign's outcome: every message is final, so the counts are too."""
    subscriptions = load_subscriptions(conn)
    if not subscriptions.wants(row.workspace_id, "campaign.completed"):
        return
    totals = campaign_totals(conn, row.id)
    outcome = {key: totals[key] for key in COMPLETED_COUNTS}
    data = {"campaign_id": row.id, "name": row.name, "purpose": row.purpose,
            "status": "completed", "launched_at": row.launched_at.isoformat(),
            "sending_finished_at": finished_sending.isoformat(),
            "finished_at": now.isoformat(), **outcome}  # fmt: skip
    emit_events(conn, subscriptions, row.workspace_id, "campaign.completed", [data], now)


def list_campaigns(
    engine: Engine,
    workspace: WorkspaceRef,
    *,
    status: str | None = None,
    after_id: int = 0,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Campaigns in id order; `after_id` and `limit` read them a page at a time."""
    queued = (
        select(func.count())
        .where(and_(messages.c.campaign_id == campaigns.c.id, messages.c.status == "queued"))
        .scalar_subquery()
    )
    with engine.connect() as conn:
        rows = conn.execute(
            select(campaigns.c.id, campaigns.c.name, campaigns.c.status, campaigns.c.purpose,
                   queued.label("queued"))
            .where(campaigns.c.workspace_id == workspace.id, campaigns.c.id > after_id,
                   *([campaigns.c.status == status] if status is not None else []))
            .order_by(campaigns.c.id)
            .limit(limit)
        ).all()  # fmt: skip
    return [dict(row._mapping) for row in rows]


__all__ = ["BUILTIN_FIELDS", "CampaignDraft", "change_status", "create_campaign"]
