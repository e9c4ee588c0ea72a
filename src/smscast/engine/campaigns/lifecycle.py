"""Campaign use cases: create, pause, resume, cancel, complete.

The lifecycle is draft → scheduled → running → paused → completed | cancelled.
A campaign names the channels it goes out on (`channels`, tried in order for each
person, see `smscast.engine.campaigns.fallback`) and each channel's own content.
Each change is one short transaction on the campaign row; the dispatcher reads the
status when it claims messages, so a pause or cancel holds the next claim. Cancel
also marks the campaign's still-queued messages `cancelled` in the same transaction.
Launching lives in `smscast.engine.campaigns.launch`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, exists, func, insert, select, update

from smscast.core.channels import Channel, check_fallback_delay, parse_channel_chain
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
from smscast.store.campaign_models import CampaignLaunch
from smscast.store.messaging_models import Campaign, CampaignVariant, Message, Number
from smscast.store.models import table_of
from smscast.store.segment_sql import attribute_names

log = logging.getLogger("smscast.campaigns")

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
    channels: tuple[str, ...] = ("sms",)
    """The channels tried in order for each person: the first they can be reached on
    gets the message, the next ones only when it is not delivered (see `fallback`)."""
    fallback_after: timedelta | None = None
    """How long a message may go undelivered before the next channel takes over
    (`DEFAULT_FALLBACK_AFTER` for a chain when not given)."""
    content: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per channel: email {subject, html?, body?}; whatsapp {template, language?,
    params?: [str], body?}; push {title, url?, body?}; voice {body?}. Every text is a
    template personalised like the body; a channel's `body` replaces the campaign's."""


DEFAULT_FALLBACK_AFTER = timedelta(hours=1)
"""A chain's fallback delay when none is given: long enough for a chat app's delivery
report to come back from a phone that was briefly off, short enough for a same-day offer."""
CONTENT_FIELDS: dict[str, dict[str, bool]] = {
    Channel.EMAIL: {"subject": True, "html": False, "body": False},
    Channel.WHATSAPP: {"template": True, "language": False, "params": False, "body": False},
    Channel.PUSH: {"title": True, "url": False, "body": False},
    Channel.VOICE: {"body": False},
}
"""Each channel's content fields, and whether the channel cannot go without it. SMS has
none: its text is the campaign's body (and its A/B variants)."""
TEXT_FIELDS = ("subject", "html", "body", "title", "url")
"""Content fields that are templates, rendered per person like the body."""
REQUIRED_WHY = {
    "subject": "an email needs a subject (--subject)",
    "template": "a WhatsApp campaign starts the conversation, which WhatsApp allows only "
    "with an approved message template: name it with --template NAME",
    "title": "a web push notification needs a title (--title)",
}
_WHATSAPP_TEMPLATE = re.compile(r"^[a-z0-9_]{1,512}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(?:[_-][A-Za-z]{2,4})?$")


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


def _check_template(text: str, known: list[str], coupon_pool: str | None, where: str,
                    field_name: str) -> None:  # fmt: skip
    """Compiles one of the campaign's texts as launch will; says which one is wrong."""
    try:
        template = compile_template(text, known=known)
    except UserError as error:
        raise UserError.of(error.problem.code, f"{where}: {error.problem.message}",
                           field=field_name, line=error.problem.line,
                           column=error.problem.column) from None  # fmt: skip
    if coupon_pool is None and template.position("coupon") is not None:
        raise UserError.of(
            "no_coupon_pool", f"{where} uses {{{{ coupon }}}} but the campaign has no coupon "
            "pool (--coupon-pool NAME)", field="coupon_pool",
        )  # fmt: skip


def check_channels(draft: CampaignDraft, known: list[str]) -> dict[str, Any]:
    """The campaign's channels, fallback delay and per-channel content as stored in its
    options ("channels", "fallback_after_s", "content"); a clear error for anything a
    launch could not send: an unknown or repeated channel, a delay out of range, content
    for a channel not in the chain, an email without a subject, a WhatsApp campaign
    without an approved template (business-initiated messages must be templates)."""
    chain = parse_channel_chain(",".join(draft.channels))
    delay = draft.fallback_after
    if len(chain) == 1 and delay is not None:
        raise UserError.of(
            "no_fallback_channel", "a fallback delay needs a second channel to fall back to, "
            "like --channels whatsapp,sms", field="fallback_after",
        )  # fmt: skip
    if len(chain) > 1:
        delay = check_fallback_delay(delay if delay is not None else DEFAULT_FALLBACK_AFTER)
    unknown = sorted(set(draft.content) - {c.value for c in chain})
    if unknown:
        raise UserError.of(
            "content_without_channel", f"content for {', '.join(unknown)}, which is not among "
            f"the campaign's channels ({','.join(chain)})", field="content",
        )  # fmt: skip
    content: dict[str, dict[str, Any]] = {}
    for channel in chain:
        given = dict(draft.content.get(channel) or {})
        fields = CONTENT_FIELDS.get(channel, {})
        extra = sorted(set(given) - set(fields))
        if extra:
            allowed = ", ".join(fields) or "nothing: its text is the campaign's body"
            raise UserError.of(
                "unknown_content", f"{channel} content has no {', '.join(extra)} (it takes "
                f"{allowed})", field=f"content.{channel}",
            )  # fmt: skip
        kept: dict[str, Any] = {}
        for name, required in fields.items():
            value = given.get(name)
            if isinstance(value, str):
                value = value.strip() if name != "html" and name != "body" else value
            if value in (None, "", []):
                if required:
                    raise UserError.of(f"no_{name}", REQUIRED_WHY[name],
                                       field=f"content.{channel}.{name}")  # fmt: skip
                continue
            kept[name] = _checked_field(channel, name, value, known, draft.coupon_pool)
        if kept:
            content[channel.value] = kept
    return {
        "channels": [c.value for c in chain],
        "fallback_after_s": int(delay.total_seconds()) if delay is not None else None,
        "content": content,
    }


def _checked_field(channel: str, name: str, value: Any, known: list[str],
                   coupon_pool: str | None) -> Any:  # fmt: skip
    where = f"{channel} {name}"
    field_name = f"content.{channel}.{name}"
    if name in TEXT_FIELDS:
        if not isinstance(value, str):
            raise UserError.of("bad_content", f"{where} must be text", field=field_name)
        _check_template(value, known, coupon_pool, where, field_name)
        return value
    if name == "params":
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise UserError.of("bad_content", "WhatsApp template parameters are a list of "
                               "texts", field=field_name)  # fmt: skip
        for number, param in enumerate(value, 1):
            _check_template(param, known, coupon_pool, f"template parameter {number}",
                            field_name)  # fmt: skip
        return list(value)
    if name == "template" and not (isinstance(value, str) and _WHATSAPP_TEMPLATE.match(value)):
        raise UserError.of("bad_template_name", f'"{value}" is not a WhatsApp template name '
                           "(lower-case letters, digits and _)", field=field_name)  # fmt: skip
    if name == "language" and not (isinstance(value, str) and _LANGUAGE.match(value)):
        raise UserError.of("bad_language", f'"{value}" is not a language code like en or '
                           "pl or en_US", field=field_name)  # fmt: skip
    return value


def _check_draft(conn: Connection, workspace: WorkspaceRef, draft: CampaignDraft,
                 now: datetime) -> tuple[str, int | None, int | None, dict[str, Any]]:  # fmt: skip
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
    channels = check_channels(draft, [*known, *TEMPLATE_FIELDS])
    for name, body, _ in _bodies(draft):
        _check_template(body, [*known, *TEMPLATE_FIELDS], draft.coupon_pool, f"variant {name}",
                        "body")  # fmt: skip
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
    return expression, pool, number_id, channels


def create_campaign(
    engine: Engine, workspace: WorkspaceRef, draft: CampaignDraft, *, actor: str, now: datetime
) -> int:
    """Checks everything a launch will need (segment, templates, pool, time) and saves a draft."""
    with engine.begin() as conn:
        expression, pool, number_id, channels = _check_draft(conn, workspace, draft, now)
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
            **channels,
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
    either: delivered, undelivered, failed, expired, unknown and cancelled are final,
    and none waits to fall back to the chain's next channel (`fallback_pending`).
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
            elif row.awaiting_reports or fallback_pending(conn, row.id):
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
            log.info("campaign %d %s", row.id, "completed" if values["status"] == "completed"
                     else "ran; scheduled again", extra=_ids(row))  # fmt: skip
            if values["status"] == "completed":
                _emit_completed(conn, row, finished_sending, now)
    return done


def _ids(row: Any) -> dict[str, int]:
    """The fields a JSON log line carries (see `smscast.cli.log_format`)."""
    return {"campaign_id": int(row.id), "workspace_id": int(row.workspace_id)}


def fallback_pending(conn: Connection, campaign_id: int) -> bool:
    """Whether a message of the campaign still waits to hand over to its chain's next
    channel (`fallback_at` set): a WhatsApp message failed a moment ago is final, but the
    campaign is not done until its SMS has gone. Read through the small fallback index
    (`+ 0` keeps SQLite off the campaign index, which would walk every message), and only
    for a campaign about to complete."""
    found = conn.execute(
        select(messages.c.id)
        .where(messages.c.fallback_at.is_not(None), (messages.c.campaign_id + 0) == campaign_id)
        .limit(1)
    ).first()
    return found is not None


def _emit_completed(conn: Connection, row: Any, finished_sending: datetime, now: datetime) -> None:
    """Announces the campaign's outcome: every message is final, so the counts are too."""
    # Here, not at the top: webhooks bring HTTPX, which `campaigns launch` would load first.
    from smscast.engine.webhooks.events import emit_events, load_subscriptions

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
