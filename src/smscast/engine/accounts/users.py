"""People: members of a workspace with a role, their passwords and sign-in sessions.

A user is one login across workspaces; a membership gives them a role in one.
Passwords are hashed with argon2. A session token is random, kept hashed, and
names the workspace it was opened for.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from smscast.core.errors import UserError
from smscast.core.roles import Role, may_grant
from smscast.engine.accounts.api_keys import check_role
from smscast.engine.accounts.audit import record_audit
from smscast.engine.accounts.auth import (
    AuthError,
    Caller,
    memberships,
    token_hash,
    user_sessions,
    users,
)
from smscast.engine.accounts.sign_in_throttle import (
    SignInLimits,
    account_key,
    check_sign_in_allowed,
    clear_sign_in_failures,
    record_sign_in_failure,
)
from smscast.engine.accounts.workspaces import WorkspaceRef

MIN_PASSWORD = 10
_HASHER = PasswordHasher()
_DUMMY_HASHES: dict[int, str] = {}
"""A hash of nothing per hasher, made on the first unknown email, not at import: hashing
takes 0.2 s, which every `smscast` command paid before doing anything."""


def _dummy_hash() -> str:
    key = id(_HASHER)
    if key not in _DUMMY_HASHES:
        _DUMMY_HASHES[key] = _HASHER.hash(secrets.token_urlsafe(16))
    return _DUMMY_HASHES[key]


@dataclass(frozen=True, slots=True)
class SignIn:
    token: str
    expires_at: datetime
    workspace_id: int
    user_id: int
    role: str


def _member_query(workspace: WorkspaceRef) -> Any:
    return (
        select(
            users.c.id,
            users.c.email,
            users.c.name,
            memberships.c.role,
            users.c.is_active,
            users.c.created_at,
        )
        .join(memberships, memberships.c.user_id == users.c.id)
        .where(memberships.c.workspace_id == workspace.id)
    )


def _member(conn: Connection, workspace: WorkspaceRef, user_id: int) -> dict[str, Any]:
    row = conn.execute(_member_query(workspace).where(users.c.id == user_id)).first()
    if row is None:
        raise UserError.of("unknown_user", f"no member #{user_id} here", field="user_id")
    return dict(row._mapping)


def show_member(engine: Engine, workspace: WorkspaceRef, user_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        return _member(conn, workspace, user_id)


def list_members(
    engine: Engine, workspace: WorkspaceRef, *, after: int, limit: int
) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        query = _member_query(workspace).where(users.c.id > after).order_by(users.c.id)
        return [dict(row._mapping) for row in conn.execute(query.limit(limit))]


def check_password(password: str, *, field: str = "password") -> None:
    """The strength rule, stated whole in the error: length, and more than one character."""
    if len(password) < MIN_PASSWORD or len(set(password)) < 2:
        raise UserError.of(
            "weak_password",
            f"a password needs at least {MIN_PASSWORD} characters, not all the same one",
            field=field,
        )


def add_member(
    engine: Engine,
    workspace: WorkspaceRef,
    email: str,
    role: str,
    *,
    name: str,
    password: str | None,
    caller: Caller,
    now: datetime,
    one_time: bool = False,
) -> dict[str, Any]:
    """Gives a user a role here; a new email becomes a new user, who needs a password.

    `one_time`: the password was made for them and shown to the one adding them, so the
    portal asks the new user for their own before anything else."""
    email = email.strip().lower()
    check_role(role)
    _check_grant(caller, role)
    with engine.begin() as conn:
        user_id = conn.execute(select(users.c.id).where(users.c.email == email)).scalar()
        if user_id is None:
            if password is None:
                raise UserError.of(
                    "password_needed",
                    f"{email} has no account yet: give a password",
                    field="password",
                )
            check_password(password)
            user_id = conn.execute(
                insert(users)
                .values(
                    email=email,
                    name=name,
                    is_active=True,
                    created_at=now,
                    password_hash=hash_password(password),
                    must_change_password=one_time,
                )
                .returning(users.c.id)
            ).scalar_one()
        elif _role_of(conn, workspace, user_id) is not None:
            raise UserError.of("member_exists", f"{email} is already a member", field="email")
        conn.execute(
            insert(memberships).values(user_id=user_id, workspace_id=workspace.id, role=role)
        )
        record_audit(conn, workspace.id, caller.actor, "member.added", email, {"role": role}, now)
        return _member(conn, workspace, user_id)


def hash_password(password: str) -> str:
    """The password's Argon2 hash, as stored: every password is hashed here."""
    return _HASHER.hash(password)


def _check_grant(caller: Caller, role: str) -> None:
    if not may_grant(caller.role, role):
        raise UserError.of(
            "forbidden_role", f"a {caller.role} cannot grant the {role} role", field="role"
        )


def _role_of(conn: Connection, workspace: WorkspaceRef, user_id: int) -> str | None:
    return conn.execute(
        select(memberships.c.role).where(
            memberships.c.workspace_id == workspace.id, memberships.c.user_id == user_id
        )
    ).scalar()


def _owners(conn: Connection, workspace: WorkspaceRef) -> int:
    return int(
        conn.execute(
            select(func.count()).where(
                memberships.c.workspace_id == workspace.id, memberships.c.role == Role.OWNER
            )
        ).scalar_one()
    )


def change_member_role(
    engine: Engine,
    workspace: WorkspaceRef,
    user_id: int,
    role: str,
    *,
    caller: Caller,
    now: datetime,
) -> dict[str, Any]:
    check_role(role)
    with engine.begin() as conn:
        member = _member(conn, workspace, user_id)
        _check_grant(caller, role)
        _check_grant(caller, member["role"])
        if member["role"] == Role.OWNER and role != Role.OWNER and _owners(conn, workspace) == 1:
            raise UserError.of("last_owner", "a workspace keeps at least one owner", field="role")
        conn.execute(
            update(memberships)
            .where(memberships.c.workspace_id == workspace.id, memberships.c.user_id == user_id)
            .values(role=role)
        )
        record_audit(
            conn,
            workspace.id,
            caller.actor,
            "member.role_changed",
            member["email"],
            {"from": member["role"], "to": role},
            now,
        )
        return _member(conn, workspace, user_id)


def remove_member(
    engine: Engine, workspace: WorkspaceRef, user_id: int, *, caller: Caller, now: datetime
) -> None:
    """Takes the user out of this workspace and ends their sessions in it."""
    with engine.begin() as conn:
        member = _member(conn, workspace, user_id)
        _check_grant(caller, member["role"])
        if member["role"] == Role.OWNER and _owners(conn, workspace) == 1:
            raise UserError.of(
                "last_owner", "a workspace keeps at least one owner", field="user_id"
            )
        where = (memberships.c.workspace_id == workspace.id) & (memberships.c.user_id == user_id)
        conn.execute(delete(memberships).where(where))
        conn.execute(
            delete(user_sessions).where(
                user_sessions.c.workspace_id == workspace.id, user_sessions.c.user_id == user_id
            )
        )
        record_audit(conn, workspace.id, caller.actor, "member.removed", member["email"], {}, now)


def sign_in(
    engine: Engine,
    email: str,
    password: str,
    *,
    workspace_id: int | None,
    lifetime: timedelta,
    now: datetime,
    address: str = "unknown",
    limits: SignInLimits = SignInLimits(),
) -> SignIn:
    """Checks the password and opens a session; the same answer for any wrong detail.

    A delayed or locked account or client `address` is refused before the password is
    looked at (`SignInRefused`, `AccountLocked`); a wrong password counts against both
    (see `sign_in_throttle`), a right one clears the account's counter.
    """
    refused = AuthError.of("bad_login", "wrong email or password")
    email = email.strip().lower()
    with engine.connect() as conn:
        check_sign_in_allowed(conn, email, address, limits=limits, now=now)
        user = conn.execute(select(users).where(users.c.email == email)).first()
    if user is None:
        _verify(_dummy_hash(), password)  # the same work as for a known email
    if user is None or not _verify(user.password_hash, password) or not user.is_active:
        _count_failure(engine, email, address, limits, now)
        raise refused
    with engine.begin() as conn:
        query = select(memberships).where(memberships.c.user_id == user.id)
        if workspace_id is not None:
            query = query.where(memberships.c.workspace_id == workspace_id)
        membership = conn.execute(query.order_by(memberships.c.workspace_id)).first()
        if membership is None:
            raise AuthError.of("no_membership", "this login is not a member of that workspace")
        clear_sign_in_failures(conn, [account_key(email)])
        token = secrets.token_urlsafe(32)
        expires = now + lifetime
        conn.execute(
            insert(user_sessions).values(
                token_hash=token_hash(token),
                user_id=user.id,
                workspace_id=membership.workspace_id,
                created_at=now,
                expires_at=expires,
            )
        )
        if _HASHER.check_needs_rehash(user.password_hash):
            conn.execute(
                update(users)
                .where(users.c.id == user.id)
                .values(password_hash=hash_password(password))
            )
    return SignIn(token, expires, membership.workspace_id, user.id, membership.role)


def _count_failure(
    engine: Engine, email: str, address: str, limits: SignInLimits, now: datetime
) -> None:
    """Counts a wrong password; the failure that locks the account says so at once."""
    with engine.begin() as conn:
        failures = record_sign_in_failure(conn, email, address, limits=limits, now=now)
    if failures >= limits.lock_after:
        with engine.connect() as conn:
            check_sign_in_allowed(conn, email, address, limits=limits, now=now)


def change_password(
    engine: Engine,
    caller: Caller,
    current_password: str,
    new_password: str,
    *,
    keep_session: str | None,
    address: str,
    limits: SignInLimits,
    now: datetime,
) -> int:
    """A signed-in user replaces their own password; returns how many sessions ended.

    The current password is asked again (a session left open on a shared screen must
    not be enough), and a wrong one counts as a failed sign-in. Every other session of
    the user, in every workspace, ends: whoever else knew the old password is signed
    out. The session that made the change (`keep_session`, its token) stays open, so
    the user is not thrown out of the page they are on.
    """
    if caller.kind != "user":
        raise UserError.of(
            "user_only", "only a signed-in user can change their password; an API key cannot"
        )
    with engine.connect() as conn:
        user = conn.execute(select(users).where(users.c.id == caller.id)).one()
        check_sign_in_allowed(conn, user.email, address, limits=limits, now=now)
    if not _verify(user.password_hash, current_password):
        _count_failure(engine, user.email, address, limits, now)
        raise UserError.of(
            "wrong_password", "the current password is wrong", field="current_password"
        )
    check_password(new_password, field="new_password")
    with engine.begin() as conn:
        clear_sign_in_failures(conn, [account_key(user.email)])
        ended = _replace_password(conn, user.id, new_password, keep_session=keep_session)
        for workspace_id in _workspace_ids(conn, user.id):
            record_audit(conn, workspace_id, caller.actor, "password.changed", user.email,
                         {"sessions_ended": ended}, now)  # fmt: skip
    return ended


def set_password(engine: Engine, email: str, password: str, *, actor: str, now: datetime) -> int:
    """An administrator's reset (`smscast users set-password`): a new password, every
    session of the user ended, the sign-in lock lifted. Returns the sessions ended."""
    email = email.strip().lower()
    check_password(password)
    with engine.begin() as conn:
        user_id = conn.execute(select(users.c.id).where(users.c.email == email)).scalar()
        if user_id is None:
            raise UserError.of("unknown_user", f"no user with the email {email}", field="email")
        ended = _replace_password(conn, user_id, password, keep_session=None)
        clear_sign_in_failures(conn, [account_key(email)])
        for workspace_id in _workspace_ids(conn, user_id):
            record_audit(conn, workspace_id, actor, "password.set", email,
                         {"sessions_ended": ended}, now)  # fmt: skip
    return ended


def _replace_password(
    conn: Connection, user_id: int, password: str, *, keep_session: str | None
) -> int:
    conn.execute(
        update(users)
        .where(users.c.id == user_id)
        .values(password_hash=hash_password(password), must_change_password=False)
    )
    ending = delete(user_sessions).where(user_sessions.c.user_id == user_id)
    if keep_session is not None:
        ending = ending.where(user_sessions.c.token_hash != token_hash(keep_session))
    return int(conn.execute(ending).rowcount or 0)


def _workspace_ids(conn: Connection, user_id: int) -> list[int]:
    query = select(memberships.c.workspace_id).where(memberships.c.user_id == user_id)
    return list(conn.execute(query.order_by(memberships.c.workspace_id)).scalars())


def _verify(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def sign_out(engine: Engine, token: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(user_sessions).where(user_sessions.c.token_hash == token_hash(token)))
