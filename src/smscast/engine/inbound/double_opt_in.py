"""Double opt-in: JOIN → "Reply YES to confirm…" → YES within the deadline → opt-in.

The confirmed opt-in's evidence holds both texts the person sent and the prompt
they answered, so the consent can be shown word for word later. An opt-in asked
for on the public sign-up form (see `web_sign_up`) is confirmed the same way; its
evidence is the form's: the text ticked, when, from which address and browser.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, select, update

from smscast.core.consent import Action, Source
from smscast.engine.inbound.consent_by_text import record_text_consent
from smscast.store.bulk import DriverValues, insert_rows
from smscast.store.driver_sql import execute_many
from smscast.store.inbound_models import PendingOptIn, WebSignUp
from smscast.store.models import ConsentEvent, table_of

pending = table_of(PendingOptIn)
consent_events = table_of(ConsentEvent)
web_sign_ups = table_of(WebSignUp)


def pending_row(
    *,
    workspace_id: int,
    contact_id: int,
    number_id: int,
    rule_id: int | None,
    purpose: str,
    join_text: str,
    prompt_text: str,
    now: datetime,
    within: timedelta,
    web_sign_up_id: int | None = None,
) -> dict[str, Any]:
    """A JOIN (or a sign-up on the web form) waiting for its YES, as
    `start_double_opt_ins` writes it."""
    return {
        "workspace_id": workspace_id, "contact_id": contact_id, "number_id": number_id,
        "rule_id": rule_id, "purpose": purpose or "promotional", "join_text": join_text,
        "prompt_text": prompt_text, "created_at": now, "expires_at": now + within,
        "web_sign_up_id": web_sign_up_id,
    }  # fmt: skip


def start_double_opt_ins(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Records JOINs (in order); a later JOIN replaces an earlier one still waiting."""
    if not rows:
        return
    latest = {(row["contact_id"], row["number_id"]): row for row in rows}
    execute_many(conn, "DELETE FROM pending_opt_ins WHERE contact_id = ? AND number_id = ?",
                 list(latest))  # fmt: skip
    values = DriverValues(conn)
    insert_rows(conn, pending, PENDING_COLUMNS, [
        (r["workspace_id"], r["contact_id"], r["number_id"], r["rule_id"], r["purpose"],
         r["join_text"], r["prompt_text"], values.moment(r["created_at"]),
         values.moment(r["expires_at"]), r.get("web_sign_up_id"))
        for r in latest.values()
    ])  # fmt: skip


PENDING_COLUMNS = (
    "workspace_id", "contact_id", "number_id", "rule_id", "purpose", "join_text", "prompt_text",
    "created_at", "expires_at", "web_sign_up_id",
)  # fmt: skip


def confirm_double_opt_in(
    conn: Connection,
    *,
    workspace_id: int,
    contact_id: int,
    number_id: int,
    confirm_text: str,
    number: str,
    now: datetime,
) -> int | None:
    """Turns a waiting JOIN into a confirmed opt-in; None when there is none in time, or
    when the person opted out since the JOIN: their YES may answer anything else (an
    agent's question), never the question asked before they said STOP."""
    row = conn.execute(
        select(pending).where(pending.c.contact_id == contact_id, pending.c.number_id == number_id)
    ).first()
    if row is None or row.expires_at < now:
        return None
    if _opted_out_since(conn, contact_id, row.created_at):
        conn.execute(delete(pending).where(pending.c.id == row.id))
        return None
    source = Source.DOUBLE_OPT_IN
    evidence = (
        f'double opt-in on {number}: sent "{row.join_text}" at {row.created_at:%Y-%m-%d %H:%M:%S}Z'
        f', was asked "{row.prompt_text}", confirmed "{confirm_text}" at {now:%Y-%m-%d %H:%M:%S}Z'
    )
    form = None
    if row.web_sign_up_id is not None:
        form = conn.execute(
            select(web_sign_ups).where(web_sign_ups.c.id == row.web_sign_up_id)
        ).first()
    if form is not None:
        source = Source.WEB_FORM
        evidence = (
            f"web form {form.page} at {form.created_at:%Y-%m-%d %H:%M:%S}Z from "
            f'{form.client_address} (user agent "{form.user_agent}"): ticked "{form.consent_text}"'
            f'; was asked on {number} "{row.prompt_text}", confirmed "{confirm_text}" at '
            f"{now:%Y-%m-%d %H:%M:%S}Z"
        )
        conn.execute(
            update(web_sign_ups).where(web_sign_ups.c.id == form.id).values(confirmed_at=now)
        )
    conn.execute(delete(pending).where(pending.c.id == row.id))
    return record_text_consent(
        conn, workspace_id, contact_id, Action.OPT_IN, row.purpose, source, evidence,
        f"sms:{number}", now,
    )  # fmt: skip


def _opted_out_since(conn: Connection, contact_id: int, since: datetime) -> bool:
    """Whether an SMS opt-out from promotions was recorded at or after `since`."""
    latest = conn.execute(
        select(consent_events.c.occurred_at)
        .where(
            consent_events.c.contact_id == contact_id,
            consent_events.c.channel.in_(("sms", "all")),  # an opt-out of everything too
            consent_events.c.action == Action.OPT_OUT.value,
            consent_events.c.purpose.in_(("all", "promotional")),
        )
        .order_by(consent_events.c.id.desc())
        .limit(1)
    ).scalar()
    return latest is not None and latest >= since
