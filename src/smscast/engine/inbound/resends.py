"""Telling a carrier's resend from a new text, so nobody is answered twice.

Texts are acknowledged only once stored (at-least-once): after a crash or a lost
connection between the commit and the acknowledgement, the carrier sends the same
text again. Each stored inbound row keeps a `resend_key`: its carrier ids where the
carrier gives them (matched at any age up to `ID_HORIZON`), otherwise a digest of
sender, recipient, text and part count. Without ids, a stored text counts as sent
again only if it came over an earlier connection (`InboundMessage.link`: a carrier
resends only after the connection that brought a text is gone) and within the
resend window; one person's "STOP", "STOP" over one connection are two texts (the
ledger keeps both), and so is anything arriving with no connection to tell by.
Within one batch only carrier ids are matched: a resent text's first copy was
committed in an earlier batch.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from smscast.channels.base import InboundMessage
from smscast.store.bulk import DriverValues, select_in

log = logging.getLogger(__name__)
ID_HORIZON = timedelta(days=7)  # carrier ids are unique far longer than any resend takes


def resend_key(message: InboundMessage) -> str:
    """`i…` from the carrier's ids, `t…` from what the text says and who sent it where."""
    if message.carrier_ids:
        source, kind = "\x1f".join(message.carrier_ids), "i"
    else:
        fields = (message.sender, message.recipient, message.text, str(message.parts))
        source, kind = "\x1f".join(fields), "t"
    digest = hashlib.blake2b(source.encode("utf-8", "surrogatepass"), digest_size=20)
    return kind + digest.hexdigest()


@dataclass(frozen=True, slots=True)
class Resends:
    """Texts sent again: by batch index, the stored copy's id or the index of the
    first copy in the same batch."""

    stored: dict[int, int]
    in_batch: dict[int, int]

    def __len__(self) -> int:
        return len(self.stored) + len(self.in_batch)


def find_resends(
    conn: Connection, connector_id: int, batch: Sequence[InboundMessage], keys: Sequence[str],
    window: timedelta,
) -> Resends:  # fmt: skip
    """The texts of `batch` already stored, or sent twice within it."""
    values = DriverValues(conn)
    since = min(m.received_at for m in batch) - max(ID_HORIZON, window)
    # No "resend_key IS NOT NULL" here: the IN implies it (so the partial index still
    # serves), and with it SQLite scanned every stored inbound key of the connector
    # for each batch instead of looking the batch's keys up.
    rows = select_in(
        conn,
        "SELECT resend_key, id, created_at, inbound_link FROM messages WHERE connector_id = {m} "
        "AND created_at >= {m} AND resend_key IN".format(
            m="?" if conn.dialect.paramstyle == "qmark" else "%s"
        ),
        sorted(set(keys)),
        (connector_id, values.moment(since)),
    )
    stored: dict[str, list[tuple[datetime, int, str]]] = {}
    for key, message_id, created_at, link in rows:
        stored.setdefault(key, []).append((_moment(created_at), int(message_id), link or ""))
    out = Resends({}, {})
    first_in_batch: dict[str, int] = {}
    for index, (message, key) in enumerate(zip(batch, keys, strict=True)):
        by_id = key.startswith("i")
        limit = ID_HORIZON if by_id else window
        earlier = [
            (at, message_id) for at, message_id, link in stored.get(key, ())
            if message.received_at - limit <= at <= message.received_at + limit
            and (by_id or (message.link and link != message.link))
        ]  # fmt: skip
        first = first_in_batch.get(key)
        if earlier and limit:
            out.stored[index] = max(earlier)[1]
        elif first is not None and key.startswith("i"):
            out.in_batch[index] = first
        else:
            first_in_batch[key] = index
            continue
        log.info("inbound from %s to %s on connector #%d was sent again by the carrier: "
                 "acknowledged, not routed again", message.sender, message.recipient,
                 connector_id)  # fmt: skip
    _seen_again(conn, {out.stored[i]: batch[i].link for i in out.stored if batch[i].link})
    return out


def _seen_again(conn: Connection, links: dict[int, str]) -> None:
    """A resent copy now counts as come over this connection: the same words again
    over it are the person writing again."""
    if links:
        marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        rows = [(link, message_id) for message_id, link in links.items()]
        conn.exec_driver_sql(
            f"UPDATE messages SET inbound_link = {marker} WHERE id = {marker}", rows
        )


def _moment(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)
