"""Who is calling: an API key or a signed-in user, resolved to one workspace and role.

Every credential is a random token that we keep only as a SHA-256 hash; the
tokens are long enough that a fast hash is safe, and a lookup costs one indexed
read. Passwords, which people choose, get argon2 instead (see `users.py`).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, select, update

from smscast.core.errors import UserError
from smscast.engine.accounts.workspaces import WorkspaceRef, resolve_workspace
from smscast.store.api_models import ApiKey, UserSession
from smscast.store.models import Membership, User, table_of

api_keys = table_of(ApiKey)
user_sessions = table_of(UserSession)
users = table_of(User)
memberships = table_of(Membership)

KEY_PREFIX = "smc_"
LAST_USED_EVERY = timedelta(minutes=1)  # how stale `last_used_at` may get, to spare writes


@dataclass(frozen=True, slots=True)
class Caller:
    """The principal behind a request: `kind` is "key" or "user", `id` its row id."""

    kind: str
    id: int
    workspace: WorkspaceRef
    role: str
    name: str

    @property
    def actor(self) -> str:
        """How the audit log and the consent ledger name this caller."""
        return f"{self.kind}:{self.name}"

    @property
    def scope(self) -> str:
        """A stable name for rate limits and idempotency records."""
        return f"{self.kind}:{self.id}"


class AuthError(UserError):
    """A credential that is missing, malformed, unknown, expired or revoked (HTTP 401)."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def resolve_api_key(engine: Engine, token: str, now: datetime) -> Caller:
    """The caller an API key stands for; AuthError says why a key is refused."""
    prefix, _, secret = token.removeprefix(KEY_PREFIX).partition("_")
    if not token.startswith(KEY_PREFIX) or not prefix or not secret:
        raise AuthError.of("bad_api_key", "the API key is not in the form smc_<id>_<secret>")
    with engine.connect() as conn:
        row = conn.execute(select(api_keys).where(api_keys.c.prefix == prefix)).first()
        if row is None or not hmac.compare_digest(row.secret_hash, token_hash(secret)):
            raise AuthError.of("unknown_api_key", "the API key is not known")
        if row.revoked_at is not None:
            raise AuthError.of("revoked_api_key", f"API key {prefix} was revoked")
        if row.expires_at is not None and row.expires_at <= now:
            raise AuthError.of("expired_api_key", f"API key {prefix} expired")
        workspace = resolve_workspace(conn, str(row.workspace_id))
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_EVERY:
        with engine.begin() as conn:
            conn.execute(update(api_keys).where(api_keys.c.id == row.id).values(last_used_at=now))
    return Caller("key", row.id, workspace, row.role, row.name)


def resolve_session(engine: Engine, token: str, now: datetime) -> Caller:
    """The signed-in user behind a session token, in the workspace they signed in to."""
    with engine.connect() as conn:
        row = conn.execute(
            select(user_sessions, users.c.email, users.c.is_active, memberships.c.role)
            .join(users, users.c.id == user_sessions.c.user_id)
            .join(
                memberships,
                (memberships.c.user_id == user_sessions.c.user_id)
                & (memberships.c.workspace_id == user_sessions.c.workspace_id),
            )
            .where(user_sessions.c.token_hash == token_hash(token))
        ).first()
        if row is None or not row.is_active:
            raise AuthError.of("unknown_session", "the session is not known; sign in again")
        if row.expires_at <= now:
            raise AuthError.of("expired_session", "the session expired; sign in again")
        workspace = resolve_workspace(conn, str(row.workspace_id))
    return Caller("user", row.user_id, workspace, row.role, row.email)


def resolve_credential(engine: Engine, token: str, now: datetime) -> Caller:
    """An API key (smc_…) or a session token, whichever `token` is."""
    if token.startswith(KEY_PREFIX):
        return resolve_api_key(engine, token, now)
    return resolve_session(engine, token, now)
