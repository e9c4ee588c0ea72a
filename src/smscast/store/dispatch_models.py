"""What the delivery side adds to the schema: connector states and the claim indexes.

A connector lives in one worker's memory; its state (bound or not, why not, what
is in flight) is written here every second so the CLI, the API and the dashboard
of any process can show it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from smscast.store.messaging_models import Message
from smscast.store.models import Base
from smscast.store.types import JsonColumn


class ConnectorStateRow(Base):
    """The last state a worker saw of a connector it holds."""

    __tablename__ = "connector_states"

    connector_id: Mapped[int] = mapped_column(
        ForeignKey("connectors.id", ondelete="CASCADE"), primary_key=True
    )
    worker: Mapped[str] = mapped_column(String(100))
    connected: Mapped[bool] = mapped_column(Boolean, default=False)
    detail: Mapped[str] = mapped_column(Text, default="")
    in_flight: Mapped[int] = mapped_column(default=0)
    sent_per_s: Mapped[float] = mapped_column(default=0.0)
    last_errors: Mapped[list[str]] = mapped_column(JsonColumn, default=list)
    updated_at: Mapped[datetime]


# The dispatcher's claim: due messages of one connector, in send_after order. Partial,
# so a message leaves it once claimed and its later status changes cost it nothing.
CLAIM_INDEX = Index(
    "ix_messages_claim",
    Message.connector_id,
    Message.send_after,
    sqlite_where=text("status = 'queued'"),
    postgresql_where=text("status = 'queued'"),
)
# Queued messages still missing their route (connector or due time):
# a partial index keeps the once-a-second routing pass from scanning the outbox.
UNROUTED_INDEX = Index(
    "ix_messages_unrouted",
    Message.id,
    sqlite_where=text("status = 'queued' AND (connector_id IS NULL OR send_after IS NULL)"),
    postgresql_where=text("status = 'queued' AND (connector_id IS NULL OR send_after IS NULL)"),
)
