"""The national shift tables a connector's carrier accepts, read from its row.

A module of its own, importing no channel: `campaigns launch` needs it before its
first text can go, and `engine.sending.connectors` brings every channel's client
(0.1-0.2 s of imports).
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from smscast.core.errors import UserError
from smscast.core.national import NationalTables, connector_national_tables
from smscast.store.messaging_models import Connector
from smscast.store.models import table_of

connectors = table_of(Connector)


def national_tables_of(conn: Connection, connector_id: int | None) -> NationalTables:
    """The national shift tables a connector's carrier accepts (none without a connector).

    Launch and enqueue count parts with them and store the pair chosen on each message,
    which the connector then encodes with: counted and sent are the same parts.
    """
    if connector_id is None:
        return ()
    settings = conn.execute(
        select(connectors.c.settings).where(connectors.c.id == connector_id)
    ).scalar()
    try:
        return connector_national_tables(dict(settings or {}))
    except UserError:  # refused when the connector was added; a row edited by hand since
        return ()
