"""How many wrong passwords an account or a client address may try, kept in the database.

A password is the one credential people choose, so guessing it must be slow. Every
failed sign-in (or wrong current password when changing it) counts against two keys,
`account:<lowercased email>` and `address:<client ip>`: from the 5th failure on, the
next attempt waits 2^(failures − 5) seconds after the last one (1, 2, 4, 8, 16 s);
the 10th locks the key for `SMSCAST_SIGN_IN_LOCK_MINUTES`, and a correct password is
refused too until then. A success clears the account's counter (not the address's:
one right password must not pay for a run of guesses at other accounts). Counters
forget after an hour without failures. The rows live in `sign_in_throttles`, so every
API process counts the same attempts; the in-process rate limit is only a first fence.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from smscast.core.errors import Problem, UserError
from smscast.engine.accounts.audit import record_audit
from smscast.store.db import begin_write
from smscast.store.models import Membership, SignInThrottle, User, table_of

throttles = table_of(SignInThrottle)
_users = table_of(User)
_memberships = table_of(Membership)


QUIET = timedelta(hours=1)  # no failure for this long: the counter starts over


@dataclass(frozen=True, slots=True)
class SignInLimits:
    """The throttle's numbers; `from_minutes` builds them from the settings."""

    delay_after: int = 5  # failures before each next attempt waits
    lock_after: int = 10  # failures that lock the key
    lock: timedelta = timedelta(minutes=15)
    max_delay: timedelta = timedelta(minutes=5)
    quiet: timedelta = QUIET

    @classmethod
    def from_minutes(cls, lock_minutes: float) -> SignInLimits:
        lock = timedelta(minutes=lock_minutes)
        return cls(lock=lock, quiet=max(QUIET, lock))

    def blocked_until(self, failures: int, last_failure_at: datetime) -> datetime | None:
        """When a key with `failures`, the last at `last_failure_at`, may try again."""
        if failures >= self.lock_after:
            return last_failure_at + self.lock
        if failures >= self.delay_after:
            seconds = 2 ** (failures - self.delay_after)
            return last_failure_at + min(timedelta(seconds=seconds), self.max_delay)
        return None


class SignInRefused(UserError):
    """An attempt refused before its password was looked at; `retry_after` in seconds."""

    def __init__(self, problem: Problem, until: datetime, retry_after: int) -> None:
        super().__init__(problem)
        self.until, self.retry_after = until, retry_after


class AccountLocked(SignInRefused):
    """The account had `lock_after` failures: no password opens it until `until`."""


def account_key(email: str) -> str:
    return f"account:{email.strip().lower()}"


def address_key(address: str) -> str:
    return f"address:{address}"


def _wait(until: datetime, now: datetime) -> int:
    return max(1, math.ceil((until - now).total_seconds()))


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"


def check_sign_in_allowed(
    conn: Connection, email: str, address: str, *, limits: SignInLimits, now: datetime
) -> None:
    """Refuses the attempt while the account or the address is delayed or locked."""
    rows = {
        row.key: row
        for row in conn.execute(
            select(throttles).where(throttles.c.key.in_([account_key(email), address_key(address)]))
        )
    }
    account = rows.get(account_key(email))
    if (
        account is not None
        and account.failures >= limits.lock_after
        and account.blocked_until is not None
        and account.blocked_until > now
    ):
        until = account.blocked_until
        raise AccountLocked(
            Problem(
                "account_locked",
                f"this account is locked after {account.failures} failed sign-ins until "
                f"{_when(until)}; a correct password is refused too until then "
                "(an administrator can reset it: smscast users set-password)",
                field="email",
            ),
            until,
            _wait(until, now),
        )
    waits = [r.blocked_until for r in rows.values() if r.blocked_until and r.blocked_until > now]
    if waits:
        until = max(waits)
        raise SignInRefused(
            Problem(
                "sign_in_throttled",
                f"too many failed sign-ins; try again in {_wait(until, now)} s "
                f"(after {_when(until)})",
            ),
            until,
            _wait(until, now),
        )


def record_sign_in_failure(
    conn: Connection, email: str, address: str, *, limits: SignInLimits, now: datetime
) -> int:
    """Counts one failed attempt against the account and the address, and audits it.

    Returns the account's failures. Call it first thing in a fresh transaction: it takes
    the write lock (SQLite) and locks each counter row while it reads and bumps it
    (PostgreSQL), so two processes counting at once both count. The password is never
    written anywhere.
    """
    begin_write(conn)
    _forget_quiet_keys(conn, limits, now)
    email = email.strip().lower()
    keys = (account_key(email), address_key(address))
    counted = {key: _count(conn, key, limits, now) for key in keys}
    failures, until = counted[account_key(email)]
    workspaces = _workspaces_of(conn, email)
    details: dict[str, object] = {"address": address, "failures": failures}
    for workspace_id in workspaces:
        record_audit(conn, workspace_id, address_key(address), "sign_in.failed", email, details,
                     now)  # fmt: skip
    if failures == limits.lock_after and until is not None:
        locked = {"address": address, "until": until.isoformat()}
        for workspace_id in workspaces:
            record_audit(conn, workspace_id, "system", "sign_in.locked", email, locked, now)
    address_failures, address_until = counted[address_key(address)]
    if address_failures == limits.lock_after and address_until is not None:
        locked = {"until": address_until.isoformat(), "last_email": email}
        record_audit(conn, None, "system", "sign_in.address_locked", address, locked, now)
    return failures


def _count(
    conn: Connection, key: str, limits: SignInLimits, now: datetime
) -> tuple[int, datetime | None]:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(throttles).values(key=key, failures=0).on_conflict_do_nothing())
    row = conn.execute(select(throttles).where(throttles.c.key == key).with_for_update()).one()
    failures = row.failures
    if row.last_failure_at is not None and now - row.last_failure_at >= limits.quiet:
        failures = 0
    failures += 1
    until = limits.blocked_until(failures, now)
    conn.execute(
        update(throttles)
        .where(throttles.c.key == key)
        .values(failures=failures, last_failure_at=now, blocked_until=until)
    )
    return failures, until


def _forget_quiet_keys(conn: Connection, limits: SignInLimits, now: datetime) -> None:
    """Drops counters that have been quiet long enough to start over (guessed emails too)."""
    conn.execute(
        delete(throttles).where(
            throttles.c.last_failure_at < now - limits.quiet,
            (throttles.c.blocked_until.is_(None)) | (throttles.c.blocked_until <= now),
        )
    )


def _workspaces_of(conn: Connection, email: str) -> list[int | None]:
    """Where a sign-in event for `email` is audited: each of its workspaces, or the
    instance log (no workspace) for an email that has no account."""
    ids = conn.execute(
        select(_memberships.c.workspace_id)
        .join(_users, _users.c.id == _memberships.c.user_id)
        .where(_users.c.email == email)
        .order_by(_memberships.c.workspace_id)
    ).scalars()
    found: list[int | None] = list(ids)
    return found or [None]


def clear_sign_in_failures(conn: Connection, keys: Iterable[str]) -> None:
    """Forgets the failures of `keys`: after a correct password, or a reset by an admin."""
    conn.execute(delete(throttles).where(throttles.c.key.in_(list(keys))))
