"""What the router needs to know of the senders of a batch, read in a few queries.

One query per fact for the whole batch (consent, pending double opt-ins, the last
campaign text, automatic replies in the last hour, texts in the last minute) keeps
inbound processing at thousands of texts per second; the router then moves each
contact's state along in memory as the batch's texts are routed in order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, or_, select

from smscast.core.errors import UserError
from smscast.core.phones import Phone, PhoneError, parse_phone, timezone_for_phone
from smscast.core.router import CampaignContact, ContactState
from smscast.core.rule_actions import parse_actions
from smscast.engine.inbound.batch_rows import insert_counted
from smscast.engine.tally import read_moment
from smscast.store.bulk import DriverValues, select_in
from smscast.store.driver_sql import insert_values
from smscast.store.messaging_models import Campaign
from smscast.store.models import Contact, table_of

campaigns = table_of(Campaign)
contacts = table_of(Contact)
GUARDED_KINDS = ("auto_reply", "help", "confirm")


class Sender:
    """A contact who texted us, with what the answers to them need.

    Attributes and tags arrive as the driver gives them (JSON text on SQLite) and
    are decoded the first time an answer or action needs them: most texts need
    neither.
    """

    __slots__ = ("_attributes", "_tags", "id", "language", "phone")

    def __init__(
        self, id: int, phone: str, language: str | None, attributes: Any, tags: Any
    ) -> None:
        self.id = id
        self.phone = phone
        self.language = language
        self._attributes = attributes
        self._tags = tags

    @property
    def attributes(self) -> dict[str, Any]:
        if not isinstance(self._attributes, dict):
            self._attributes = dict(_decoded(self._attributes) or {})
        return self._attributes

    @property
    def tags(self) -> list[str]:
        if not isinstance(self._tags, list):
            self._tags = list(_decoded(self._tags) or [])
        return self._tags


def _decoded(value: Any) -> Any:
    if not isinstance(value, str | bytes):
        return value  # decoded by the driver (PostgreSQL)
    return None if value in EMPTY_JSON else json.loads(value)  # most have no attributes


EMPTY_JSON = frozenset({"{}", "[]", "null", b"{}", b"[]"})


@lru_cache(maxsize=65536)
def sender_phone(raw: str, country: str) -> Phone | None:
    """The sender's E.164 number: carriers send international numbers without `+`.

    Cached: the same people text again and again, and parsing costs more than routing."""
    text = raw.strip()
    digits = text.lstrip("+")
    candidates = [text] if text.startswith("+") else []
    if digits.isdigit():
        candidates += [f"+{digits}", digits]
    for candidate in candidates:
        try:
            return parse_phone(candidate, country)
        except PhoneError:
            continue
    return None


def find_senders(
    conn: Connection, workspace_id: int, phones: dict[str, Phone]
) -> tuple[dict[str, Sender], list[Sender]]:
    """Contacts for these phones; a phone we do not know yet gets a stand-in (negative
    id, no consent, no history) that `create_senders` turns into a contact.

    Creating them is left to the batch's writes: on SQLite the first write takes the
    database's only write lock until commit, and a routing batch that took it here
    kept a second worker's dispatcher waiting for the whole batch.
    """
    found = _contacts_by_phone(conn, workspace_id, list(phones))
    new = [
        Sender(-index, phone.e164, None, {}, [])
        for index, phone in enumerate((p for e164, p in phones.items() if e164 not in found), 1)
    ]
    for sender in new:
        found[sender.phone] = sender
    return found, new


def create_senders(
    conn: Connection, workspace_id: int, new: list[Sender], phones: dict[str, Phone],
    fallback_zone: str, now: datetime,
) -> None:  # fmt: skip
    """Makes contacts of the stand-ins of `find_senders`, which then carry their ids.

    Inserts skip rows another worker created meanwhile; their ids are read back too.
    Such a contact was routed as new (no consent, no history), as it would have been a
    moment earlier; what its texts asked of it still applies, and the dispatcher checks
    consent again before anything promotional goes.
    """
    if not new:
        return
    values = DriverValues(conn)
    at = values.moment(now)
    rows = [
        (workspace_id, s.phone, phones[s.phone].country, "{}",
         timezone_for_phone(s.phone, fallback_zone), "[]", at, at)
        for s in new
    ]  # fmt: skip
    ids = insert_counted(conn, contacts, NEW_CONTACT_COLUMNS, rows, "ON CONFLICT DO NOTHING")
    if ids is not None:  # SQLite, and nobody made any of them meanwhile
        for sender, contact_id in zip(new, ids, strict=True):
            sender.id = contact_id
        return
    if conn.dialect.name != "sqlite":
        insert_values(conn, f"INSERT INTO contacts ({', '.join(NEW_CONTACT_COLUMNS)})", rows,
                      "ON CONFLICT DO NOTHING")  # fmt: skip
    created = _contacts_by_phone(conn, workspace_id, [s.phone for s in new])
    for sender in new:
        sender.id = created[sender.phone].id


#: A contact made from a stranger's text: no attributes, tags, language or e-mail.
NEW_CONTACT_COLUMNS = (
    "workspace_id", "phone", "country", "attributes", "timezone", "tags", "created_at",
    "updated_at",
)  # fmt: skip


def _contacts_by_phone(conn: Connection, workspace_id: int, phones: list[str]) -> dict[str, Sender]:
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    rows = select_in(
        conn,
        "SELECT id, phone, language, attributes, tags FROM contacts "
        f"WHERE workspace_id = {marker} AND phone IN",
        phones,
        (workspace_id,),
    )
    return {phone: Sender(cid, phone, language, attributes, tags)
            for cid, phone, language, attributes, tags in rows}  # fmt: skip


def load_states(
    conn: Connection,
    number_id: int,
    senders: Sequence[Sender],
    now: datetime,
    reply_window: timedelta,
    channel: str = "sms",
) -> dict[int, ContactState]:
    """The routing state of every sender, as of `now` (the batch's latest arrival); a
    stand-in for a new contact has none yet.

    Opted out and the last campaign are the channel's the texts came on: a STOP by SMS
    says nothing of email, and an SMS answers the campaign that last texted, not one
    that emailed."""
    ids = sorted({s.id for s in senders if s.id > 0})
    opted_out = _opted_out(conn, ids, channel)
    pending_until = _pending(conn, number_id, ids)
    last_campaign = _last_campaigns(conn, number_id, ids, now - reply_window, channel)
    guarded, recent = _counts(conn, ids, now)
    language = {s.id: s.language for s in senders}
    return {
        cid: ContactState(
            opted_out=cid in opted_out, language=language.get(cid),
            pending_opt_in_until=pending_until.get(cid), last_campaign=last_campaign.get(cid),
            auto_replies_last_hour=guarded.get(cid, 0), inbound_last_minute=recent.get(cid, 0),
        )
        for cid in ids
    } | {s.id: ContactState() for s in senders if s.id < 0}  # fmt: skip


def _marker(conn: Connection) -> str:
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def _opted_out(conn: Connection, ids: list[int], channel: str) -> set[int]:
    m = _marker(conn)
    rows = select_in(
        conn,
        f"SELECT contact_id FROM consent_states WHERE channel = {m} "
        f"AND purpose = 'promotional' AND status = {m} AND contact_id IN",
        ids,
        (channel, "opted_out"),
    )
    return {int(cid) for (cid,) in rows}


def _pending(conn: Connection, number_id: int, ids: list[int]) -> dict[int, datetime]:
    rows = select_in(
        conn,
        f"SELECT contact_id, expires_at FROM pending_opt_ins WHERE number_id = {_marker(conn)} "
        "AND contact_id IN",
        ids,
        (number_id,),
    )
    out: dict[int, datetime] = {}
    for cid, expires_at in rows:
        moment = read_moment(expires_at)
        if moment is not None:
            out[int(cid)] = moment
    return out


def _last_campaigns(
    conn: Connection, number_id: int, ids: list[int], since: datetime, channel: str
) -> dict[int, CampaignContact]:
    m = _marker(conn)
    # Only campaigns still sending then can have texted in the window (a finished one
    # sent nothing after `finished_at`; an hour's margin for texts still in flight).
    # Without any, each contact's messages need not be read at all.
    sending = sorted(conn.execute(
        select(campaigns.c.id).where(
            campaigns.c.status != "draft",
            or_(campaigns.c.finished_at.is_(None),
                campaigns.c.finished_at >= since - timedelta(hours=1)),
        )
    ).scalars())  # fmt: skip
    if not sending or not ids:
        return {}
    named = sending if len(sending) <= 500 else []  # many: the IN costs more than it saves
    rows = select_in(
        conn,
        "SELECT contact_id, campaign_id, sent_at FROM messages WHERE direction = 'out' "
        f"AND number_id = {m} AND campaign_id IS NOT NULL AND sent_at >= {m} "
        f"AND channel = {m} "
        + (f"AND campaign_id IN ({', '.join([m] * len(named))}) " if named else "")
        + "AND contact_id IN",
        ids,
        (number_id, DriverValues(conn).moment(since), channel, *named),
    )
    latest: dict[int, tuple[datetime, int]] = {}
    for cid, campaign_id, stored in rows:
        sent_at = read_moment(stored)
        if sent_at is None:
            continue
        if cid not in latest or sent_at > latest[cid][0]:
            latest[int(cid)] = (sent_at, int(campaign_id))
    if not latest:
        return {}
    options = dict(conn.execute(
        select(campaigns.c.id, campaigns.c.options).where(
            campaigns.c.id.in_({c for _, c in latest.values()})
        )
    ).all())  # fmt: skip
    return {
        cid: _campaign_contact(campaign_id, sent_at, options.get(campaign_id) or {})
        for cid, (sent_at, campaign_id) in latest.items()
    }


def campaign_contact(conn: Connection, campaign_id: int, sent_at: datetime) -> CampaignContact:
    """The campaign a reply names itself (an email's In-Reply-To): asked for replies or not,
    whatever the reply window, as the person answered that very message."""
    options = conn.execute(
        select(campaigns.c.options).where(campaigns.c.id == campaign_id)
    ).scalar()
    return _campaign_contact(campaign_id, sent_at, options or {})


def load_senders(conn: Connection, ids: Sequence[int]) -> dict[int, Sender]:
    """Known contacts by id, as `find_senders` reads them by phone."""
    rows = select_in(
        conn, "SELECT id, phone, language, attributes, tags FROM contacts WHERE id IN",
        sorted(set(ids)),
    )  # fmt: skip
    return {int(cid): Sender(int(cid), phone, language, attributes, tags)
            for cid, phone, language, attributes, tags in rows}  # fmt: skip


def _campaign_contact(
    campaign_id: int, sent_at: datetime, options: dict[str, Any]
) -> CampaignContact:
    """A campaign asks for replies with options `expects_reply: true` and, optionally,
    `reply_actions` (the same JSON actions as a keyword rule)."""
    try:
        actions = parse_actions(options.get("reply_actions") or [], where="reply_actions")
    except UserError:
        actions = ()
    asks = bool(options.get("expects_reply")) or bool(actions)
    return CampaignContact(campaign_id, sent_at, asks, actions)


def _counts(
    conn: Connection, ids: list[int], now: datetime
) -> tuple[dict[int, int], dict[int, int]]:
    """Automatic answers to each contact in the hour before `now` (the loop guard's
    count) and their texts in the minute before it (the flood's): one pass over each
    contact's last hour of messages."""
    m = _marker(conn)
    values = DriverValues(conn)
    minute, hour = (
        values.moment(now - timedelta(minutes=1)),
        values.moment(now - timedelta(hours=1)),
    )
    kinds = ", ".join([m] * len(GUARDED_KINDS))
    sql = (
        f"SELECT contact_id, sum(CASE WHEN direction = 'out' AND kind IN ({kinds}) THEN 1 "
        f"ELSE 0 END), sum(CASE WHEN direction = 'in' AND created_at >= {m} THEN 1 ELSE 0 END) "
        f"FROM messages WHERE created_at >= {m} AND contact_id IN"
    )
    rows = select_in(conn, sql, ids, (*GUARDED_KINDS, minute, hour), tail="GROUP BY contact_id")
    guarded = {int(cid): int(n) for cid, n, _ in rows if n}
    recent = {int(cid): int(n) for cid, _, n in rows if n}
    return guarded, recent
