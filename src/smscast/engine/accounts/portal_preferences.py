"""What the portal remembers about a signed-in person: their name, language, workspace.

The portal shows the user's name in its header, speaks the language they chose
(`users.locale`, kept across sessions and devices), and lets a member of several
workspaces move between them. A session belongs to one workspace (as the API's
`POST /auth/login` decides), so moving opens a session in the other workspace and
ends the current one, without asking for the password again.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, insert, select, update

from smscast.core.errors import UserError
from smscast.engine.accounts.auth import Caller, memberships, token_hash, user_sessions, users
from smscast.engine.accounts.workspaces import workspaces

PORTAL_LANGUAGES = ("en", "pl")


@dataclass(frozen=True, slots=True)
class Profile:
    """The person behind a session, as the portal's header and language menu need them."""

    user_id: int
    email: str
    name: str
    locale: str | None
    instance_admin: bool
    must_change_password: bool = False  # a one-time password: the portal asks for a new one


@dataclass(frozen=True, slots=True)
class WorkspaceChoice:
    id: int
    name: str
    role: str


def portal_profile(engine: Engine, caller: Caller) -> Profile:
    """The signed-in user's name and chosen language (None: not chosen yet)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(
                users.c.id,
                users.c.email,
                users.c.name,
                users.c.locale,
                users.c.instance_admin,
                users.c.must_change_password,
            ).where(users.c.id == caller.id)
        ).one()
    return Profile(row.id, row.email, row.name or "", row.locale, bool(row.instance_admin),
                   bool(row.must_change_password))  # fmt: skip


def remember_language(engine: Engine, caller: Caller, language: str) -> None:
    """Keeps the user's portal language for their next sessions, on any device."""
    if language not in PORTAL_LANGUAGES:
        raise UserError.of(
            "unknown_language",
            f'"{language}" is not a portal language (one of: {", ".join(PORTAL_LANGUAGES)})',
            field="language",
        )
    with engine.begin() as conn:
        conn.execute(update(users).where(users.c.id == caller.id).values(locale=language))


def workspace_choices(engine: Engine, caller: Caller) -> list[WorkspaceChoice]:
    """Every workspace the signed-in user is a member of, with their role in it."""
    query = (
        select(workspaces.c.id, workspaces.c.name, memberships.c.role)
        .join(memberships, memberships.c.workspace_id == workspaces.c.id)
        .where(memberships.c.user_id == caller.id)
        .order_by(workspaces.c.name, workspaces.c.id)
    )
    with engine.connect() as conn:
        return [WorkspaceChoice(r.id, r.name, r.role) for r in conn.execute(query)]


def switch_workspace(
    engine: Engine,
    caller: Caller,
    session_token: str,
    workspace_id: int,
    *,
    lifetime: timedelta,
    now: datetime,
) -> str:
    """Opens a session in another workspace of the same user and ends the current one.

    Returns the new session's token. A workspace the user is not a member of is
    refused as if it did not exist.
    """
    new_token = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        member = conn.execute(
            select(memberships.c.workspace_id).where(
                memberships.c.user_id == caller.id, memberships.c.workspace_id == workspace_id
            )
        ).first()
        if member is None:
            raise UserError.of(
                "unknown_workspace", f"no workspace #{workspace_id} of yours", field="workspace_id"
            )
        conn.execute(
            delete(user_sessions).where(user_sessions.c.token_hash == token_hash(session_token))
        )
        conn.execute(
            insert(user_sessions).values(
                token_hash=token_hash(new_token),
                user_id=caller.id,
                workspace_id=workspace_id,
                created_at=now,
                expires_at=now + lifetime,
            )
        )
    return new_token
