"""Coupon pools: import or generate codes, hand them out once each, record redemptions.

A launch claims codes in batches inside the same transaction that writes the
messages carrying them, so a crash either keeps both or neither, and no code is
ever given to two people: the claim only takes rows whose `allocated_at` is empty
(on PostgreSQL skipping rows another launch has locked).
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update

from smscast.core.counts import counted
from smscast.core.errors import UserError
from smscast.engine.accounts.audit import record_audit
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.stats import bump_campaign_stats
from smscast.engine.traffic import bump_traffic, traffic_key
from smscast.store.bulk import DriverValues, insert_rows
from smscast.store.campaign_models import Coupon, CouponPool
from smscast.store.messaging_models import Campaign, Message
from smscast.store.models import table_of

pools = table_of(CouponPool)
coupons = table_of(Coupon)
messages = table_of(Message)
campaigns = table_of(Campaign)

CODE_ALPHABET = "".join(c for c in string.ascii_uppercase + string.digits if c not in "O0I1")
"""Generated codes avoid letters people misread (O/0, I/1) when typing them at a till."""
MAX_CODE = 64


def pool_id(conn: Connection, workspace: WorkspaceRef, name: str, *, create: bool = False,
            now: datetime | None = None) -> int:  # fmt: skip
    row = conn.execute(
        select(pools.c.id).where(pools.c.workspace_id == workspace.id, pools.c.name == name)
    ).first()
    if row is not None:
        return int(row.id)
    if not create or now is None:
        raise UserError.of("unknown_pool", f'no coupon pool named "{name}"', field="coupon_pool")
    return int(
        conn.execute(
            insert(pools)
            .values(workspace_id=workspace.id, name=name, created_at=now)
            .returning(pools.c.id)
        ).scalar_one()
    )


def _clean_codes(codes: Iterable[str], existing: Iterable[str] = ()) -> list[str]:
    """The codes stripped, each once; refuses two that differ only in case (see
    `_case_clash`), among themselves or against the pool's `existing` codes."""
    cleaned: list[str] = []
    seen: dict[str, tuple[str, str]] = {code.lower(): (code, "already in the pool")
                                        for code in existing}  # fmt: skip
    for number, raw in enumerate(codes, start=1):
        code = raw.strip()
        if not code:
            continue
        if len(code) > MAX_CODE or any(c.isspace() for c in code):
            raise UserError.of(
                "bad_coupon", f'code {number} "{code[:70]}": codes are up to {MAX_CODE} '
                "characters without spaces", field="codes",
            )  # fmt: skip
        first = seen.get(code.lower())
        if first is None:
            seen[code.lower()] = (code, f"code {number}")
            cleaned.append(code)
        elif first[0] != code:
            raise _case_clash(number, code, *first)
    return cleaned


def _case_clash(number: int, code: str, other: str, where: str) -> UserError:
    """People type a code in any case and redemption finds it so: a pool cannot hold two
    codes that differ only in case, or one redemption could not tell which was meant."""
    return UserError.of(
        "duplicate_coupon", f'code {number} "{code}" differs from "{other}" ({where}) only in '
        "case; codes are found in any case when redeemed", field="codes",
    )  # fmt: skip


def add_codes(
    engine: Engine, workspace: WorkspaceRef, pool: str, codes: Iterable[str], *,
    actor: str, now: datetime,
) -> dict[str, Any]:  # fmt: skip
    """Adds codes to a pool (creating it), skipping ones it already has; returns the counts."""
    codes = list(codes)
    _clean_codes(codes)  # a bad file is refused before the pool is created
    with engine.begin() as conn:
        target = pool_id(conn, workspace, pool, create=True, now=now)
        existing = set(
            conn.execute(select(coupons.c.code).where(coupons.c.pool_id == target)).scalars()
        )
        cleaned = _clean_codes(codes, existing)
        fresh = [code for code in cleaned if code not in existing]
        for start in range(0, len(fresh), 10_000):
            insert_rows(conn, coupons, ("pool_id", "code"),
                        [(target, code) for code in fresh[start : start + 10_000]])  # fmt: skip
        record_audit(conn, workspace.id, actor, "coupons.added", pool, {"added": len(fresh)}, now)
    return {"pool": pool, "added": len(fresh), "skipped": len(cleaned) - len(fresh)}


def generate_codes(
    engine: Engine, workspace: WorkspaceRef, pool: str, count: int, *, rng: random.Random,
    length: int = 8, prefix: str = "", actor: str, now: datetime,
) -> dict[str, Any]:  # fmt: skip
    """Adds `count` new random codes (`prefix` + `length` characters) to a pool."""
    if count < 1 or length < 4:
        raise UserError.of("bad_count", "generate at least 1 code of at least 4 characters",
                           field="count")  # fmt: skip
    codes: set[str] = set()
    while len(codes) < count:
        codes.update(
            prefix + "".join(rng.choices(CODE_ALPHABET, k=length))
            for _ in range(count - len(codes))
        )
    return add_codes(engine, workspace, pool, sorted(codes), actor=actor, now=now)


def free_codes(conn: Connection, pool: int) -> int:
    return int(
        conn.execute(
            select(func.count())
            .select_from(coupons)
            .where(coupons.c.pool_id == pool, coupons.c.allocated_at.is_(None))
        ).scalar_one()
    )


def allocate_coupons(
    conn: Connection, pool: int, campaign_id: int, count: int, now: datetime
) -> list[str]:
    """Claims `count` free codes of the pool for the campaign, or fails naming the shortfall.

    One UPDATE per pass picks the free codes in a subquery and returns them: a launch
    claims thousands per batch, and a list of ids sent back to the database would
    cost more than the claim. The outer `allocated_at IS NULL` keeps a code another
    transaction took meanwhile from being taken twice; such a pass just claims fewer.
    """
    claimed: list[str] = []
    while len(claimed) < count:
        free = (
            select(coupons.c.id)
            .where(coupons.c.pool_id == pool, coupons.c.allocated_at.is_(None))
            .order_by(coupons.c.id)
            .limit(count - len(claimed))
        )
        claim = update(coupons).values(campaign_id=campaign_id, allocated_at=now)
        if conn.dialect.name == "postgresql":
            # Materialised once: as an IN subquery PostgreSQL may run it again per row
            # and claim more codes than asked for.
            picked = free.with_for_update(skip_locked=True).cte("picked")
            claim = claim.where(coupons.c.id == picked.c.id)
        else:
            claim = claim.where(coupons.c.id.in_(free.scalar_subquery()))
        rows = (
            conn.execute(claim.where(coupons.c.allocated_at.is_(None)).returning(coupons.c.code))
            .scalars()
            .all()
        )
        if not rows:
            raise UserError.of(
                "coupons_exhausted",
                f"the coupon pool ran out: {counted(count - len(claimed), 'code')} missing",
                field="coupon_pool",
            )
        claimed.extend(rows)
    return claimed


def peek_coupons(conn: Connection, pool: int, after_id: int, count: int) -> list[tuple[int, str]]:
    """The next `count` free codes after `after_id` as (id, code), without claiming them.

    A launch renders a batch with these while the batch before it is being written;
    `claim_coupon_ids` then claims exactly them in the batch's own transaction.
    """
    query = (
        select(coupons.c.id, coupons.c.code)
        .where(coupons.c.pool_id == pool, coupons.c.allocated_at.is_(None),
               coupons.c.id > after_id)
        .order_by(coupons.c.id)
        .limit(count)
    )  # fmt: skip
    return [(row[0], row[1]) for row in conn.execute(query)]


def claim_coupon_ids(conn: Connection, campaign_id: int, ids: list[int], now: datetime) -> bool:
    """Claims these codes for the campaign if every one of them is still free.

    False (with nothing to keep: the caller rolls back) when another launch took one
    of them since it was peeked. The ids travel as one parameter, a JSON array on
    SQLite and an array on PostgreSQL, so thousands cost one statement.
    """
    if not ids:
        return True
    if conn.dialect.name == "sqlite":
        result = conn.exec_driver_sql(
            "UPDATE coupons SET campaign_id = ?, allocated_at = ? WHERE id IN "
            "(SELECT value FROM json_each(?)) AND allocated_at IS NULL",
            (campaign_id, DriverValues(conn).moment(now), json.dumps(ids)),
        )
    else:
        result = conn.exec_driver_sql(
            "UPDATE coupons SET campaign_id = %s, allocated_at = %s "
            "WHERE id = ANY(%s) AND allocated_at IS NULL",
            (campaign_id, now, ids),
        )
    return bool(result.rowcount == len(ids))


def release_coupons(conn: Connection, pool: int, codes: list[str]) -> None:
    """Gives back codes claimed in this transaction for texts that were not written."""
    conn.execute(
        update(coupons)
        .where(coupons.c.pool_id == pool, coupons.c.code.in_(codes))
        .values(campaign_id=None, allocated_at=None)
    )


def redeem_coupon(
    engine: Engine, workspace: WorkspaceRef, code: str, *, actor: str, now: datetime
) -> dict[str, Any]:
    """Marks a handed-out code as used, once; counts it for the campaign that sent it.

    The code is found in any case (people type "bf-7k2q" for "BF-7K2Q"); a pool never
    holds two codes that differ only in case (see `add_codes`), and across pools the one
    typed exactly comes first.
    """
    typed = code.strip()
    with engine.begin() as conn:
        row = conn.execute(
            select(coupons, pools.c.name.label("pool"))
            .join(pools, pools.c.id == coupons.c.pool_id)
            .where(pools.c.workspace_id == workspace.id,
                   func.lower(coupons.c.code) == func.lower(typed))
            .order_by((coupons.c.code == typed).desc(), coupons.c.id)
            .limit(1)
            .with_for_update()
        ).first()  # fmt: skip
        if row is None:
            raise UserError.of("unknown_coupon", f'no coupon "{typed}"', field="code")
        code = row.code
        if row.redeemed_at is not None:
            raise UserError.of(
                "coupon_redeemed",
                f'coupon "{code}" was already redeemed at {row.redeemed_at:%Y-%m-%d %H:%M} UTC',
                field="code",
            )
        if row.allocated_at is None:
            raise UserError.of(
                "coupon_not_given", f'coupon "{code}" was never sent to anyone', field="code"
            )
        conn.execute(
            update(coupons).where(coupons.c.id == row.id).values(redeemed_at=now, redeemed_by=actor)
        )
        contact_id = None
        if row.campaign_id is not None:
            bump_campaign_stats(conn, row.campaign_id, now, redemptions=1)
            sent = conn.execute(
                select(messages.c.contact_id, messages.c.workspace_id, messages.c.connector_id,
                       messages.c.number_id, messages.c.purpose)
                .where(messages.c.campaign_id == row.campaign_id, messages.c.coupon_code == code)
            ).first()  # fmt: skip
            if sent is not None:  # counted on the route of the text that carried the code
                contact_id = sent.contact_id
                bump_traffic(conn, traffic_key(sent.workspace_id, sent.connector_id,
                                               sent.number_id, sent.purpose, row.campaign_id),
                             now, redemptions=1)  # fmt: skip
        record_audit(conn, workspace.id, actor, "coupon.redeemed", code, {"pool": row.pool}, now)
    return {"code": code, "pool": row.pool, "campaign_id": row.campaign_id,
            "contact_id": contact_id, "redeemed_at": now.isoformat()}  # fmt: skip


def pool_summaries(engine: Engine, workspace: WorkspaceRef) -> list[dict[str, Any]]:
    given = func.count(coupons.c.allocated_at)
    used = func.count(coupons.c.redeemed_at)
    with engine.connect() as conn:
        rows = conn.execute(
            select(pools.c.name, func.count(coupons.c.id), given, used)
            .select_from(pools.outerjoin(coupons, coupons.c.pool_id == pools.c.id))
            .where(pools.c.workspace_id == workspace.id)
            .group_by(pools.c.id, pools.c.name)
            .order_by(pools.c.name)
        ).all()
    return [{"pool": name, "codes": total, "allocated": g, "free": total - g, "redeemed": u}
            for name, total, g, u in rows]  # fmt: skip
