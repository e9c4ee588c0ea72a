"""Workspaces as the API sees them: which ones a caller may use, creating and changing one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update

from smscast.core.campaign_rules import rules_from_settings
from smscast.core.errors import UserError
from smscast.engine.accounts.audit import record_audit
from smscast.engine.accounts.auth import Caller, memberships
from smscast.engine.accounts.workspaces import (
    WorkspaceRef,
    create_workspace,
    validate_workspace_fields,
)
from smscast.engine.accounts.workspaces import workspaces as workspace_table
from smscast.engine.inbound.web_sign_up import SIGN_UP_KEYS, check_sign_up_settings
from smscast.engine.sending.quiet_hours import retime_waiting
from smscast.store.db import begin_write


def create_owned_workspace(
    engine: Engine, caller: Caller, name: str, country: str, timezone: str, *, now: datetime
) -> WorkspaceRef:
    """A new workspace whose owner is the signed-in user creating it."""
    if caller.kind != "user":
        raise UserError.of(
            "user_only", "only a signed-in user can create a workspace (an API key belongs to one)"
        )
    workspace = create_workspace(engine, name, country, timezone, actor=caller.actor, now=now)
    with engine.begin() as conn:
        conn.execute(
            insert(memberships).values(user_id=caller.id, workspace_id=workspace.id, role="owner")
        )
    return workspace


def workspaces_of(engine: Engine, caller: Caller) -> list[dict[str, Any]]:
    """The workspaces a caller may act in: a key's own one, or a user's memberships."""
    query = select(workspace_table, memberships.c.role).join(
        memberships, memberships.c.workspace_id == workspace_table.c.id
    )
    if caller.kind == "user":
        query = query.where(memberships.c.user_id == caller.id)
    else:
        return [_workspace_dict(caller.workspace, caller.role)]
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(workspace_table.c.id)).all()
    return [
        {
            "id": r.id,
            "name": r.name,
            "country": r.country,
            "timezone": r.timezone,
            "settings": r.settings or {},
            "role": r.role,
        }
        for r in rows
    ]


def _workspace_dict(workspace: WorkspaceRef, role: str) -> dict[str, Any]:
    return {
        "id": workspace.id,
        "name": workspace.name,
        "country": workspace.country,
        "timezone": workspace.timezone,
        "settings": workspace.settings,
        "role": role,
    }


#: Settings whose change moves texts that quiet hours hold.
TIMING_SETTINGS = frozenset({"quiet_hours", "quiet_hours_informational"})


def update_workspace(
    engine: Engine,
    workspace: WorkspaceRef,
    changes: dict[str, Any],
    *,
    caller: Caller,
    now: datetime,
) -> dict[str, Any]:
    """Changes name, country, time zone or settings; audited as settings changed.

    The settings are checked whole before anything is stored (a wrong value names
    its key); the public sign-up form's (`sign_up_*`, see `web_sign_up`) inside the
    transaction, since its address must be unique among workspaces. A change of quiet
    hours (or of the workspace's zone, which contacts without one live in) re-times the
    texts quiet hours hold, in the same transaction: none of them keeps a time the new
    hours no longer call for.
    """
    country, zone = validate_workspace_fields(
        changes.get("country") or workspace.country, changes.get("timezone") or workspace.timezone
    )
    values: dict[str, Any] = {"country": country, "timezone": zone}
    if changes.get("name") is not None:
        name = str(changes["name"]).strip()
        if not name:
            raise UserError.of("empty_name", "a workspace needs a name", field="name")
        values["name"] = name
    retime = zone != workspace.timezone
    if changes.get("settings") is not None:
        values["settings"] = {**workspace.settings, **changes["settings"]}
        rules_from_settings(values["settings"])
        retime = retime or bool(TIMING_SETTINGS & changes["settings"].keys())
    with engine.begin() as conn:
        begin_write(conn)  # it reads, then writes: beside a running server on SQLite
        if "settings" in values and SIGN_UP_KEYS & changes["settings"].keys():
            named = WorkspaceRef(workspace.id, values.get("name", workspace.name), country, zone,
                                 values["settings"])  # fmt: skip
            values["settings"] = check_sign_up_settings(conn, named, values["settings"])
        if "name" in values and values["name"] != workspace.name:
            taken = conn.execute(
                select(workspace_table.c.id).where(workspace_table.c.name == values["name"])
            ).first()
            if taken:
                raise UserError.of(
                    "workspace_exists",
                    f'a workspace named "{values["name"]}" already exists',
                    field="name",
                )
        conn.execute(
            update(workspace_table).where(workspace_table.c.id == workspace.id).values(**values)
        )
        if retime:
            rules = rules_from_settings(values.get("settings", workspace.settings))
            retime_waiting(conn, workspace.id, zone, rules, now)
        record_audit(
            conn,
            workspace.id,
            caller.actor,
            "workspace.settings_changed",
            workspace.name,
            {k: v for k, v in changes.items() if v is not None},
            now,
        )
    updated = WorkspaceRef(
        workspace.id,
        values.get("name", workspace.name),
        country,
        zone,
        values.get("settings", workspace.settings),
    )
    return _workspace_dict(updated, caller.role)
