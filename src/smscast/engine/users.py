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
from smscast.engine.api_keys import check_role
from smscast.engine.audit import record_audit
from smscast.engine.auth import AuthError, Caller, memberships, token_hash, user_sessions, users
from smscast.engine.workspaces import WorkspaceRef

MIN_PASSWORD = 10
_HASHER = PasswordHasher()
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


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


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError.of(
            "weak_password",
            f"a password needs at least {MIN_PASSWORD} characters",
            field="password",
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
) -> dict[str, Any]:
    """Gives a user a role here; a new email becomes a new user, who needs a password."""
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
                    password_hash=_HASHER.hash(password),
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
) -> SignIn:
    """Checks the password and opens a session; the same answer for any wrong detail."""
    refused = AuthError.of("bad_login", "wrong email or password")
    with engine.begin() as conn:
        user = conn.execute(select(users).where(users.c.email == email.strip().lower())).first()
        if user is None:
            _verify(_DUMMY_HASH, password)  # the same work as for a known email
            raise refused
        if not _verify(user.password_hash, password) or not user.is_active:
            raise refused
        query = select(memberships).where(memberships.c.user_id == user.id)
        if workspace_id is not None:
            query = query.where(memberships.c.workspace_id == workspace_id)
        membership = conn.execute(query.order_by(memberships.c.workspace_id)).first()
        if membership is None:
            raise AuthError.of("no_membership", "this login is not a member of that workspace")
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
                .values(password_hash=_HASHER.hash(password))
            )
    return SignIn(token, expires, membership.workspace_id, user.id, membership.role)


def _verify(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def sign_out(engine: Engine, token: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(user_sessions).where(user_sessions.c.token_hash == token_hash(token)))
