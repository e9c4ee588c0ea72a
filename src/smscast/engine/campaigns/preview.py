"""What a campaign will send, before it is launched: who gets a text and who does not
(by reason), the parts by encoding once every text is personalised, total parts and cost.

One name with a non-GSM letter or a long attribute can push a text into UCS-2 or a
second part, so the preview does not guess from one rendering: it walks the segment
the way a launch does (the same plan, screening and recipient builder, see
`smscast.engine.campaigns.materialise`) and writes nothing. Coupons are the pool's next free
codes, read and not claimed; links get stand-in tokens of the real length; so each
text is as long as the one the launch would write.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine

from smscast.config import Settings
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.campaigns.coupons import peek_coupons
from smscast.engine.campaigns.launch_plan import (
    Plan,
    Stage,
    make_plan,
    members_where,
    read_members,
    read_reach,
)
from smscast.engine.campaigns.lifecycle import campaign_row
from smscast.engine.campaigns.materialise import TokenSource
from smscast.engine.campaigns.recipients import BuiltBatch, ChainRow, Member
from smscast.store.campaign_models import EXCLUSION_REASONS

STAND_IN_CODE = "X" * 8
"""A code for recipients the pool has none left for (the launch would be refused)."""


@dataclass
class _Tally:
    targeted: int = 0
    excluded: Counter[str] = field(default_factory=Counter)
    messages: Counter[str] = field(default_factory=Counter)
    parts: Counter[str] = field(default_factory=Counter)
    cost: float = 0.0
    most_parts: int = 0
    problems: list[str] = field(default_factory=list)
    coupons_missing: int = 0
    channels: Counter[str] = field(default_factory=Counter)
    """Recipients by the channel their first message goes on (a chain's campaign)."""
    coupon_after: int = 0
    """The id of the last code peeked: the next batch reads the codes after it."""

    def add(self, batch: BuiltBatch) -> None:
        self.excluded.update(batch.excluded)
        if batch.rows and isinstance(batch.rows[0], ChainRow):
            self.channels.update(row.channel for row in batch.rows)
        else:
            self.channels["sms"] += len(batch.rows)
        for row in batch.rows:
            self.messages[row.encoding] += 1
            self.parts[row.encoding] += row.parts
            self.cost += row.cost
            self.most_parts = max(self.most_parts, row.parts)
        self.problems.extend(batch.problems[: 5 - len(self.problems)])


def preview_campaign(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, campaign_id: int, now: datetime
) -> dict[str, Any]:
    """Recipients, exclusions by reason, parts by encoding, total parts and cost of the
    campaign's next run if it were launched at `now` (an A/B test: every member, with the
    split between variants, or the winner once there is one)."""
    tally = _Tally()
    with engine.connect() as conn:
        campaign = campaign_row(conn, workspace.id, campaign_id)
        run = int((campaign.schedule or {}).get("runs", 0))
        plan = make_plan(
            conn, workspace, campaign, run, Stage("all"), now, link_base=settings.served_url()
        )
        where = members_where(conn, plan, now)
        tokens = TokenSource(random.Random(0))
        after = 0
        while True:
            members, last, capped = read_members(conn, plan, where, after,
                                                 settings.launch_batch_size, now)  # fmt: skip
            if last == after:
                break
            tally.targeted += len(members)
            reach = read_reach(conn, plan, members, now)
            eligible, batch = plan.builder.screen(members, capped, reach)
            codes = _codes(conn, plan, eligible, tally)
            links = tokens.batch(len(eligible)) if plan.uses_link else None
            tally.add(plan.builder.build(eligible, batch, codes, links))
            after = last
    excluded = {reason: tally.excluded.get(reason, 0) for reason in EXCLUSION_REASONS}
    recipients = sum(tally.messages.values())
    return {
        "id": campaign.id,
        "name": campaign.name,
        "status": campaign.status,
        "purpose": campaign.purpose,
        "targeted": tally.targeted,
        "recipients": recipients,
        "excluded": excluded,
        "excluded_total": sum(excluded.values()),
        "encodings": {
            encoding: {"messages": tally.messages[encoding], "parts": tally.parts[encoding]}
            for encoding in sorted(tally.messages)
        },
        "channels": dict(tally.channels),
        "parts": sum(tally.parts.values()),
        "most_parts": tally.most_parts,
        "part_price": plan.rules.part_price,
        "cost": round(tally.cost, 5),
        "coupons_missing": tally.coupons_missing,
        "problems": tally.problems,
    }


def _codes(conn: Connection, plan: Plan, eligible: list[Member], tally: _Tally) -> list[str] | None:
    """The codes the batch's texts would carry: the pool's next free ones, in order."""
    if not plan.uses_coupon or plan.pool is None or not eligible:
        return None
    found = peek_coupons(conn, plan.pool, tally.coupon_after, len(eligible))
    if found:
        tally.coupon_after = found[-1][0]
    codes = [code for _, code in found]
    missing = len(eligible) - len(codes)
    tally.coupons_missing += missing
    return codes + [codes[-1] if codes else STAND_IN_CODE] * missing
