"""Launch use cases: `launch_campaign` for people, `launch_due_campaigns` for the scheduler.

A campaign due now is materialised at once (`smscast.engine.campaigns.materialise`); one due
later, or recurring, becomes `scheduled` and the scheduler loop launches it when
its time comes. A launch that stopped half-way (crash, kill -9) is picked up again
by the same loop once its progress mark has not moved for `launch_resume_after_s`
(a minute by default).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select, update

from smscast.config import Settings
from smscast.core.errors import UserError
from smscast.engine.accounts.audit import record_audit
from smscast.engine.accounts.workspaces import WorkspaceRef, resolve_workspace
from smscast.engine.campaigns.ab import decide_ab_winners, first_stage, stage_named
from smscast.engine.campaigns.launch_plan import Stage, check_launchable, make_plan
from smscast.engine.campaigns.lifecycle import (
    campaign_row,
    campaigns,
    complete_finished_campaigns,
    launches,
    next_run_time,
)
from smscast.engine.campaigns.materialise import materialise


def _due_at(schedule: dict[str, Any], now: datetime) -> datetime | None:
    """When a draft should start: None for now, else its time (or the cron's next)."""
    following = next_run_time(schedule, now - timedelta(seconds=1))
    at = datetime.fromisoformat(schedule["at"]) if schedule.get("at") else None
    if at is not None and at > now:
        return at
    if following is not None and following > now:
        return following
    return None


def run_campaign(engine: Engine, settings: Settings, workspace: WorkspaceRef, campaign_id: int,
                 stage: Stage, now: datetime, rng: random.Random, *,
                 coupons_checked: bool = False,
                 stop: Callable[[], bool] = lambda: False) -> dict[str, Any]:  # fmt: skip
    """Materialises one stage of the campaign's current run (see `materialise`)."""
    with engine.connect() as conn:
        campaign = campaign_row(conn, workspace.id, campaign_id)
        run = int((campaign.schedule or {}).get("runs", 1)) - 1
        plan = make_plan(
            conn, workspace, campaign, run, stage, now, link_base=settings.served_url()
        )
    return materialise(engine, settings, plan, now, rng, coupons_checked=coupons_checked,
                       stop=stop)  # fmt: skip


def _start_run(engine: Engine, workspace: WorkspaceRef, campaign: Any, now: datetime) -> None:
    schedule = dict(campaign.schedule or {})
    schedule["runs"] = int(schedule.get("runs", 0)) + 1
    schedule["next_run_at"] = None
    with engine.begin() as conn:
        conn.execute(
            update(campaigns)
            .where(campaigns.c.id == campaign.id)
            .values(status="running", schedule=schedule, launched_at=campaign.launched_at or now)
        )


def launch_campaign(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, campaign_id: int, *,
    actor: str, now: datetime, rng: random.Random | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Launches a draft now or schedules it; run again on a running one, finishes its launch."""
    rng = rng or random.SystemRandom()
    with engine.connect() as conn:
        campaign = campaign_row(conn, workspace.id, campaign_id)
        unfinished = (
            conn.execute(
                select(launches.c.stage).where(
                    launches.c.campaign_id == campaign_id, launches.c.done.is_(False)
                )
            )
            .scalars()
            .all()
        )
    if campaign.status == "running" and unfinished:
        stage = stage_named(campaign, unfinished[0])
        result = run_campaign(engine, settings, workspace, campaign_id, stage, now, rng)
        return {"id": campaign_id, "status": "running", **result}
    if campaign.status != "draft":
        raise UserError.of(
            "bad_transition", f"campaign {campaign_id} is {campaign.status}; only a draft can "
            "be launched", field="status",
        )  # fmt: skip
    schedule = dict(campaign.schedule or {})
    due = _due_at(schedule, now)
    if due is not None:
        schedule["next_run_at"] = due.isoformat()
        with engine.begin() as conn:
            conn.execute(update(campaigns).where(campaigns.c.id == campaign_id)
                         .values(status="scheduled", schedule=schedule))  # fmt: skip
            record_audit(conn, workspace.id, actor, "campaign.scheduled",
                         f"campaign #{campaign_id}", {"at": due.isoformat()}, now)  # fmt: skip
        return {"id": campaign_id, "status": "scheduled", "next_run_at": due.isoformat()}
    with engine.connect() as conn:  # refuse up front (e.g. too few coupons), still a draft
        plan = make_plan(
            conn,
            workspace,
            campaign,
            0,
            first_stage(campaign),
            now,
            link_base=settings.served_url(),
        )
        check_launchable(conn, plan, now)
    _start_run(engine, workspace, campaign, now)
    with engine.begin() as conn:
        record_audit(conn, workspace.id, actor, "campaign.launched", f"campaign #{campaign_id}",
                     {}, now)  # fmt: skip
    result = run_campaign(engine, settings, workspace, campaign_id, first_stage(campaign),
                          now, rng, coupons_checked=True)  # fmt: skip
    return {"id": campaign_id, "status": "running", **result}


def _pause_with_error(engine: Engine, campaign_id: int, error: UserError) -> None:
    """A launch the scheduler cannot carry out stops visibly, with the reason kept."""
    with engine.begin() as conn:
        row = conn.execute(select(campaigns.c.excluded).where(campaigns.c.id == campaign_id)).one()
        excluded = {**(row.excluded or {}), "error": error.problem.message}
        conn.execute(update(campaigns).where(campaigns.c.id == campaign_id)
                     .values(status="paused", excluded=excluded))  # fmt: skip


def launch_due_campaigns(engine: Engine, settings: Settings, now: datetime,
                         rng: random.Random | None = None,
                         stop: Callable[[], bool] = lambda: False) -> list[int]:  # fmt: skip
    """One scheduler tick: start due runs, resume stalled launches, pick A/B winners, finish.

    Safe to call every second and from a restarted process; returns the campaigns it
    launched or resumed. `stop` is asked between a launch's batches: a worker that is
    shutting down leaves the rest of a long launch to be resumed.
    """
    rng = rng or random.SystemRandom()
    touched: list[int] = []
    stood_still = timedelta(seconds=settings.launch_resume_after_s)
    with engine.connect() as conn:
        scheduled = conn.execute(select(campaigns).where(campaigns.c.status == "scheduled")).all()
        stalled = conn.execute(
            select(launches.c.campaign_id, launches.c.stage)
            .join(campaigns, campaigns.c.id == launches.c.campaign_id)
            .where(launches.c.done.is_(False), launches.c.updated_at < now - stood_still,
                   campaigns.c.status.in_(("running", "paused")))
        ).all()  # fmt: skip
    for campaign in scheduled:
        if stop():
            return touched
        next_at = (campaign.schedule or {}).get("next_run_at")
        if next_at is None or datetime.fromisoformat(next_at) > now:
            continue
        with engine.connect() as conn:
            workspace = resolve_workspace(conn, str(campaign.workspace_id))
        _start_run(engine, workspace, campaign, now)
        touched.append(campaign.id)
        try:
            run_campaign(engine, settings, workspace, campaign.id, first_stage(campaign), now,
                         rng, stop=stop)  # fmt: skip
        except UserError as error:
            _pause_with_error(engine, campaign.id, error)
    for campaign_id, stage_name in stalled:
        if stop():
            return touched
        with engine.connect() as conn:
            campaign = conn.execute(select(campaigns).where(campaigns.c.id == campaign_id)).one()
            workspace = resolve_workspace(conn, str(campaign.workspace_id))
        stage = stage_named(campaign, stage_name)
        touched.append(campaign_id)
        try:
            run_campaign(engine, settings, workspace, campaign_id, stage, now, rng, stop=stop)
        except UserError as error:
            _pause_with_error(engine, campaign_id, error)
    touched.extend(decide_ab_winners(engine, settings, now, rng))
    complete_finished_campaigns(engine, now)
    return touched
