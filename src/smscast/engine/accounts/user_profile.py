"""A signed-in person's own account: the name others see, and signing out everywhere.

The language is `portal_preferences.remember_language`, the password
`users.change_password`; these are the two other things a user changes for themself.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, delete, select, update

from smscast.core.errors import UserError
from smscast.engine.accounts.audit import record_audit
from smscast.engine.accounts.auth import Caller, token_hash, user_sessions, users
from smscast.engine.accounts.users import _workspace_ids

MAX_NAME = 200


def _user_only(caller: Caller) -> None:
    if caller.kind != "user":
        raise UserError.of("user_only", "only a signed-in user has a profile; an API key has not")


def rename_user(engine: Engine, caller: Caller, name: str, *, now: datetime) -> str:
    """The caller's own name, as the header, the inbox and the member list show it."""
    _user_only(caller)
    name = name.strip()
    if not name:
        raise UserError.of("empty_name", "give your name", field="name")
    if len(name) > MAX_NAME or "\x00" in name:
        raise UserError.of(
            "name_too_long", f"a name has at most {MAX_NAME} characters", field="name"
        )
    with engine.begin() as conn:
        old = conn.execute(select(users.c.name).where(users.c.id == caller.id)).scalar_one()
        if old == name:
            return name
        conn.execute(update(users).where(users.c.id == caller.id).values(name=name))
        record_audit(conn, caller.workspace.id, caller.actor, "user.renamed", caller.name,
                     {"from": old, "to": name}, now)  # fmt: skip
    return name


def sign_out_everywhere(
    engine: Engine, caller: Caller, *, keep_session: str | None, now: datetime
) -> int:
    """Ends every session of the caller, in every workspace and browser, except
    `keep_session` (a token; None ends this one too). Returns how many ended."""
    _user_only(caller)
    with engine.begin() as conn:
        ending = delete(user_sessions).where(user_sessions.c.user_id == caller.id)
        if keep_session is not None:
            ending = ending.where(user_sessions.c.token_hash != token_hash(keep_session))
        ended = int(conn.execute(ending).rowcount or 0)
        for workspace_id in _workspace_ids(conn, caller.id):
            record_audit(conn, workspace_id, caller.actor, "user.signed_out_everywhere",
                         caller.name, {"sessions_ended": ended}, now)  # fmt: skip
    return ended
