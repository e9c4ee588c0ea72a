"""The portal's campaign builder: its saved drafts, the campaign they describe, and the
live message check while a marketer types.

A builder draft is the form as typed (strings, kept even when wrong) and the step
reached, so a marketer can leave and come back; it becomes a real campaign only at
launch, through `create_campaign` like any other. `draft_from_fields` turns the typed
fields into the engine's `CampaignDraft`, refusing a wrong one with the field named.

The message step also says on which channel the campaign goes, or the chain of channels
tried one after the other with the delay before falling back (`channel_options_of`),
with each channel's own content beside the text: an email's subject and optional HTML,
a WhatsApp template with its language and parameters, a push notification's title and
address. SMS stays the default, so a draft typed before channels existed is an SMS one.

`check_draft_message` answers "which encoding, how many parts" for the texts the launch
would write: it walks the audience the way a launch does (the same member query,
screening and `RecipientBuilder`, with the connector's national tables, the footer and
smart encoding) and writes nothing, so its answer is the launch's.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, insert, select, update

from smscast.config import Settings
from smscast.core.campaign_rules import rules_from_settings
from smscast.core.channels import Channel, check_fallback_delay, parse_channel_chain
from smscast.core.errors import UserError
from smscast.core.segment_parser import parse_segment
from smscast.core.segments import check_segment
from smscast.core.templates import compile_template
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.campaigns.coupons import peek_coupons, pool_id
from smscast.engine.campaigns.launch_plan import (
    Plan,
    Stage,
    campaign_message_rules,
    members_where,
    plan_route,
    read_members,
)
from smscast.engine.campaigns.lifecycle import (
    AB_METRICS,
    PURPOSES,
    TEMPLATE_FIELDS,
    ABTest,
    CampaignDraft,
    numbers,
)
from smscast.engine.campaigns.materialise import TokenSource
from smscast.engine.campaigns.preview import STAND_IN_CODE
from smscast.engine.campaigns.recipients import OutboxRow, RecipientBuilder, Timing, Variant
from smscast.engine.campaigns.segments import saved_expression
from smscast.store.campaign_models import BuilderDraft
from smscast.store.models import table_of
from smscast.store.segment_sql import attribute_names

drafts = table_of(BuilderDraft)

STEPS = ("audience", "message", "variants", "timing", "sender", "review")
"""The builder's steps in order; a draft remembers the furthest one reached."""
TIMINGS = ("now", "at", "local", "repeat")
MAX_FIELD = 5000
"""Longest value kept per typed field: a draft is a form, not a file store."""
SAMPLES = 5
"""Recipients whose personalised text the message step shows."""
CHAIN_SLOTS = 3
"""Channels a campaign may try one after the other (`channel_1` … `channel_3`)."""
CONTENT_FIELDS = {
    Channel.EMAIL: ("email_subject", "email_html"),
    Channel.WHATSAPP: ("whatsapp_template", "whatsapp_language", "whatsapp_params"),
    Channel.PUSH: ("push_title", "push_url"),
}
"""The typed fields of each channel's own content, beside the text every channel has."""
CHANNEL_FIELDS = (
    *(f"channel_{i}" for i in range(1, CHAIN_SLOTS + 1)),
    "fallback_after",
    *(name for names in CONTENT_FIELDS.values() for name in names),
)
"""What the message step types about channels."""
_DELAY = re.compile(r"^\s*(\d{1,6})\s*([smhd]?)\s*$", re.IGNORECASE)
_DELAY_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "": 60}
LIVE_MEMBERS = 10_000
"""Members the live check reads as the text is typed (about half a second on SQLite);
the review step reads them all, as the launch will."""


@dataclass(frozen=True, slots=True)
class _PreviewCampaign:
    """The columns of a campaign row the launch plan reads, for a campaign not yet saved."""

    purpose: str
    options: dict[str, Any]
    schedule: dict[str, Any]
    number_id: int | None
    segment_expression: str
    id: int = 0
    """No campaign has id 0: its messages and links are none."""


@dataclass
class SampleText:
    """One recipient's text as the launch would write it."""

    phone: str
    text: str
    encoding: str
    parts: int


@dataclass
class MessageCheck:
    """What the message step shows: encoding and parts of the personalised texts."""

    recipients: int = 0
    excluded: Counter[str] = field(default_factory=Counter)
    encoding: str = "GSM-7"
    """UCS-2 when any recipient's text needs it."""
    most_parts: int = 0
    longest: str = ""
    """The text with the most parts (the first UCS-2 one when parts tie)."""
    longest_is_ucs2: bool = False
    samples: list[SampleText] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    read: int = 0
    """Members read: those who get a text and those left out."""
    partial: bool = False
    """The check stopped at its `limit`: the figures are for the first `read` members."""
    messages: Counter[str] = field(default_factory=Counter)
    """Texts by encoding."""
    parts: Counter[str] = field(default_factory=Counter)
    """Parts by encoding."""
    cost: float = 0.0

    @property
    def excluded_total(self) -> int:
        return sum(self.excluded.values())


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    """The typed fields as they are kept: strings (and lists of variant rows), trimmed
    to `MAX_FIELD`; anything else a form cannot send is dropped."""
    kept: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, str):
            kept[str(key)[:100]] = value[:MAX_FIELD]
        elif isinstance(value, list):
            kept[str(key)[:100]] = [
                {str(k)[:100]: str(v)[:MAX_FIELD] for k, v in row.items()}
                for row in value[:10]
                if isinstance(row, dict)
            ]
    return kept


def start_builder_draft(
    engine: Engine, workspace: WorkspaceRef, owner_id: int, name: str, *, now: datetime
) -> int:
    """A new draft for `owner_id`, named as typed (a name may be given later)."""
    with engine.begin() as conn:
        draft_id = conn.execute(
            insert(drafts)
            .values(workspace_id=workspace.id, owner_id=owner_id, name=name.strip()[:200],
                    data={"name": name[:200]}, step=STEPS[0], created_at=now, updated_at=now)
            .returning(drafts.c.id)
        ).scalar_one()  # fmt: skip
    return int(draft_id)


def _draft_row(conn: Connection, workspace: WorkspaceRef, owner_id: int, draft_id: int) -> Any:
    row = conn.execute(
        select(drafts).where(
            drafts.c.id == draft_id,
            drafts.c.workspace_id == workspace.id,
            drafts.c.owner_id == owner_id,
        )
    ).first()
    if row is None:
        raise UserError.of("unknown_draft", f"no campaign draft {draft_id} of yours in this "
                           "workspace", field="draft")  # fmt: skip
    return row


def load_builder_draft(
    engine: Engine, workspace: WorkspaceRef, owner_id: int, draft_id: int
) -> dict[str, Any]:
    """The draft's fields as typed, its step and, once launched, its campaign."""
    with engine.connect() as conn:
        row = _draft_row(conn, workspace, owner_id, draft_id)
    return {
        "id": row.id,
        "name": row.name,
        "data": dict(row.data or {}),
        "step": row.step,
        "campaign_id": row.campaign_id,
        "updated_at": row.updated_at,
    }


def save_builder_draft(
    engine: Engine, workspace: WorkspaceRef, owner_id: int, draft_id: int,
    fields: dict[str, Any], step: str, *, now: datetime,
) -> None:  # fmt: skip
    """Merges the fields of one step into the draft and remembers the furthest step."""
    if step not in STEPS:
        raise UserError.of("unknown_step", f'no builder step "{step}"', field="step")
    with engine.begin() as conn:
        row = _draft_row(conn, workspace, owner_id, draft_id)
        if row.campaign_id is not None:
            raise UserError.of("draft_launched", f"this draft became campaign "
                               f"#{row.campaign_id}; start a new one", field="draft")  # fmt: skip
        data = _clean({**(row.data or {}), **fields})
        reached = max(STEPS.index(row.step) if row.step in STEPS else 0, STEPS.index(step))
        conn.execute(
            update(drafts)
            .where(drafts.c.id == draft_id)
            .values(data=data, name=str(data.get("name", "")).strip()[:200],
                    step=STEPS[reached], updated_at=now)
        )  # fmt: skip


def list_builder_drafts(
    engine: Engine, workspace: WorkspaceRef, owner_id: int
) -> list[dict[str, Any]]:
    """The owner's drafts not yet launched, the latest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(drafts.c.id, drafts.c.name, drafts.c.step, drafts.c.updated_at)
            .where(drafts.c.workspace_id == workspace.id, drafts.c.owner_id == owner_id,
                   drafts.c.campaign_id.is_(None))
            .order_by(drafts.c.updated_at.desc(), drafts.c.id.desc())
        ).all()  # fmt: skip
    return [{"id": r.id, "name": r.name, "step": r.step, "updated_at": r.updated_at} for r in rows]


def finish_builder_draft(
    engine: Engine, workspace: WorkspaceRef, owner_id: int, draft_id: int, campaign_id: int,
    *, now: datetime,
) -> None:  # fmt: skip
    """Records the campaign a draft became: it leaves the list of drafts."""
    with engine.begin() as conn:
        _draft_row(conn, workspace, owner_id, draft_id)
        conn.execute(update(drafts).where(drafts.c.id == draft_id)
                     .values(campaign_id=campaign_id, updated_at=now))  # fmt: skip


def template_variables(engine: Engine, workspace: WorkspaceRef) -> list[str]:
    """The names a template may use for this workspace's contacts: their attributes and
    their own fields."""
    with engine.connect() as conn:
        known = attribute_names(conn, workspace.id)
    return sorted({*known, *TEMPLATE_FIELDS})


def audience_expression(engine: Engine, workspace: WorkspaceRef, data: dict[str, Any]) -> str:
    """The segment expression the typed audience stands for (a saved segment's own)."""
    if data.get("audience") == "segment":
        name = str(data.get("segment_name", "")).strip()
        if not name:
            raise UserError.of("no_segment", "choose a saved segment", field="segment_name")
        with engine.connect() as conn:
            return saved_expression(conn, workspace, name)
    return str(data.get("expression", ""))


def _int(value: str, field_name: str, what: str, low: int, high: int) -> int:
    text = value.strip()
    if not text.lstrip("-").isdigit() or not low <= int(text) <= high:
        raise UserError.of("bad_number", f'{what} must be a whole number from {low} to {high}, '
                           f'not "{value}"', field=field_name)  # fmt: skip
    return int(text)


def _variants_of(data: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    rows = data.get("variants") or []
    found = []
    for index, row in enumerate(rows):
        body = str(row.get("body", ""))
        if body.strip():
            found.append((str(row.get("name", "")).strip() or chr(ord("B") + index), body))
    return tuple(found)


def _split_of(data: dict[str, Any]) -> tuple[int, ...]:
    text = str(data.get("split", "")).strip()
    if not text:
        return ()
    try:
        return tuple(int(part) for part in text.replace(" ", "").split(","))
    except ValueError:
        raise UserError.of("bad_split", f'the split is percentages separated by commas '
                           f'(50,50), not "{text}"', field="split") from None  # fmt: skip


def _ab_test_of(data: dict[str, Any]) -> ABTest | None:
    if data.get("ab_test") != "1":
        return None
    metric = str(data.get("ab_metric", "click"))
    if metric not in AB_METRICS:
        raise UserError.of("bad_ab_test", f'"{metric}" is not one of {", ".join(AB_METRICS)}',
                           field="ab_metric")  # fmt: skip
    return ABTest(
        sample_percent=_int(str(data.get("ab_sample", "")), "ab_sample", "the sample", 1, 99),
        metric=metric,
        decide_after=timedelta(hours=_int(str(data.get("ab_hours", "")), "ab_hours",
                                          "the hours before deciding", 1, 720)),
    )  # fmt: skip


def _timing_of(data: dict[str, Any], zone: str) -> dict[str, Any]:
    """CampaignDraft's timing fields; a date and time typed in the workspace's zone."""
    kind = str(data.get("timing", "now"))
    if kind not in TIMINGS:
        raise UserError.of("bad_timing", f'"{kind}" is not a way to time a campaign',
                           field="timing")  # fmt: skip
    found: dict[str, Any] = {}
    if kind == "at":
        try:
            day = date.fromisoformat(str(data.get("at_date", "")).strip())
        except ValueError:
            raise UserError.of("bad_date", "enter the date as YYYY-MM-DD",
                               field="at_date") from None  # fmt: skip
        try:
            clock = time.fromisoformat(str(data.get("at_time", "")).strip())
        except ValueError:
            raise UserError.of("bad_time", "enter the time as HH:MM", field="at_time") from None
        local = datetime.combine(day, clock, tzinfo=ZoneInfo(zone))
        found["at"] = local.astimezone(UTC)
    if kind == "local":
        try:
            found["local_time"] = time.fromisoformat(str(data.get("local_time", "")).strip())
        except ValueError:
            raise UserError.of("bad_time", "enter the local time as HH:MM",
                               field="local_time") from None  # fmt: skip
    if kind == "repeat":
        cron = str(data.get("cron", "")).strip()
        if not cron:
            raise UserError.of("bad_cron", "enter when it repeats, as cron (0 9 * * MON)",
                               field="cron")  # fmt: skip
        found["cron"] = cron
    spread = str(data.get("spread_minutes", "")).strip()
    if spread:
        minutes = _int(spread, "spread_minutes", "the spread", 0, 7 * 24 * 60)
        found["spread"] = timedelta(minutes=minutes)
    return found


@dataclass(frozen=True, slots=True)
class ChannelOptions:
    """The channel part of a campaign as typed, checked: CampaignDraft's three fields."""

    channels: tuple[str, ...] = ("sms",)
    fallback_after: timedelta | None = None
    content: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def has_sms(self) -> bool:
        """Whether parts count: only SMS is billed and throttled by the part."""
        return "sms" in self.channels


def parse_fallback_delay(text: str) -> timedelta:
    """`10m`, `2h`, `1d`, `90s` or a bare number of minutes, between 1m and 3d."""
    found = _DELAY.match(text)
    if found is None:
        raise UserError.of("bad_fallback_delay", f'"{text}" is not a delay: write it like 10m, '
                           "2h or 1d", field="fallback_after")  # fmt: skip
    seconds = int(found.group(1)) * _DELAY_UNITS[found.group(2).lower()]
    return check_fallback_delay(timedelta(seconds=seconds), field="fallback_after")


def channel_options_of(data: dict[str, Any]) -> ChannelOptions:
    """The channel or chain, the fallback delay and each chosen channel's content; a
    UserError names the field (a draft without channel fields is an SMS campaign)."""
    typed = [str(data.get(f"channel_{i}", "")).strip() for i in range(1, CHAIN_SLOTS + 1)]
    if not typed[0]:
        typed[0] = "sms" if not any(typed) else ""
    if not typed[0]:
        raise UserError.of("missing_channel", "choose the channel tried first",
                           field="channel_1")  # fmt: skip
    named = [(i, word) for i, word in enumerate(typed, start=1) if word]
    try:
        chain = parse_channel_chain(",".join(word for _, word in named), field="channel_1")
    except UserError as error:  # at the slot that repeats, or the first that is unknown
        words = [word.lower() for _, word in named]
        slot = next((i for n, (i, _) in enumerate(named) if words[n] in words[:n]), 1)
        if error.problem.code != "repeated_channel":
            slot = next((i for i, word in named if word.lower() not in set(Channel)), 1)
        raise UserError.of(
            error.problem.code, error.problem.message, field=f"channel_{slot}"
        ) from None
    delay_text = str(data.get("fallback_after", "")).strip()
    delay = None
    if len(chain) > 1:
        if not delay_text:
            raise UserError.of("missing_fallback_delay", "say how long to wait before the next "
                               "channel, like 10m", field="fallback_after")  # fmt: skip
        delay = parse_fallback_delay(delay_text)
    content = {channel.value: _content_of(channel, data) for channel in chain}
    return ChannelOptions(tuple(c.value for c in chain), delay,
                          {name: found for name, found in content.items() if found})  # fmt: skip


def _content_of(channel: Channel, data: dict[str, Any]) -> dict[str, Any]:
    """One channel's own content, checked (the text itself is the draft's body)."""

    def typed(name: str) -> str:
        return str(data.get(name, "")).strip()

    if channel is Channel.EMAIL:
        subject = typed("email_subject")
        if not subject:
            raise UserError.of("missing_subject", "an email needs a subject",
                               field="email_subject")  # fmt: skip
        html = str(data.get("email_html", ""))
        return {"subject": subject, **({"html": html} if html.strip() else {})}
    if channel is Channel.WHATSAPP:
        template, language = typed("whatsapp_template"), typed("whatsapp_language")
        params = [line.strip() for line in str(data.get("whatsapp_params", "")).splitlines()
                  if line.strip()]  # fmt: skip
        if not template:
            raise UserError.of("missing_template", "a WhatsApp campaign starts the "
                               "conversation, which WhatsApp allows only with an approved "
                               "message template: name it", field="whatsapp_template")  # fmt: skip
        if template and not re.fullmatch(r"[a-z0-9_]{1,512}", template):
            raise UserError.of("bad_template", f'"{template}" is not a WhatsApp template '
                               "name: lower-case letters, digits and _",
                               field="whatsapp_template")  # fmt: skip
        return {"template": template, **({"language": language} if language else {}),
                **({"params": params} if params else {})}  # fmt: skip
    if channel is Channel.PUSH:
        title, url = typed("push_title"), typed("push_url")
        if not title:
            raise UserError.of("missing_title", "a push notification needs a title",
                               field="push_title")  # fmt: skip
        if url and not re.match(r"https?://[^/\s]+", url):
            raise UserError.of("bad_url", f'"{url}" is not an http(s) address', field="push_url")
        return {"title": title, **({"url": url} if url else {})}
    return {}


def draft_from_fields(data: dict[str, Any], expression: str, zone: str) -> CampaignDraft:
    """The engine's `CampaignDraft` for the typed fields; a UserError names the field.

    `at` comes out in UTC, as the engine's clock and `create_campaign` compare it.
    """
    purpose = str(data.get("purpose", "promotional"))
    if purpose not in PURPOSES:
        raise UserError.of("bad_purpose", f'"{purpose}" is not promotional or informational',
                           field="purpose")  # fmt: skip
    variants = _variants_of(data)
    split = _split_of(data)
    if split and (len(split) != len(variants) + 1 or sum(split) != 100 or min(split) < 0):
        raise UserError.of("bad_split", f"the split needs {len(variants) + 1} percentages "
                           "adding up to 100, one per variant", field="split")  # fmt: skip
    ab_test = _ab_test_of(data)
    channels = channel_options_of(data)
    if ab_test is not None and not variants:
        raise UserError.of("bad_ab_test", "an A/B test needs a second variant",
                           field="variant_1_body")  # fmt: skip
    return CampaignDraft(
        name=str(data.get("name", "")),
        body=str(data.get("body", "")),
        segment=expression,
        variants=variants,
        split=split,
        purpose=purpose,
        from_number=str(data.get("from_number", "")).strip() or None,
        coupon_pool=str(data.get("coupon_pool", "")).strip() or None,
        smart_encoding=data.get("smart_encoding") == "1",
        expects_reply=data.get("expects_reply") == "1",
        ab_test=ab_test,
        channels=channels.channels,
        fallback_after=channels.fallback_after,
        content=channels.content,
        **_timing_of(data, zone),
    )


def check_draft_message(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, draft: CampaignDraft,
    now: datetime, *, samples: int = SAMPLES, limit: int | None = None,
) -> MessageCheck:  # fmt: skip
    """Every variant's text personalised for each member of the audience, as the launch
    would write it (nothing is written): the encoding, the most parts of any text, the
    longest text and the first few texts. An error names the field (body, coupon pool,
    the audience's expression). With `limit`, reads about that many members at most
    (whole batches) and says so in `partial`."""
    check = MessageCheck()
    with engine.connect() as conn:
        known = [*attribute_names(conn, workspace.id), *TEMPLATE_FIELDS]
        bodies = [("A", draft.body), *draft.variants]
        found = []
        for index, (name, body) in enumerate(bodies):
            try:
                template = compile_template(body, known=known)
            except UserError as error:
                raise UserError.of(error.problem.code, f"variant {name}: {error.problem.message}",
                                   field="body" if index == 0 else "variants",
                                   line=error.problem.line,
                                   column=error.problem.column) from None  # fmt: skip
            found.append(Variant(-1 - index, template, 100 // len(bodies)))
        names = {use.name for v in found for use in v.template.variables}
        pool = pool_id(conn, workspace, draft.coupon_pool) if draft.coupon_pool else None
        if "coupon" in names and pool is None:
            raise UserError.of("no_coupon_pool", "the text uses {{ coupon }}: choose the coupon "
                               "pool its codes come from", field="coupon_pool")  # fmt: skip
        number_id = None
        if draft.from_number:
            number_id = _number_id(conn, workspace, draft.from_number)
        campaign = _PreviewCampaign(
            purpose=draft.purpose, options={"smart_encoding": draft.smart_encoding,
                                            "channels": list(draft.channels)},
            schedule={}, number_id=number_id, segment_expression=draft.segment,
        )  # fmt: skip
        rules = rules_from_settings(workspace.settings, short_domain=settings.served_url())
        number_id, connector_id = plan_route(conn, workspace, campaign)
        builder = RecipientBuilder(
            purpose=draft.purpose, variants=found, rules=rules,
            message_rules=campaign_message_rules(conn, campaign, rules, connector_id),
            timing=Timing(start=now, local_time=None, spread=timedelta(0), quiet=False,
                          validity=None),
            links={}, workspace_zone=workspace.timezone, stamp=lambda moment: moment,
        )  # fmt: skip
        plan = Plan(workspace, campaign, 0, Stage("all"), rules, builder, "coupon" in names,
                    "link" in names, pool, number_id, connector_id)  # fmt: skip
        try:
            check_segment(parse_segment(draft.segment), attribute_names(conn, workspace.id))
        except UserError as error:  # its field names the attribute; the input is the segment
            problem = error.problem
            raise UserError.of(problem.code, problem.message, field="segment", line=problem.line,
                               column=problem.column) from None  # fmt: skip
        where = members_where(conn, plan, now)
        tokens = TokenSource(random.Random(0))
        after = coupon_after = 0
        while True:
            members, last, capped = read_members(conn, plan, where, after,
                                                 settings.launch_batch_size, now)  # fmt: skip
            if last == after:
                break
            if limit is not None and check.read >= limit:
                check.partial = True
                break
            check.read += len(members)
            eligible, batch = builder.screen(members, capped)
            codes = None
            if plan.uses_coupon and pool is not None and eligible:
                peeked = peek_coupons(conn, pool, coupon_after, len(eligible))
                coupon_after = peeked[-1][0] if peeked else coupon_after
                codes = [code for _, code in peeked]
                codes += [codes[-1] if codes else STAND_IN_CODE] * (len(eligible) - len(codes))
            links = tokens.batch(len(eligible)) if plan.uses_link else None
            builder.build(eligible, batch, codes, links)
            _tally(check, batch.rows, batch.excluded, batch.problems, samples)
            after = last
    return check


def _tally(check: MessageCheck, rows: list[OutboxRow], excluded: Counter[str],
           problems: list[str], samples: int) -> None:  # fmt: skip
    check.excluded.update(excluded)
    check.problems.extend(problems[: 5 - len(check.problems)])
    for row in rows:
        check.recipients += 1
        check.messages[row.encoding] += 1
        check.parts[row.encoding] += row.parts
        check.cost += row.cost
        if row.encoding == "UCS-2":
            check.encoding = "UCS-2"
        longer = row.parts > check.most_parts
        if longer or (row.parts == check.most_parts and row.encoding == "UCS-2"
                      and not check.longest_is_ucs2):  # fmt: skip
            check.most_parts, check.longest = row.parts, row.body
            check.longest_is_ucs2 = row.encoding == "UCS-2"
        if len(check.samples) < samples:
            check.samples.append(SampleText(row.phone, row.body, row.encoding, row.parts))


def _number_id(conn: Connection, workspace: WorkspaceRef, number: str) -> int:
    found = conn.execute(
        select(numbers.c.id).where(numbers.c.workspace_id == workspace.id,
                                   numbers.c.number == number)
    ).scalar()  # fmt: skip
    if found is None:
        raise UserError.of("unknown_number", f"no number {number} in this workspace",
                           field="from")  # fmt: skip
    return int(found)


def check_audience(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, expression: str, purpose: str,
    now: datetime,
) -> MessageCheck:  # fmt: skip
    """Who in the audience would get a text and who would not, by reason (no consent,
    opted out, duplicate, invalid number, capped): screening does not depend on the text,
    so a one-character stand-in is built for each."""
    stand_in = CampaignDraft(name="", body=".", segment=expression,
                             purpose=purpose if purpose in PURPOSES else "promotional")  # fmt: skip
    return check_draft_message(engine, settings, workspace, stand_in, now, samples=0)
