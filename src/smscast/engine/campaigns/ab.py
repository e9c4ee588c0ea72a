"""A/B tests: after the test phase, pick the variant that did best and send it to the rest.

The sample is launched like any campaign (stage `sample`); once `decide_after` has
passed since launch, each variant's rate on the chosen metric is measured over its
own messages, the best one (the first on a tie) is marked the winner, and the
members outside the sample are launched with it (stage `rest`).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, distinct, func, select, update

from smscast.config import Settings
from smscast.engine.accounts.workspaces import resolve_workspace
from smscast.engine.campaigns.lifecycle import campaigns, messages, variants
from smscast.engine.campaigns.materialise import Stage, make_plan, materialise
from smscast.store.campaign_models import CampaignLaunch, Click
from smscast.store.inbound_models import InboundRoute
from smscast.store.models import table_of

clicks = table_of(Click)
launches = table_of(CampaignLaunch)
routes = table_of(InboundRoute)


def first_stage(campaign: Any) -> Stage:
    """Who a run starts with: an A/B test's sample until its winner is chosen, then (on
    every later run of a recurring campaign) the whole segment, with the winner."""
    ab = (campaign.options or {}).get("ab_test")
    if ab and ab.get("winner") is None:
        return Stage("sample", int(ab["sample_percent"]))
    return Stage("all")


def stage_named(campaign: Any, name: str) -> Stage:
    """The stage `name` (all, sample, rest) of the campaign, to resume a launch of it."""
    ab = (campaign.options or {}).get("ab_test") or {}
    return Stage(name, int(ab.get("sample_percent", 0)))


def variant_rates(conn: Connection, campaign: Any, metric: str) -> dict[int, tuple[int, int]]:
    """Variant id → (successes, messages) on the metric: delivered, clicked or replied."""
    sent: dict[int | None, int] = {
        variant: total
        for variant, total in conn.execute(
            select(messages.c.variant_id, func.count())
            .where(messages.c.campaign_id == campaign.id, messages.c.direction == "out")
            .group_by(messages.c.variant_id)
        )
    }
    if metric == "delivery":
        query = select(messages.c.variant_id, func.count()).where(
            messages.c.campaign_id == campaign.id, messages.c.direction == "out",
            messages.c.status == "delivered",
        )  # fmt: skip
    elif metric == "click":
        query = (
            select(messages.c.variant_id, func.count(distinct(clicks.c.message_id)))
            .join(clicks, clicks.c.message_id == messages.c.id)
            .where(messages.c.campaign_id == campaign.id, clicks.c.is_bot.is_(False))
        )
    else:  # recipients who answered this campaign; a STOP, START or HELP is no answer
        from smscast.core.router import REPLY_ROUTES  # not at the top: `campaigns launch` waits

        query = (
            select(messages.c.variant_id, func.count(distinct(messages.c.contact_id)))
            .join(routes, and_(routes.c.contact_id == messages.c.contact_id,
                               routes.c.campaign_id == campaign.id,
                               routes.c.route.in_([route.value for route in REPLY_ROUTES])))
            .where(messages.c.campaign_id == campaign.id, messages.c.direction == "out")
        )  # fmt: skip
    hits: dict[int | None, int] = {
        variant: count for variant, count in conn.execute(query.group_by(messages.c.variant_id))
    }
    return {variant: (int(hits.get(variant, 0)), int(total)) for variant, total in sent.items()
            if variant is not None}  # fmt: skip


def pick_winner(rates: dict[int, tuple[int, int]]) -> int | None:
    """The variant with the highest rate; the lowest id among equals."""
    best: tuple[float, int] | None = None
    for variant in sorted(rates):
        hits, total = rates[variant]
        rate = hits / total if total else 0.0
        if best is None or rate > best[0]:
            best = (rate, variant)
    return best[1] if best else None


def _sample_done(conn: Connection, campaign_id: int) -> bool:
    row = conn.execute(
        select(launches.c.done).where(
            launches.c.campaign_id == campaign_id, launches.c.stage == "sample"
        )
    ).first()
    return bool(row and row.done)


def decide_ab_winners(engine: Engine, settings: Settings, now: datetime,
                      rng: random.Random) -> list[int]:  # fmt: skip
    """Decides every test whose time is up and launches its rest; returns those campaigns."""
    decided: list[int] = []
    with engine.connect() as conn:
        running = conn.execute(
            select(campaigns).where(campaigns.c.status == "running",
                                    campaigns.c.launched_at.is_not(None))
        ).all()  # fmt: skip
    for campaign in running:
        ab = (campaign.options or {}).get("ab_test")
        if not ab or ab.get("winner") is not None:
            continue
        if campaign.launched_at + timedelta(seconds=ab["decide_after_seconds"]) > now:
            continue
        with engine.begin() as conn:
            if not _sample_done(conn, campaign.id):
                continue
            winner = pick_winner(variant_rates(conn, campaign, ab["metric"]))
            if winner is None:
                winner = conn.execute(
                    select(variants.c.id)
                    .where(variants.c.campaign_id == campaign.id)
                    .order_by(variants.c.id)
                ).scalar()
            conn.execute(update(variants).where(variants.c.id == winner).values(is_winner=True))
            options = {
                **campaign.options,
                "ab_test": {**ab, "winner": winner, "decided_at": now.isoformat()},
            }
            conn.execute(update(campaigns).where(campaigns.c.id == campaign.id)
                         .values(options=options))  # fmt: skip
            workspace = resolve_workspace(conn, str(campaign.workspace_id))
            fresh = conn.execute(select(campaigns).where(campaigns.c.id == campaign.id)).one()
            run = int((fresh.schedule or {}).get("runs", 1)) - 1
            plan = make_plan(conn, workspace, fresh, run,
                             Stage("rest", int(ab["sample_percent"])), now,
                             link_base=settings.served_url())  # fmt: skip
        materialise(engine, settings, plan, now, rng)
        decided.append(campaign.id)
    return decided
