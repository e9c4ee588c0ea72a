"""Materialising a launch: segment members become outbox rows, batch by batch.

Members are read in contact-id order; each batch is screened (phone, duplicate,
consent, frequency cap), given coupons and link tokens, rendered, timed and written
in one transaction together with its coupon claim, the counters and the launch's
progress mark. An interrupted launch run again starts after the last committed
contact, and the unique (campaign, run, contact) key refuses any second message.

The progress mark is also the launch's heartbeat and its lock. Each batch moves it
from where its reading started (compare and set, first thing in its transaction)
and stamps it with the time the launch has been running; the scheduler resumes a
launch whose mark has stood still for a minute. Should the first launcher only
have been slow, its next batch finds the mark moved and it stops (`LaunchTakenOver`),
leaving the launch to the process that took it over: two launchers never write
the same batch.

Two threads share a launch. While the writer thread commits one batch (claim,
insert, counters: mostly SQLite's C code, which runs without the GIL), the main
thread reads, screens and renders the next. That batch's coupons are *peeked*
(the next free codes after those already in flight) and claimed by id in its own
transaction, so a crash still keeps a batch's codes and messages together or
neither. If another launch took a peeked code meanwhile, that batch and every one
after it are written the sequential way: claim first, then render.

A campaign on a chain of channels writes `ChainRow`s: each row names its channel,
address, connector and content, and carries the later steps for `fallback`.
"""

from __future__ import annotations

import gc
import logging
import random
import string
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from smscast.config import Settings
from smscast.core.errors import UserError
from smscast.core.links import new_tokens
from smscast.core.smart import merge_replacements
from smscast.engine.campaigns.coupons import (
    allocate_coupons,
    claim_coupon_ids,
    peek_coupons,
    release_coupons,
)
from smscast.engine.campaigns.launch_plan import (
    Plan,
    Stage,
    campaign_links,
    check_coupons,
    check_launchable,
    make_plan,
    members_where,
    read_members,
    read_reach,
)
from smscast.engine.campaigns.lifecycle import campaign_row, launches, messages
from smscast.engine.campaigns.recipients import BuiltBatch, ChainRow, Member, OutboxRow
from smscast.engine.stats import bump_campaign_stats
from smscast.store.bulk import select_in
from smscast.store.bulk_values import insert_value_rows
from smscast.store.checked_writes import ParentsCheckedWrites, missing_parents
from smscast.store.messaging_models import Campaign
from smscast.store.models import table_of

__all__ = ["Plan", "Stage", "check_coupons", "make_plan", "materialise"]

campaigns = table_of(Campaign)
T = TypeVar("T")
log = logging.getLogger("smscast.campaigns")

ROW_COLUMNS = OutboxRow._fields
"""The message columns that differ from recipient to recipient; the rest are per batch."""
CHAIN_COLUMNS = ChainRow._fields
"""The same on a chain's campaign, where the channel and its connector differ too."""

FIRST_BATCH = 100
"""Recipients in a launch's first batch: committed within milliseconds, so the worker can
send the first texts while the rest is written; each batch after is four times the one
before, up to `launch_batch_size` (big batches are cheaper per recipient)."""

_NOTES = ("national", "smart_changes", "due_at")
"""OutboxRow's columns NULL in every row of most batches (see `BuiltBatch.noted`)."""


_URL_SAFE = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
CLUSTERS = 64 * 64


class TokenSource:
    """Link tokens for one launch; the tokens of one batch share their first two characters.

    Fully random tokens land all over the unique `link_token` index, so every batch
    of a million-recipient launch rewrote thousands of its pages (and SQLite's WAL
    checkpoints copied them again): a quarter of the launch's CPU. With a batch's
    tokens side by side, each batch touches a few dozen. The other ten characters
    (60 bits) stay random, and clusters start at a random one per launch, so a
    token is as hard to guess as before for anyone who has not seen it.
    """

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.cluster = rng.randrange(CLUSTERS)

    def batch(self, count: int) -> list[str]:
        self.cluster = (self.cluster + 1) % CLUSTERS
        prefix = _URL_SAFE[self.cluster >> 6] + _URL_SAFE[self.cluster & 63]
        return [prefix + token[2:] for token in new_tokens(self.rng, count)]


class CouponTaken(Exception):
    """A peeked code was claimed by someone else before its batch was written."""


class LaunchTakenOver(Exception):
    """The launch's progress mark moved under this launcher: another process carries
    the launch on (the scheduler resumed it while this one stood still)."""


@dataclass(frozen=True)
class Span:
    """The contacts a batch covers: after `after`, up to and including `last`."""

    after: int
    last: int


@dataclass(frozen=True)
class Heartbeat:
    """The time a progress mark is stamped with: the launch's `now` plus how long it has
    run (the monotonic clock), so a long launch's mark keeps moving and a test's fixed
    `now` stays fixed for the length of a test."""

    now: datetime
    started: float = field(default_factory=time.monotonic)

    def __call__(self) -> datetime:
        return self.now + timedelta(seconds=time.monotonic() - self.started)


@dataclass
class Ahead:
    """A batch rendered with peeked coupons, waiting for (or in) the writer thread."""

    eligible: list[Member]
    screened: BuiltBatch
    span: Span
    batch: BuiltBatch
    peeked: dict[str, int] = field(default_factory=dict)
    """Code -> coupon id of the codes the batch's texts carry."""
    written: Future[BuiltBatch] | None = None


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


def _check_parents(conn: Connection, plan: Plan, batch: BuiltBatch) -> None:
    """Refuses a batch whose campaign, variant, number or connector is gone (see
    `smscast.store.checked_writes`: the rows' own checks are off)."""
    campaign = plan.campaign
    parents = {
        "workspace": ("workspaces", [plan.workspace.id]),
        "campaign": ("campaigns", [campaign.id]),
        "variant": ("campaign_variants", list({row.variant_id for row in batch.rows})),
        "sender number": ("numbers", [plan.number_id] if plan.number_id else []),
        "connector": ("connectors", _connectors_of(plan, batch)),
    }  # fmt: skip
    gone = missing_parents(conn, parents)
    if gone:
        raise UserError.of(
            "launch_target_gone", f"the campaign's {', '.join(gone)} was removed while it "
            "launched; nothing of this batch was written", field="campaign",
        )  # fmt: skip


def _connectors_of(plan: Plan, batch: BuiltBatch) -> list[int]:
    if plan.builder.chain:
        return sorted({c for row in batch.rows if (c := row[-1]) is not None})
    return [plan.connector_id] if plan.connector_id else []


def _insert_batch(conn: Connection, plan: Plan, batch: BuiltBatch, now: datetime) -> None:
    _check_parents(conn, plan, batch)
    if batch.new_links:
        conn.execute(insert(campaign_links), [
            {"campaign_id": plan.campaign.id, "position": position, "url": url}
            for url, position in batch.new_links.items()
        ])  # fmt: skip
    campaign = plan.campaign
    fixed = {
        "workspace_id": plan.workspace.id, "direction": "out", "kind": "campaign",
        "purpose": campaign.purpose, "number_id": plan.number_id,
        "connector_id": plan.connector_id,
        "campaign_id": campaign.id, "run": plan.run, "parts_done": 0, "status": "queued",
        "attempts": 0, "created_at": plan.builder.stamped(now),
    }  # fmt: skip
    rows: Sequence[tuple[Any, ...]] = batch.rows
    every: tuple[str, ...] = ROW_COLUMNS
    if plan.builder.chain:  # the connector is the row's channel's
        every = CHAIN_COLUMNS
        del fixed["connector_id"]
    columns = every
    empty = _empty_columns(plan, batch)
    if empty:  # NULL in every row: bound once per statement, not per row (~0.3 µs each)
        columns = tuple(name for name in every if name not in empty)
        rows = list(map(itemgetter(*(every.index(name) for name in columns)), rows))
        fixed.update(dict.fromkeys(empty))
    written = insert_value_rows(conn, messages, columns, rows, fixed,
                               existing=("contact_id", "contacts"))  # fmt: skip
    if written < len(rows):
        _drop_deleted_contacts(conn, plan, batch)
    excluded = {f"excluded_{reason}": count for reason, count in batch.excluded.items()}
    changed = 0
    if batch.smart_changed:
        changed = sum(1 for row in batch.rows if row.smart_changes is not None)
        _record_smart_characters(conn, plan, batch.smart_characters)
    bump_campaign_stats(
        conn, campaign.id, now, targeted=len(batch.rows) + sum(batch.excluded.values()),
        queued=len(batch.rows), smart_changed=changed, **excluded,
    )  # fmt: skip


def _empty_columns(plan: Plan, batch: BuiltBatch) -> tuple[str, ...]:
    """The row columns the batch leaves NULL in every row, known without reading them."""
    empty: tuple[str, ...] = () if batch.noted or batch.smart_changed else _NOTES
    if not plan.builder.timing.validity:
        empty += ("valid_until",)
    return empty


def _record_smart_characters(conn: Connection, plan: Plan, found: dict[str, str]) -> None:
    """Adds characters smart encoding replaced to the campaign's record of them.

    Kept with the launch's notes (`campaigns.excluded["smart_characters"]`) in the
    batch's own transaction, so `campaigns report` lists them without reading the
    campaign's messages, and a resumed launch adds to them. Read by primary key for
    a batch with changes, written only when it brings a character not recorded yet.
    """
    campaign_id = plan.campaign.id
    notes = conn.execute(select(campaigns.c.excluded).where(campaigns.c.id == campaign_id)).scalar()
    notes = dict(notes or {})
    recorded = dict(notes.get("smart_characters") or {})
    if merge_replacements(recorded, found.items()):
        notes["smart_characters"] = recorded
        conn.execute(update(campaigns).where(campaigns.c.id == campaign_id).values(excluded=notes))


def _drop_deleted_contacts(conn: Connection, plan: Plan, batch: BuiltBatch) -> None:
    """Contacts deleted since the batch was read get no text: counted, codes given back."""
    ids = [row.contact_id for row in batch.rows]
    present = {row[0] for row in select_in(conn, "SELECT id FROM contacts WHERE id IN", ids)}
    gone = [row for row in batch.rows if row.contact_id not in present]
    batch.rows = [row for row in batch.rows if row.contact_id in present]
    batch.excluded["contact_deleted"] += len(gone)
    codes = [row.coupon_code for row in gone if row.coupon_code is not None]
    if codes and plan.pool is not None:
        release_coupons(conn, plan.pool, codes)


def _write_batch(conn: Connection, plan: Plan, eligible: list[Member], batch: BuiltBatch,
                 tokens: TokenSource, now: datetime, peeked: dict[str, int] | None = None,
                 ) -> None:  # fmt: skip
    """Writes one batch in the caller's transaction.

    Rendered ahead (`peeked` given), it claims exactly the codes its texts carry;
    otherwise it claims codes first and renders here.
    """
    if peeked is not None:
        ids = [peeked[row.coupon_code] for row in batch.rows if row.coupon_code is not None]
        if not claim_coupon_ids(conn, plan.campaign.id, ids, now):
            raise CouponTaken()
    else:
        coupons = None
        if plan.uses_coupon and plan.pool is not None and eligible:
            coupons = allocate_coupons(conn, plan.pool, plan.campaign.id, len(eligible), now)
        links = tokens.batch(len(eligible)) if plan.uses_link else None
        plan.builder.build(eligible, batch, coupons, links)
        if batch.unused_coupons and plan.pool is not None:
            release_coupons(conn, plan.pool, batch.unused_coupons)
    _insert_batch(conn, plan, batch, now)


def _commit_batch(writes: ParentsCheckedWrites, plan: Plan, eligible: list[Member],
                  batch: BuiltBatch, span: Span, tokens: TokenSource, beat: Heartbeat,
                  peeked: dict[str, int] | None = None) -> BuiltBatch:  # fmt: skip
    with writes.transaction() as conn:
        _move_mark(conn, plan, span, beat())
        _write_batch(conn, plan, eligible, batch, tokens, beat.now, peeked)
    return batch


def _move_mark(conn: Connection, plan: Plan, span: Span, at: datetime) -> None:
    """Moves the progress mark over `span`, first in the batch's transaction.

    Only from where this launcher read the batch: on PostgreSQL a second launcher's
    update waits for the first one's commit and then finds the mark moved; on SQLite
    the batch holds the write lock already. Either way the later one stops before it
    writes a row.
    """
    moved = conn.execute(
        update(launches)
        .where(launches.c.campaign_id == plan.campaign.id, launches.c.run == plan.run,
               launches.c.stage == plan.stage.name, launches.c.done.is_(False),
               launches.c.last_contact_id == span.after)
        .values(last_contact_id=span.last, updated_at=at)
    )  # fmt: skip
    if moved.rowcount != 1:
        raise LaunchTakenOver()


def _write_with_retry(writes: ParentsCheckedWrites, plan: Plan, eligible: list[Member],
                      screened: BuiltBatch, span: Span, tokens: TokenSource,
                      beat: Heartbeat) -> BuiltBatch:  # fmt: skip
    """Writes one batch; a (vanishingly rare) link token collision retries it with new tokens."""
    for attempt in range(3):
        batch = BuiltBatch(excluded=screened.excluded.copy())
        try:
            return _commit_batch(writes, plan, eligible, batch, span, tokens, beat)
        except IntegrityError as error:
            plan.builder.forget_links(batch.new_links)
            if "link_token" not in str(error) or attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _render_ahead(conn: Connection, plan: Plan, eligible: list[Member], screened: BuiltBatch,
                  span: Span, tokens: TokenSource, peek_after: int) -> Ahead | None:  # fmt: skip
    """Renders a batch with the next free codes after `peek_after`; None if too few are left."""
    ahead = Ahead(eligible, screened, span, BuiltBatch(excluded=screened.excluded.copy()))
    codes = None
    if plan.uses_coupon and plan.pool is not None and eligible:
        found = peek_coupons(conn, plan.pool, peek_after, len(eligible))
        if len(found) < len(eligible):  # codes skipped ahead may be free again: go sequential
            return None
        ahead.peeked = {code: coupon_id for coupon_id, code in found}
        codes = [code for _, code in found]
    links = tokens.batch(len(eligible)) if plan.uses_link else None
    plan.builder.build(eligible, ahead.batch, codes, links)
    return ahead


def _settle(ahead: Ahead) -> BuiltBatch | None:
    """The written batch, or None when it must be written again the sequential way."""
    assert ahead.written is not None
    try:
        return ahead.written.result()
    except CouponTaken:
        return None
    except IntegrityError as error:
        if "link_token" not in str(error):
            raise
        return None


class _Totals:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {"queued": 0}
        self.problems: list[str] = []

    def add(self, batch: BuiltBatch) -> None:
        self.counts["queued"] += len(batch.rows)
        for reason, count in batch.excluded.items():
            self.counts[reason] = self.counts.get(reason, 0) + count
        self.problems.extend(batch.problems[: 5 - len(self.problems)])


def materialise(engine: Engine, settings: Settings, plan: Plan, now: datetime, rng: random.Random,
                *, coupons_checked: bool = False,
                stop: Callable[[], bool] = lambda: False) -> dict[str, Any]:  # fmt: skip
    """Writes the outbox rows of one stage of one run, resuming where it stopped.

    `coupons_checked` skips `check_launchable` (the segment's attribute names read
    and the pool counted, passes over the whole segment) when the caller made it a
    moment ago, before anything was written. `stop` is asked after each batch: a
    worker shutting down leaves the rest to whoever resumes the launch. The result
    has `taken_over` when another process took the launch over meanwhile (its counts
    are then this launcher's share).
    """
    totals = _Totals()
    with engine.begin() as conn:
        after, done = _progress(conn, plan, now)
    if done:
        return {"queued": 0, "excluded": {}, "problems": []}
    with engine.connect() as conn:
        if not coupons_checked:
            check_launchable(conn, plan, now, after)
        where = members_where(conn, plan, now)
    with (
        _fewer_collections(),
        ParentsCheckedWrites(engine) as writes,
        _writer_for(engine) as writer,
    ):
        try:
            ended = _run_batches(engine, writes, settings, plan, where, after, TokenSource(rng),
                                 Heartbeat(now), writer, totals, stop)  # fmt: skip
        except LaunchTakenOver:
            ended = "taken_over"
    if ended == "done":
        _finish(engine, plan, totals.problems, now)
    queued = totals.counts.pop("queued")
    result = {"queued": queued, "excluded": totals.counts, "problems": totals.problems}
    if ended == "taken_over":
        result["taken_over"] = True
    log.info(_ENDED[ended], plan.campaign.id, plan.stage.name, queued,
             extra={"campaign_id": plan.campaign.id, "workspace_id": plan.workspace.id,
                    "count": queued})  # fmt: skip
    return result


_ENDED = {
    "done": "campaign %d launched (stage %s): %d queued",
    "stopped": "campaign %d: launch (stage %s) stopped after %d queued; it is resumed later",
    "taken_over": "campaign %d: launch (stage %s) taken over by another process after %d "
    "queued",
}


class _InlineWriter(Executor):
    """Writes each batch in the calling thread: an in-memory SQLite database is one
    connection per thread, so a writer thread would write into a database of its own."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        done: Future[T] = Future()
        try:
            done.set_result(fn(*args, **kwargs))
        except BaseException as error:  # handed to the caller, as a thread pool would
            done.set_exception(error)
        return done


def _writer_for(engine: Engine) -> Executor:
    if engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:"):
        return _InlineWriter()
    return ThreadPoolExecutor(1, thread_name_prefix="launch-writer")


_collections_lock = threading.Lock()
_launches_running = [0, 0]
"""[launches in this process, the collector's young threshold before the first began]."""


@contextmanager
def _fewer_collections(young: int = 50_000) -> Iterator[None]:
    """Runs the cyclic garbage collector less often while launches allocate.

    A launch makes millions of short-lived containers (members, rows, tuples) and
    almost no cycles; at the default threshold of 700 the collector runs thousands
    of times and took ~17 % of a launch's CPU. It still runs, just less often; the
    last launch of the process to finish puts the threshold back.
    """
    with _collections_lock:
        if _launches_running[0] == 0:
            _launches_running[1] = gc.get_threshold()[0]
            gc.set_threshold(max(young, _launches_running[1]), *gc.get_threshold()[1:])
        _launches_running[0] += 1
    try:
        yield
    finally:
        with _collections_lock:
            _launches_running[0] -= 1
            if _launches_running[0] == 0:
                gc.set_threshold(_launches_running[1], *gc.get_threshold()[1:])


def _run_batches(engine: Engine, writes: ParentsCheckedWrites, settings: Settings, plan: Plan,
                 where: Any, after: int, tokens: TokenSource, beat: Heartbeat, writer: Executor,
                 totals: _Totals, stop: Callable[[], bool]) -> str:  # fmt: skip
    """Reads and renders each batch while the writer thread commits the one before.

    Returns how it ended: "done" (every member read, or the campaign cancelled) or
    "stopped" (asked to, between batches).
    """
    now = beat.now
    ahead_mode = True
    peek_after = 0
    pending: Ahead | None = None
    size = min(FIRST_BATCH, settings.launch_batch_size)
    while True:
        ahead = None
        with engine.connect() as conn:
            members, last, capped = read_members(conn, plan, where, after, size, now)
            if last == after:
                break
            reach = read_reach(conn, plan, members, now)
            eligible, screened = plan.builder.screen(members, capped, reach)
            span = Span(after, last)
            if ahead_mode:
                ahead = _render_ahead(conn, plan, eligible, screened, span, tokens, peek_after)
                ahead_mode = ahead is not None
        if ahead is not None and ahead.peeked:
            peek_after = max(ahead.peeked.values())
        if pending is not None:
            if not _finish_pending(engine, writes, plan, pending, tokens, beat, totals):
                return "done"
            ahead_mode = ahead_mode and pending.written is not None
        if ahead is not None and ahead_mode:
            ahead.written = writer.submit(
                _commit_batch, writes, plan, ahead.eligible, ahead.batch, ahead.span, tokens,
                beat, ahead.peeked,
            )  # fmt: skip
            pending = ahead
        else:
            if ahead is not None:
                plan.builder.forget_links(ahead.batch.new_links)
            pending = None
            totals.add(_write_with_retry(writes, plan, eligible, screened, span, tokens, beat))
            if _cancelled(engine, plan.campaign.id):
                return "done"
        after = last
        size = min(size * 4, settings.launch_batch_size)
        if stop():
            if pending is not None:
                _finish_pending(engine, writes, plan, pending, tokens, beat, totals)
            return "stopped"
    if pending is not None:
        _finish_pending(engine, writes, plan, pending, tokens, beat, totals)
    return "done"


def _finish_pending(engine: Engine, writes: ParentsCheckedWrites, plan: Plan, pending: Ahead,
                    tokens: TokenSource, beat: Heartbeat, totals: _Totals) -> bool:  # fmt: skip
    """Waits for the batch in the writer; False when the campaign was cancelled meanwhile.

    A batch that could not be written as rendered (a peeked code taken, a token
    collision) is written again the sequential way, and `pending.written` is
    cleared so the caller goes sequential too.
    """
    batch = _settle(pending)
    if batch is None:
        plan.builder.forget_links(pending.batch.new_links)
        pending.written = None
        batch = _write_with_retry(writes, plan, pending.eligible, pending.screened,
                                  pending.span, tokens, beat)  # fmt: skip
    totals.add(batch)
    return not _cancelled(engine, plan.campaign.id)


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
