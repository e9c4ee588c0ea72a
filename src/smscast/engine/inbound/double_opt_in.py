"""Double opt-in: JOIN → "Reply YES to confirm…" → YES within the deadline → opt-in.

The confirmed opt-in's evidence holds both texts the person sent and the prompt
they answered, so the consent can be shown word for word later. An opt-in asked
for on the public sign-up form (see `web_sign_up`) is confirmed the same way; its
evidence is the form's: the text ticked, when, from which address and browser.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from smscast.core.consent import Action, Source
from smscast.store.bulk import DriverValues
from smscast.store.driver_sql import execute_many, insert_values, update_by_ids
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
    settle_double_opt_ins(conn, {(row["contact_id"], row["number_id"]): row for row in rows})


def settle_double_opt_ins(
    conn: Connection, final: dict[tuple[int, int], dict[str, Any] | None]
) -> None:
    """Leaves each (contact, number) of `final` with its JOIN waiting, or none (None):
    what a batch's texts started and confirmed, in two statements."""
    if not final:
        return
    update_by_ids(conn, "DELETE FROM pending_opt_ins WHERE number_id = ? AND contact_id {ids}",
                  [(number_id, contact_id) for contact_id, number_id in final])  # fmt: skip
    values = DriverValues(conn)
    insert_values(conn, PENDING_INSERT, [
        (r["workspace_id"], r["contact_id"], r["number_id"], r["rule_id"], r["purpose"],
         r["join_text"], r["prompt_text"], values.moment(r["created_at"]),
         values.moment(r["expires_at"]), r.get("web_sign_up_id"))
        for r in final.values() if r is not None
    ])  # fmt: skip


PENDING_COLUMNS = (
    "workspace_id", "contact_id", "number_id", "rule_id", "purpose", "join_text", "prompt_text",
    "created_at", "expires_at", "web_sign_up_id",
)  # fmt: skip
PENDING_INSERT = f"INSERT INTO {pending.name} ({', '.join(PENDING_COLUMNS)})"


class DoubleOptIns:
    """The double opt-ins of a batch's texts to one number, started and confirmed in
    memory in the texts' order; `write` stores the outcome in a few statements.

    What was waiting when the batch began (the JOINs of the people who answer YES, and
    their latest opt-outs) is read in one query each, and every text's outcome is
    decided from that and the batch's own JOINs and STOPs before it.
    """

    def __init__(
        self, conn: Connection, workspace_id: int, number_id: int, number: str,
        confirming: Collection[int],
    ) -> None:  # fmt: skip
        self.workspace_id = workspace_id
        self.number_id = number_id
        self.number = number
        self.stored: dict[int, dict[str, Any]] = {}
        self.opted_out_at: dict[int, datetime] = {}
        self.forms: dict[int, dict[str, Any]] = {}
        #: What each (contact, number) is left with: its JOIN waiting, or none.
        self.final: dict[tuple[int, int], dict[str, Any] | None] = {}
        self.confirmed_forms: list[tuple[datetime, int]] = []
        ids = sorted({c for c in confirming if c > 0})  # a new contact has nothing waiting
        if ids:
            self._load(conn, ids)

    def _load(self, conn: Connection, ids: list[int]) -> None:
        waiting = select(pending).where(
            pending.c.number_id == self.number_id, pending.c.contact_id.in_(ids)
        )
        self.stored = {row.contact_id: dict(row._mapping) for row in conn.execute(waiting)}
        if not self.stored:
            return
        latest: dict[int, tuple[int, datetime]] = {}
        for contact_id, event_id, occurred_at in conn.execute(
            select(
                consent_events.c.contact_id, consent_events.c.id, consent_events.c.occurred_at
            ).where(
                consent_events.c.contact_id.in_(sorted(self.stored)),
                consent_events.c.channel.in_(("sms", "all")),  # an opt-out of everything too
                consent_events.c.action == Action.OPT_OUT.value,
                consent_events.c.purpose.in_(("all", "promotional")),
            )
        ):
            if contact_id not in latest or event_id > latest[contact_id][0]:
                latest[contact_id] = (event_id, occurred_at)
        self.opted_out_at = {c: at for c, (_, at) in latest.items()}
        form_ids = sorted({r["web_sign_up_id"] for r in self.stored.values()
                           if r["web_sign_up_id"] is not None})  # fmt: skip
        if form_ids:
            self.forms = {
                row.id: dict(row._mapping)
                for row in conn.execute(select(web_sign_ups).where(web_sign_ups.c.id.in_(form_ids)))
            }

    def start(self, row: dict[str, Any]) -> None:
        """A JOIN (a `pending_row`): it replaces one still waiting."""
        self.final[(row["contact_id"], row["number_id"])] = row

    def opted_out(self, contact_id: int, channel: str, purpose: str, at: datetime) -> None:
        """An opt-out the batch records: a YES after it answers no JOIN sent before it."""
        if channel in ("sms", "all") and purpose in ("all", "promotional"):
            self.opted_out_at[contact_id] = at

    def confirm(self, contact_id: int, confirm_text: str, now: datetime) -> dict[str, Any] | None:
        """The consent ledger row of a YES that confirms the JOIN waiting; None when there
        is none in time, or when the person opted out since the JOIN: their YES may
        answer anything else (an agent's question), never the question asked before
        they said STOP."""
        key = (contact_id, self.number_id)
        row = self.final[key] if key in self.final else self.stored.get(contact_id)
        if row is None or row["expires_at"] < now:
            return None
        self.final[key] = None
        stopped = self.opted_out_at.get(contact_id)
        if stopped is not None and stopped >= row["created_at"]:
            return None
        source = Source.DOUBLE_OPT_IN
        evidence = (
            f'double opt-in on {self.number}: sent "{row["join_text"]}" at '
            f'{row["created_at"]:%Y-%m-%d %H:%M:%S}Z, was asked "{row["prompt_text"]}", '
            f'confirmed "{confirm_text}" at {now:%Y-%m-%d %H:%M:%S}Z'
        )
        form = self.forms.get(row.get("web_sign_up_id") or -1)
        if form is not None:
            source = Source.WEB_FORM
            evidence = (
                f"web form {form['page']} at {form['created_at']:%Y-%m-%d %H:%M:%S}Z from "
                f'{form["client_address"]} (user agent "{form["user_agent"]}"): ticked '
                f'"{form["consent_text"]}"; was asked on {self.number} "{row["prompt_text"]}", '
                f'confirmed "{confirm_text}" at {now:%Y-%m-%d %H:%M:%S}Z'
            )
            self.confirmed_forms.append((now, form["id"]))
        return {
            "workspace_id": self.workspace_id, "contact_id": contact_id, "channel": "sms",
            "purpose": row["purpose"], "action": Action.OPT_IN.value, "source": source.value,
            "evidence": evidence, "actor": f"sms:{self.number}", "occurred_at": now,
        }  # fmt: skip

    def write(self, conn: Connection) -> None:
        """Stores the JOINs left waiting, removes those answered, marks the forms confirmed."""
        settle_double_opt_ins(conn, self.final)
        self.final = {}
        if self.confirmed_forms:
            values = DriverValues(conn)
            confirmed = [(values.moment(at), form_id) for at, form_id in self.confirmed_forms]
            execute_many(conn, "UPDATE web_sign_ups SET confirmed_at = ? WHERE id = ?", confirmed)
            self.confirmed_forms = []
