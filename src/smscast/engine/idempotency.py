"""Idempotency records: a retried POST gets the first answer instead of a second effect.

The key is claimed before the work starts (a row without a status); a concurrent
duplicate sees the claim and is told to wait; the answer is stored once the work
succeeded or was refused, and released when the server failed, so a retry can run.
Records are kept for 24 hours, per workspace and credential (`idempotency_scope`): the
same key sent by another workspace, or by another API key of the same workspace, is
another request, never a replay of someone else's answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from smscast.core.errors import UserError
from smscast.engine.accounts.auth import Caller
from smscast.store.api_models import IdempotencyRecord
from smscast.store.models import table_of

records = table_of(IdempotencyRecord)
KEEP = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    status_code: int
    content_type: str
    body: str


def idempotency_scope(caller: Caller) -> str:
    """Whose records a key is looked up in: the workspace and the credential acting in it.

    A user belongs to several workspaces and signs in to each separately; keying by the
    user alone replayed one workspace's answer in another. Fits the 40-character
    `caller` column: "w" + id + ":user" or ":key" + id.
    """
    return f"w{caller.workspace.id}:{caller.kind}{caller.id}"


def claim_idempotency_key(
    engine: Engine, caller: str, key: str, request_hash: str, now: datetime
) -> StoredAnswer | None:
    """None when this request may run; the stored answer when it already ran."""
    for _ in range(2):
        try:
            with engine.begin() as conn:
                conn.execute(
                    insert(records).values(
                        caller=caller, key=key, request_hash=request_hash, created_at=now
                    )
                )
            return None
        except IntegrityError:
            pass
        with engine.begin() as conn:
            row = conn.execute(
                select(records).where(records.c.caller == caller, records.c.key == key)
            ).first()
            if row is None:
                continue  # released meanwhile: claim again
            if row.created_at < now - KEEP:
                conn.execute(delete(records).where(records.c.id == row.id))
                continue
        if row.request_hash != request_hash:
            raise UserError.of(
                "idempotency_key_reused",
                "this Idempotency-Key was used for a different request; use a new key",
                field="Idempotency-Key",
            )
        if row.status_code is None:
            raise UserError.of(
                "idempotency_in_progress",
                "a request with this Idempotency-Key is still running; retry shortly",
                field="Idempotency-Key",
            )
        return StoredAnswer(row.status_code, row.content_type or "application/json", row.body or "")
    raise UserError.of(
        "idempotency_in_progress",
        "this Idempotency-Key is busy; retry shortly",
        field="Idempotency-Key",
    )


def store_idempotent_answer(engine: Engine, caller: str, key: str, answer: StoredAnswer) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(records)
            .where(records.c.caller == caller, records.c.key == key)
            .values(
                status_code=answer.status_code, content_type=answer.content_type, body=answer.body
            )
        )


def release_idempotency_key(engine: Engine, caller: str, key: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(records).where(records.c.caller == caller, records.c.key == key))
