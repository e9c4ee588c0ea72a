"""Instance administrators: the people who may create workspaces and name each other.

A workspace role says what someone may do inside one workspace; creating a new
workspace is a decision about the whole installation, so it belongs to a flag on the
user (`users.instance_admin`) instead. The first admin made by `smscast bootstrap`
is one; they name others with `smscast users grant-admin EMAIL`. There is always at
least one, or nobody could create a workspace from the API again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Engine, func, select, update

from smscast.core.errors import UserError
from smscast.engine.accounts.audit import record_audit
from smscast.store.models import User, table_of

users = table_of(User)


def is_instance_admin(engine: Engine, user_id: int) -> bool:
    with engine.connect() as conn:
        return bool(
            conn.execute(
                select(users.c.instance_admin).where(
                    users.c.id == user_id, users.c.is_active.is_(True)
                )
            ).scalar()
        )


def _user_id(conn: Connection, email: str) -> int:
    email = email.strip().lower()
    user_id = conn.execute(select(users.c.id).where(func.lower(users.c.email) == email)).scalar()
    if user_id is None:
        raise UserError.of("unknown_user", f"no user with the email {email}", field="email")
    return int(user_id)


def grant_instance_admin(engine: Engine, email: str, *, actor: str, now: datetime) -> bool:
    """Makes `email` an instance administrator; False when they already were one."""
    with engine.begin() as conn:
        user_id = _user_id(conn, email)
        changed = conn.execute(
            update(users)
            .where(users.c.id == user_id, users.c.instance_admin.is_(False))
            .values(instance_admin=True)
        ).rowcount
        if changed:
            record_audit(
                conn, None, actor, "instance_admin.granted", email.strip().lower(), {}, now
            )
    return bool(changed)


def revoke_instance_admin(engine: Engine, email: str, *, actor: str, now: datetime) -> bool:
    """Takes the flag away; refuses to remove the last one. False when they were not one."""
    with engine.begin() as conn:
        user_id = _user_id(conn, email)
        admins = set(
            conn.execute(
                select(users.c.id).where(users.c.instance_admin.is_(True)).with_for_update()
            ).scalars()
        )  # locked: two revocations at once must not remove the last two
        if user_id not in admins:
            return False
        if admins == {user_id}:
            raise UserError.of(
                "last_instance_admin",
                f"{email.strip().lower()} is the last instance administrator: "
                "grant another one first",
                field="email",
            )
        conn.execute(update(users).where(users.c.id == user_id).values(instance_admin=False))
        record_audit(conn, None, actor, "instance_admin.revoked", email.strip().lower(), {}, now)
    return True
