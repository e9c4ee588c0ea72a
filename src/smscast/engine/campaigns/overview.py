"""What the portal's campaign pages show beside `stats.campaign_report`: the list of
campaigns with each one's progress and key rates, and the parts of one campaign the
report's counters do not hold (its dates, A/B variants and winner, tracked links,
coupon pool).

Figures come from the same hourly counters as the report (`engine.stats`), summed for
a whole page of campaigns in one query, so the list costs the same whatever the
number of messages. The list runs newest first: a marketer looks for what they
launched last.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, distinct, func, select

from smscast.core.errors import UserError
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.campaigns.ab import variant_rates
from smscast.engine.campaigns.channel_report import chain_of, channel_figures
from smscast.engine.campaigns.lifecycle import campaign_row, campaigns, messages, variants
from smscast.engine.stats import FIELDS, campaign_rates, campaign_report, campaign_stats
from smscast.store.campaign_models import EXCLUSION_REASONS, CampaignLink, Click, CouponPool
from smscast.store.models import table_of

campaign_links = table_of(CampaignLink)
clicks = table_of(Click)
coupon_pools = table_of(CouponPool)

STATUSES = ("draft", "scheduled", "running", "paused", "completed", "cancelled")
MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class CampaignPage:
    """One page of the list; `older_than` is the id to ask the next page before (None on
    the last page)."""

    items: list[dict[str, Any]]
    older_than: int | None


def list_campaign_overviews(
    engine: Engine,
    workspace: WorkspaceRef,
    *,
    status: str | None = None,
    before_id: int | None = None,
    limit: int = 25,
) -> CampaignPage:
    """The workspace's campaigns, newest first, each with its counters, progress and rates.

    `before_id` reads the page after one already shown (ids only grow, so a page stays
    put while campaigns are added); an unknown `status` is refused, not answered with
    an empty list.
    """
    if status is not None and status not in STATUSES:
        raise UserError.of(
            "unknown_status", f'"{status}" is not one of {", ".join(STATUSES)}', field="status"
        )
    limit = max(1, min(limit, MAX_PAGE))
    query = select(
        campaigns.c.id, campaigns.c.name, campaigns.c.status, campaigns.c.purpose,
        campaigns.c.created_at, campaigns.c.launched_at, campaigns.c.finished_at,
    ).where(campaigns.c.workspace_id == workspace.id)  # fmt: skip
    if status is not None:
        query = query.where(campaigns.c.status == status)
    if before_id is not None:
        query = query.where(campaigns.c.id < before_id)
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(campaigns.c.id.desc()).limit(limit + 1)).all()
        shown = rows[:limit]
        totals = _totals_of(conn, [row.id for row in shown])
    items = []
    for row in shown:
        counted = totals.get(row.id) or dict.fromkeys(FIELDS, 0)
        items.append(
            {**row._mapping, **counted, **progress_of(counted), "rates": campaign_rates(counted)}
        )
    older = shown[-1].id if len(rows) > limit else None
    return CampaignPage(items, older)


def _totals_of(conn: Connection, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Every counter summed per campaign, for the campaigns `ids`, in one query."""
    if not ids:
        return {}
    sums = [func.coalesce(func.sum(campaign_stats.c[name]), 0).label(name) for name in FIELDS]
    rows = conn.execute(
        select(campaign_stats.c.campaign_id, *sums)
        .where(campaign_stats.c.campaign_id.in_(ids))
        .group_by(campaign_stats.c.campaign_id)
    ).all()
    found: dict[int, dict[str, Any]] = {}
    for row in rows:
        counted: dict[str, Any] = {name: int(row._mapping[name]) for name in FIELDS}
        counted["cost"] = round(float(row._mapping["cost"]), 5)
        found[int(row.campaign_id)] = counted
    return found


def progress_of(totals: dict[str, Any]) -> dict[str, Any]:
    """How far sending got: texts made for the campaign (targeted less excluded), how many
    of them have left the queue, and how many were sent.

    `to_send` is what the launch turned into messages, and the messages a channel chain
    fell back to (sent or queued beyond one per person); `handled` counts those no longer
    waiting (sent, failed, expired or cancelled), so a campaign whose last texts failed
    still reads as finished; `share` is handled over to_send (None before the launch).
    """
    excluded = sum(int(totals.get(f"excluded_{reason}", 0)) for reason in EXCLUSION_REASONS)
    made = int(totals.get("sent", 0)) + int(totals.get("queued", 0))
    to_send = max(int(totals.get("targeted", 0)) - excluded, made, 0)
    handled = max(to_send - int(totals.get("queued", 0)), 0)
    return {
        "to_send": to_send,
        "handled": handled,
        "progress": round(handled / to_send, 4) if to_send else None,
    }


def campaign_details(engine: Engine, workspace: WorkspaceRef, campaign_id: int) -> dict[str, Any]:
    """The campaign's dates and audience, its variants with their A/B figures and the
    winner, its tracked links with the people who followed each, and its coupon pool.

    The variants' figures are measured as the A/B test measures them
    (`ab.variant_rates`, on the test's metric, or clicks for a plain split); links are
    counted per link only when the text has more than one (one link's clicks are the
    report's `unique_clicks`).
    """
    with engine.connect() as conn:
        row = campaign_row(conn, workspace.id, campaign_id)
        options = row.options or {}
        ab = options.get("ab_test")
        shown_variants = _variants(conn, row, ab)
        links = _links(conn, campaign_id)
        pool = None
        if options.get("coupon_pool_id") is not None:
            pool = conn.execute(
                select(coupon_pools.c.name).where(coupon_pools.c.id == options["coupon_pool_id"])
            ).scalar()
    schedule = row.schedule or {}
    return {
        "id": row.id,
        "name": row.name,
        "segment": row.segment_expression,
        "created_at": row.created_at,
        "created_by": row.created_by,
        "launched_at": row.launched_at,
        "finished_at": row.finished_at,
        "scheduled_at": _moment(schedule.get("at")),
        "next_run_at": _moment(schedule.get("next_run_at")),
        "cron": schedule.get("cron"),
        "ab_test": None
        if not ab
        else {
            "sample_percent": int(ab["sample_percent"]),
            "metric": ab["metric"],
            "decide_after_seconds": int(ab["decide_after_seconds"]),
            "decided_at": _moment(ab.get("decided_at")),
        },
        "variants": shown_variants,
        "links": links,
        "coupon_pool": pool,
        "expects_reply": bool(options.get("expects_reply")),
        "smart_encoding": bool(options.get("smart_encoding")),
        "channels": chain_of(options),
        "fallback_after_seconds": options.get("fallback_after_s"),
        "content": options.get("content") or {},
    }


def campaign_report_with_channels(
    engine: Engine, workspace_id: int, campaign_id: int, *, now: datetime | None = None
) -> dict[str, Any]:
    """`stats.campaign_report` with the figures of each of the campaign's channels
    (`"channels"`, see `channel_report.channel_figures`): what the API and the CLI show."""
    report = campaign_report(engine, workspace_id, campaign_id, now=now)
    with engine.connect() as conn:
        report["channels"] = channel_figures(conn, campaign_id)
    return report


def _moment(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _variants(conn: Connection, campaign: Any, ab: dict[str, Any] | None) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(variants).where(variants.c.campaign_id == campaign.id).order_by(variants.c.id)
    ).all()
    metric = ab["metric"] if ab else "click"
    measured = variant_rates(conn, campaign, metric) if len(rows) > 1 else {}
    shown = []
    for row in rows:
        hits, total = measured.get(row.id, (0, 0))
        shown.append({
            "name": row.name, "body": row.body, "split_percent": row.split_percent,
            "is_winner": bool(row.is_winner), "metric": metric, "hits": hits,
            "messages": total, "rate": round(hits / total, 4) if total else None,
        })  # fmt: skip
    return shown


def _links(conn: Connection, campaign_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(campaign_links.c.position, campaign_links.c.url)
        .where(campaign_links.c.campaign_id == campaign_id)
        .order_by(campaign_links.c.position)
    ).all()
    per_link: dict[int, int] = {}
    if len(rows) > 1:  # through the campaign's messages: clicks has no campaign index
        per_link = {
            int(position): int(people)
            for position, people in conn.execute(
                select(clicks.c.position, func.count(distinct(clicks.c.message_id)))
                .select_from(messages.join(clicks, clicks.c.message_id == messages.c.id))
                .where(messages.c.campaign_id == campaign_id, clicks.c.is_bot.is_(False))
                .group_by(clicks.c.position)
            )
        }
    return [
        {"position": row.position, "url": row.url, "people": per_link.get(row.position)}
        for row in rows
    ]
