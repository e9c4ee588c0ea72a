"""Workspaces and the first-run setup: use cases that own their transactions."""

from __future__ import annotations

import secrets
import zoneinfo
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import Connection, Engine, func, insert, select

from smscast.core.errors import UserError
from smscast.core.phones import is_known_country
from smscast.engine.accounts.audit import record_audit
from smscast.store.models import Membership, User, Workspace, table_of

workspaces = table_of(Workspace)
users = table_of(User)
memberships = table_of(Membership)


@dataclass(frozen=True, slots=True)
class WorkspaceRef:
    id: int
    name: str
    country: str
    timezone: str
    settings: dict[str, Any]


@dataclass(frozen=True, slots=True)
class FirstRun:
    workspace: WorkspaceRef
    admin_email: str
    admin_password: str


def validate_workspace_fields(country: str, timezone: str) -> tuple[str, str]:
    country = country.strip().upper()
    if len(country) != 2 or not is_known_country(country):
        raise UserError.of(
            "unknown_country", f'"{country}" is not a country code (PL, DE, US)', field="country"
        )
    if timezone not in zoneinfo.available_timezones():
        raise UserError.of(
            "unknown_timezone", f'"{timezone}" is not a time zone (Europe/Warsaw)', field="timezone"
        )
    return country, timezone


def create_workspace(
    engine: Engine, name: str, country: str, timezone: str, *, actor: str, now: datetime
) -> WorkspaceRef:
    name = name.strip()
    if not name:
        raise UserError.of("empty_name", "a workspace needs a name", field="name")
    country, timezone = validate_workspace_fields(country, timezone)
    with engine.begin() as conn:
        if conn.execute(select(workspaces.c.id).where(workspaces.c.name == name)).first():
            raise UserError.of(
                "workspace_exists", f'a workspace named "{name}" already exists', field="name"
            )
        workspace_id = conn.execute(
            insert(workspaces)
            .values(name=name, country=country, timezone=timezone, settings={}, created_at=now)
            .returning(workspaces.c.id)
        ).scalar_one()
        record_audit(conn, workspace_id, actor, "workspace.created", name, {}, now)
    return WorkspaceRef(workspace_id, name, country, timezone, {})


def resolve_workspace(conn: Connection, name: str | None) -> WorkspaceRef:
    """The workspace named (or numbered) `name`; without a name, the only one there is."""
    query = select(workspaces).order_by(workspaces.c.id)
    if name is not None:
        condition = workspaces.c.name == name
        if name.isdigit():
            condition = condition | (workspaces.c.id == int(name))
        query = query.where(condition)
    rows = conn.execute(query.limit(2)).all()
    if not rows:
        if name is None:
            raise UserError.of(
                "no_workspace",
                "there is no workspace yet; create one with `smscast workspace create NAME`",
                field="workspace",
            )
        raise UserError.of("unknown_workspace", f'no workspace named "{name}"', field="workspace")
    if len(rows) > 1 and name is None:
        raise UserError.of(
            "choose_workspace",
            "there are several workspaces; say which with --workspace NAME",
            field="workspace",
        )
    row = rows[0]
    return WorkspaceRef(row.id, row.name, row.country, row.timezone, dict(row.settings or {}))


def ensure_first_run(
    engine: Engine, *, country: str, timezone: str, admin_email: str, now: datetime
) -> FirstRun | None:
    """Creates a first workspace and an admin user when there are none; else does nothing.

    That admin owns the workspace and is the first instance administrator.
    """
    with engine.begin() as conn:
        if conn.execute(select(func.count()).select_from(users)).scalar_one():
            return None
        existing = conn.execute(select(workspaces.c.id).order_by(workspaces.c.id)).first()
        if existing is None:
            country, timezone = validate_workspace_fields(country, timezone)
            workspace_id = conn.execute(
                insert(workspaces)
                .values(
                    name="Default", country=country, timezone=timezone, settings={}, created_at=now
                )
                .returning(workspaces.c.id)
            ).scalar_one()
        else:
            workspace_id = existing.id
        password = secrets.token_urlsafe(12)
        user_id = conn.execute(
            insert(users)
            .values(
                email=admin_email,
                name="Admin",
                is_active=True,
                instance_admin=True,  # the first admin may create workspaces and name others
                created_at=now,
                password_hash=PasswordHasher().hash(password),
            )
            .returning(users.c.id)
        ).scalar_one()
        conn.execute(
            insert(memberships).values(user_id=user_id, workspace_id=workspace_id, role="owner")
        )
        record_audit(
            conn, workspace_id, "smscast", "user.created", admin_email, {"role": "owner"}, now
        )
        workspace = resolve_workspace(conn, str(workspace_id))
    return FirstRun(workspace, admin_email, password)
