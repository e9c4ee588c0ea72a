"""What every provider callback goes through before its contents count: the connector it
names, settings that can verify it, and a line in the connector log.

A connector stored without its secret (before adding one was required, or edited by
hand) would check signatures against an empty key, which anyone can compute: such a
callback is refused, never verified. The log keeps the body, never the headers (they
carry secrets); a query is shown only where the provider puts nothing secret in it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from smscast.channels.base import LogEntry
from smscast.channels.providers.webhooks import WebhookRejected
from smscast.core.errors import UserError
from smscast.engine.sending.connector_log import record_log_entries
from smscast.engine.sending.connectors import (
    HTTP_KINDS,
    ConnectorRow,
    callback_secret_missing,
    load_connector,
)

MAX_LOGGED = 2000


@dataclass(frozen=True, slots=True)
class Callback:
    """One callback as it arrived: the URL the carrier called, headers, query and body."""

    url: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes
    client: str


def callback_connector(engine: Engine, connector_id: int, kind: str) -> ConnectorRow:
    """The connector a callback's URL names; a UserError when there is none of that kind."""
    with engine.connect() as conn:
        row = load_connector(conn, connector_id)
    if row is None or row.kind != kind:
        raise UserError.of(
            "unknown_connector", f"no {kind} connector #{connector_id}", field="connector_id"
        )
    return row


def verifying_settings(row: ConnectorRow, **extra: Any) -> Any:
    """The connector's provider settings, refused (WebhookRejected) without its secret."""
    missing = callback_secret_missing(row.kind, row.settings)
    if missing is not None:
        raise WebhookRejected(
            row.kind, f"connector {row.name!r} has no {missing}, so no callback can be verified"
        )
    settings_class = HTTP_KINDS[row.kind][0]
    known = {f.name for f in dataclasses.fields(settings_class)}
    values = {k: v for k, v in row.settings.items() if k in known}
    try:
        return settings_class(**{**values, "name": row.name, **extra})
    except (TypeError, ValueError) as error:
        raise WebhookRejected(row.kind, f"connector {row.name!r} settings: {error}") from None


def log_callback(
    engine: Engine,
    row: ConnectorRow,
    kind: str,
    callback: Callback,
    now: datetime,
    error: str | None,
    *,
    query_shown_but: Collection[str] | None = None,
) -> None:
    """Keeps the callback in the connector log. `query_shown_but`: show the query with
    those keys redacted (None: leave the query out, as Kannel's carries a token)."""
    where = callback.url.split("?")[0]
    if query_shown_but is not None and callback.query:
        where += "?" + "&".join(
            f"{k}={'[redacted]' if k in query_shown_but else v}" for k, v in callback.query.items()
        )
    body = callback.body[:MAX_LOGGED].decode("utf-8", errors="replace")
    entry = LogEntry(row.name, kind, f"{where} from {callback.client}\n{body}", "", 0.0, now,
                     (), error)  # fmt: skip
    with engine.begin() as conn:
        record_log_entries(conn, row.id, [entry])
