"""Invitations: a member-to-be is sent a one-time link instead of a password.

Someone who may manage members invites an email address with a role; the link
`/invite/<token>` is shown once (and mailed when the instance has a mail relay). Only
the token's hash is kept, so whoever reads the database cannot join with it. The
invited person opens the link, chooses their name and password, and joins; someone
who already has an account here enters their own password instead. A link works once,
until it expires (7 days) or is revoked; inviting the same address again replaces the
waiting link, so only the newest one works.

Nobody invites to a role they could not grant (`core.roles.may_grant`), exactly as
`add_member` checks, and every change is in the audit log.
"""

from __future__ import annotations

import enum
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from smscast.channels.mail import MailError, relay_from_url, send_mail
from smscast.config import Settings
from smscast.core.errors import UserError
from smscast.engine.accounts.api_keys import check_role
from smscast.engine.accounts.audit import record_audit
from smscast.engine.accounts.auth import Caller, memberships, token_hash, users
from smscast.engine.accounts.sign_in_throttle import SignInLimits, check_sign_in_allowed
from smscast.engine.accounts.users import (
    _check_grant,
    _count_failure,
    _role_of,
    _verify,
    check_password,
    hash_password,
)
from smscast.engine.accounts.workspaces import WorkspaceRef, resolve_workspace, workspaces
from smscast.store.api_models import MemberInvitation
from smscast.store.db import begin_write
from smscast.store.models import table_of

invitations = table_of(MemberInvitation)

INVITATION_LIFETIME = timedelta(days=7)
MAX_EMAIL = 320
MAX_NAME = 200
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class InvitationState(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REVOKED = "revoked"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class NewInvitation:
    """The stored invitation and its link's token, which exists nowhere else after this."""

    invitation: dict[str, Any]
    token: str


@dataclass(frozen=True, slots=True)
class InvitationView:
    """What the invited person's page needs: whose invitation, and whether it still works."""

    id: int
    workspace_id: int
    workspace_name: str
    email: str
    role: str
    state: InvitationState
    expires_at: datetime
    has_account: bool  # the email already signs in here: they join with their own password


def _state(row: Any, now: datetime) -> InvitationState:
    if row.accepted_at is not None:
        return InvitationState.ACCEPTED
    if row.revoked_at is not None:
        return InvitationState.REVOKED
    if row.expires_at <= now:
        return InvitationState.EXPIRED
    return InvitationState.PENDING


def _shown(row: Any, now: datetime) -> dict[str, Any]:
    return {
        "id": row.id,
        "email": row.email,
        "role": row.role,
        "invited_by": row.invited_by,
        "created_at": row.created_at,
        "expires_at": row.expires_at,
        "accepted_at": row.accepted_at,
        "revoked_at": row.revoked_at,
        "state": _state(row, now).value,
    }


def check_email(email: str) -> str:
    """The address as stored (trimmed, lowercase), or an error naming the field."""
    email = email.strip().lower()
    if not email:
        raise UserError.of("empty_email", "give the email address to invite", field="email")
    if len(email) > MAX_EMAIL or not EMAIL.fullmatch(email):
        raise UserError.of("bad_email", f'"{email}" is not an email address', field="email")
    return email


def _pending(workspace_id: int, now: datetime) -> Any:
    return (
        (invitations.c.workspace_id == workspace_id)
        & invitations.c.accepted_at.is_(None)
        & invitations.c.revoked_at.is_(None)
        & (invitations.c.expires_at > now)
    )


def invite_member(
    engine: Engine,
    workspace: WorkspaceRef,
    email: str,
    role: str,
    *,
    caller: Caller,
    now: datetime,
    lifetime: timedelta = INVITATION_LIFETIME,
) -> NewInvitation:
    """A one-time link for `email` to join with `role`; an earlier waiting link for the
    same address stops working (an address has one way in at a time)."""
    email = check_email(email)
    check_role(role)
    _check_grant(caller, role)
    token = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        begin_write(conn)  # reads, then writes: beside a running server on SQLite
        user_id = conn.execute(select(users.c.id).where(users.c.email == email)).scalar()
        if user_id is not None and _role_of(conn, workspace, user_id) is not None:
            raise UserError.of("member_exists", f"{email} is already a member", field="email")
        replaced = conn.execute(
            update(invitations)
            .where(_pending(workspace.id, now), invitations.c.email == email)
            .values(revoked_at=now)
        ).rowcount
        invitation_id = conn.execute(
            insert(invitations)
            .values(
                workspace_id=workspace.id,
                email=email,
                role=role,
                token_hash=token_hash(token),
                invited_by=caller.actor,
                created_at=now,
                expires_at=now + lifetime,
            )
            .returning(invitations.c.id)
        ).scalar_one()
        details: dict[str, Any] = {"role": role, "expires_at": (now + lifetime).isoformat()}
        if replaced:
            details["replaced"] = int(replaced)
        record_audit(conn, workspace.id, caller.actor, "member.invited", email, details, now)
        row = conn.execute(select(invitations).where(invitations.c.id == invitation_id)).one()
    return NewInvitation(_shown(row, now), token)


def list_invitations(
    engine: Engine, workspace: WorkspaceRef, *, now: datetime, pending_only: bool = True
) -> list[dict[str, Any]]:
    """The workspace's invitations, newest first; by default only those still waiting."""
    query = select(invitations).where(invitations.c.workspace_id == workspace.id)
    if pending_only:
        query = query.where(_pending(workspace.id, now))
    with engine.connect() as conn:
        rows = conn.execute(
            query.order_by(invitations.c.created_at.desc(), invitations.c.id.desc())
        )
        return [_shown(row, now) for row in rows]


def revoke_invitation(
    engine: Engine, workspace: WorkspaceRef, invitation_id: int, *, caller: Caller, now: datetime
) -> dict[str, Any]:
    """The link stops working at once. Only a waiting invitation can be revoked, and only
    by someone who could grant its role."""
    with engine.begin() as conn:
        row = conn.execute(
            select(invitations).where(
                invitations.c.id == invitation_id, invitations.c.workspace_id == workspace.id
            )
        ).first()
        if row is None:
            raise UserError.of(
                "unknown_invitation", f"no invitation #{invitation_id} here", field="invitation_id"
            )
        _check_grant(caller, row.role)
        state = _state(row, now)
        if state is not InvitationState.PENDING:
            raise UserError.of(
                "invitation_closed",
                f"the invitation of {row.email} is {state.value}: there is nothing to revoke",
                field="invitation_id",
            )
        conn.execute(update(invitations).where(invitations.c.id == row.id).values(revoked_at=now))
        record_audit(conn, workspace.id, caller.actor, "member.invitation_revoked", row.email,
                     {"role": row.role}, now)  # fmt: skip
        row = conn.execute(select(invitations).where(invitations.c.id == row.id)).one()
    return _shown(row, now)


def _by_token(conn: Connection, token: str) -> Any:
    return conn.execute(
        select(invitations, workspaces.c.name.label("workspace_name"))
        .join(workspaces, workspaces.c.id == invitations.c.workspace_id)
        .where(invitations.c.token_hash == token_hash(token))
    ).first()


def _view(conn: Connection, row: Any, now: datetime) -> InvitationView:
    has_account = conn.execute(select(users.c.id).where(users.c.email == row.email)).first()
    return InvitationView(
        row.id, row.workspace_id, row.workspace_name, row.email, row.role, _state(row, now),
        row.expires_at, has_account is not None,
    )  # fmt: skip


def find_invitation(engine: Engine, token: str, *, now: datetime) -> InvitationView | None:
    """The invitation behind a link (None: no such link), with its state now."""
    with engine.connect() as conn:
        row = _by_token(conn, token)
        return None if row is None else _view(conn, row, now)


@dataclass(frozen=True, slots=True)
class Accepted:
    """Who joined where: the page signs them in next, with the password they gave."""

    user_id: int
    email: str
    workspace_id: int
    role: str


def accept_invitation(
    engine: Engine,
    token: str,
    *,
    name: str,
    password: str,
    address: str,
    limits: SignInLimits,
    now: datetime,
) -> Accepted:
    """Joins the workspace through a waiting link.

    A new address becomes a user with `name` and `password` (the strength rule of every
    password). An address that already has an account proves it with its own password,
    counted like a sign-in (a wrong one counts against the account and the client
    address, and a locked account stays locked). The link is used up in the same
    transaction that adds the membership: two tabs cannot both join with it.
    """
    with engine.connect() as conn:
        row = _by_token(conn, token)
        if row is None:
            raise UserError.of("unknown_invitation", "this invitation link is not valid")
        view = _view(conn, row, now)
        existing = conn.execute(select(users).where(users.c.email == view.email)).first()
        if existing is not None:
            check_sign_in_allowed(conn, view.email, address, limits=limits, now=now)
    _check_open(view)
    if existing is not None:
        if not existing.is_active or not _verify(existing.password_hash, password):
            _count_failure(engine, view.email, address, limits, now)
            raise UserError.of("wrong_password", "the password is wrong", field="password")
    else:
        name = name.strip()
        if not name:
            raise UserError.of("empty_name", "give your name", field="name")
        if len(name) > MAX_NAME:
            raise UserError.of("name_too_long", f"a name has at most {MAX_NAME} characters",
                               field="name")  # fmt: skip
        check_password(password)
    with engine.begin() as conn:
        begin_write(conn)
        used = conn.execute(
            update(invitations)
            .where(invitations.c.id == view.id, _pending(view.workspace_id, now))
            .values(accepted_at=now)
        ).rowcount
        if not used:  # revoked, used or expired since it was read
            fresh = _by_token(conn, token)
            _check_open(_view(conn, fresh, now))
        if existing is not None:
            user_id = int(existing.id)
            workspace = resolve_workspace(conn, str(view.workspace_id))
            if _role_of(conn, workspace, user_id) is not None:
                raise UserError.of(
                    "member_exists", f"{view.email} is already a member of {view.workspace_name}"
                )
        else:
            user_id = conn.execute(
                insert(users)
                .values(
                    email=view.email,
                    name=name,
                    is_active=True,
                    created_at=now,
                    password_hash=hash_password(password),
                )
                .returning(users.c.id)
            ).scalar_one()
        conn.execute(
            insert(memberships).values(
                user_id=user_id, workspace_id=view.workspace_id, role=view.role
            )
        )
        record_audit(conn, view.workspace_id, f"user:{view.email}", "member.joined", view.email,
                     {"role": view.role, "invitation_id": view.id}, now)  # fmt: skip
    return Accepted(user_id, view.email, view.workspace_id, view.role)


def _check_open(view: InvitationView) -> None:
    if view.state is not InvitationState.PENDING:
        raise UserError.of(
            f"invitation_{view.state.value}",
            f"this invitation is {view.state.value}: ask for a new one",
        )


def mail_invitation(settings: Settings, email: str, subject: str, body: str) -> bool:
    """Mails the invitation when the instance has a relay (`SMSCAST_SMTP_URL`); False
    when it has none. The words are the caller's (the page's language); a relay that
    refuses or cannot be reached raises `MailError` with its reason."""
    relay = relay_from_url(settings.smtp_url, settings.mail_from)
    if relay is None:
        return False
    send_mail(relay, email, subject, body, timeout=settings.smtp_timeout_s)
    return True


__all__ = [
    "Accepted",
    "InvitationState",
    "InvitationView",
    "MailError",
    "NewInvitation",
    "accept_invitation",
    "find_invitation",
    "invite_member",
    "list_invitations",
    "mail_invitation",
    "revoke_invitation",
]
