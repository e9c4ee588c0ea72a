"""API keys: created for one workspace and role, shown once, revocable, audited."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update

from smscast.core.errors import UserError
from smscast.core.roles import Role
from smscast.engine.accounts.audit import record_audit
from smscast.engine.accounts.auth import KEY_PREFIX, Caller, api_keys, token_hash
from smscast.engine.accounts.workspaces import WorkspaceRef

SHOWN_COLUMNS = (
    "id",
    "name",
    "prefix",
    "role",
    "created_by",
    "created_at",
    "expires_at",
    "last_used_at",
    "revoked_at",
)


@dataclass(frozen=True, slots=True)
class NewApiKey:
    """The stored key and its full token, which exists nowhere else after this."""

    key: dict[str, Any]
    token: str


def check_role(role: str) -> str:
    if role not in {r.value for r in Role}:
        allowed = ", ".join(r.value for r in Role)
        raise UserError.of("unknown_role", f'"{role}" is not a role ({allowed})', field="role")
    return role


def create_api_key(
    engine: Engine,
    workspace: WorkspaceRef,
    name: str,
    role: str,
    *,
    expires_at: datetime | None,
    actor: str,
    now: datetime,
) -> NewApiKey:
    name = name.strip()
    if not name:
        raise UserError.of("empty_name", "an API key needs a name", field="name")
    check_role(role)
    if expires_at is not None and expires_at <= now:
        raise UserError.of("expired", "expires_at is in the past", field="expires_at")
    prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    with engine.begin() as conn:
        key_id = conn.execute(
            insert(api_keys)
            .values(
                workspace_id=workspace.id,
                name=name,
                prefix=prefix,
                secret_hash=token_hash(secret),
                role=role,
                created_by=actor,
                created_at=now,
                expires_at=expires_at,
            )
            .returning(api_keys.c.id)
        ).scalar_one()
        record_audit(
            conn,
            workspace.id,
            actor,
            "api_key.created",
            f"api key {prefix}",
            {"name": name, "role": role},
            now,
        )
        key = _key(conn, workspace, key_id)
    return NewApiKey(key, f"{KEY_PREFIX}{prefix}_{secret}")


def _key(conn: Any, workspace: WorkspaceRef, key_id: int) -> dict[str, Any]:
    row = conn.execute(
        select(*(api_keys.c[c] for c in SHOWN_COLUMNS)).where(
            api_keys.c.id == key_id, api_keys.c.workspace_id == workspace.id
        )
    ).first()
    if row is None:
        raise UserError.of("unknown_api_key", f"no API key #{key_id}", field="key_id")
    return dict(row._mapping)


def show_api_key(engine: Engine, workspace: WorkspaceRef, key_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        return _key(conn, workspace, key_id)


def list_api_keys(
    engine: Engine, workspace: WorkspaceRef, *, after: int, limit: int
) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(*(api_keys.c[c] for c in SHOWN_COLUMNS))
            .where(api_keys.c.workspace_id == workspace.id, api_keys.c.id > after)
            .order_by(api_keys.c.id)
            .limit(limit)
        )
        return [dict(row._mapping) for row in rows]


def revoke_api_key(
    engine: Engine, workspace: WorkspaceRef, key_id: int, *, caller: Caller, now: datetime
) -> dict[str, Any]:
    """Revokes at once: the next request with the key is refused. Revoking twice is a no-op."""
    with engine.begin() as conn:
        key = _key(conn, workspace, key_id)
        if key["revoked_at"] is None:
            conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(revoked_at=now))
            record_audit(
                conn,
                workspace.id,
                caller.actor,
                "api_key.revoked",
                f"api key {key['prefix']}",
                {},
                now,
            )
        return _key(conn, workspace, key_id)
