"""Connectors to the channel fakes `smscast serve` runs beside the SMSC simulator.

The first workspace gets one connector per channel (`simulator-email`,
`simulator-whatsapp`, `simulator-voice`, `simulator-push`), pointed at where the fakes
listen this time, and the WhatsApp fake's business number as a number of its own, so
a WhatsApp reply is routed like a text. A connector's other settings are kept: the
push connector's VAPID keys above all, since every browser subscription is bound to
them. A connector the user disabled stays disabled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update

from smscast.channels.push.vapid import generate_vapid_keys
from smscast.engine.accounts.audit import record_audit
from smscast.store.messaging_models import Connector, Number
from smscast.store.models import Workspace, table_of

connectors = table_of(Connector)
numbers = table_of(Number)
workspaces = table_of(Workspace)
SIMULATED_FROM = "Sklep <shop@smscast.test>"
SIMULATED_WHATSAPP_NUMBER = "+48500100200"
KEPT = ("vapid_private_key", "vapid_public", "subject")  # never replaced once made


@dataclass(frozen=True, slots=True)
class FakeAddresses:
    """Where the fakes answer this time, and where the server itself does."""

    smtp_port: int
    whatsapp_url: str
    voice_url: str
    push_host: str
    served_url: str


@dataclass(frozen=True, slots=True)
class SimulatedConnectors:
    email: int
    whatsapp: int
    voice: int
    push: int
    vapid_public: str


def ensure_channel_simulators(
    engine: Engine, fakes: FakeAddresses, now: datetime
) -> SimulatedConnectors | None:
    """Creates or re-points the fakes' connectors of the first workspace (None: no
    workspace yet)."""
    with engine.begin() as conn:
        workspace_id = conn.execute(
            select(workspaces.c.id).order_by(workspaces.c.id).limit(1)
        ).scalar()
        if workspace_id is None:
            return None
        wanted: dict[str, tuple[str, dict[str, Any]]] = {
            "simulator-email": ("smtp", {
                "host": "127.0.0.1", "port": fakes.smtp_port, "from": SIMULATED_FROM,
                "tls": "none",
            }),
            "simulator-whatsapp": ("whatsapp_cloud", {
                "base_url": fakes.whatsapp_url, "phone_number_id": "106540352242922",
                "access_token": "simulated-access-token", "app_secret": "simulated-app-secret",
                "verify_token": "simulated-verify-token",
            }),
            "simulator-voice": ("twilio_voice", {
                "base_url": fakes.voice_url, "account_sid": "AC" + "0" * 32,
                "auth_token": "simulator-twilio-token", "sender": SIMULATED_WHATSAPP_NUMBER,
                "callback_base_url": fakes.served_url,
            }),
            "simulator-push": ("webpush", {
                "subject": "mailto:shop@smscast.test", "endpoint_hosts": fakes.push_host,
            }),
        }  # fmt: skip
        ids: dict[str, int] = {}
        vapid_public = ""
        for name, (kind, settings) in wanted.items():
            found = conn.execute(
                select(connectors.c.id, connectors.c.settings).where(
                    connectors.c.workspace_id == workspace_id, connectors.c.name == name
                )
            ).first()
            old = dict(found.settings or {}) if found is not None else {}
            if kind == "webpush" and not old.get("vapid_private_key"):
                keys = generate_vapid_keys()
                old.update(vapid_private_key=keys.private, vapid_public=keys.public)
            merged = {**old, **{k: v for k, v in settings.items() if k not in KEPT or k not in old}}
            if found is None:
                ids[name] = conn.execute(
                    insert(connectors).values(
                        workspace_id=workspace_id, name=name, kind=kind, settings=merged,
                        rate_per_s=200.0, window=4, enabled=True, created_at=now,
                    ).returning(connectors.c.id)
                ).scalar_one()  # fmt: skip
                record_audit(conn, workspace_id, "smscast", "connector.added", name, {}, now)
            else:
                ids[name] = found.id
                if merged != dict(found.settings or {}):
                    conn.execute(
                        update(connectors).where(connectors.c.id == found.id)
                        .values(settings=merged)
                    )  # fmt: skip
            if kind == "webpush":
                vapid_public = str(merged.get("vapid_public", ""))
        _ensure_number(conn, workspace_id, ids["simulator-whatsapp"], now)
    return SimulatedConnectors(
        ids["simulator-email"], ids["simulator-whatsapp"], ids["simulator-voice"],
        ids["simulator-push"], vapid_public,
    )  # fmt: skip


def _ensure_number(conn: Any, workspace_id: int, connector_id: int, now: datetime) -> None:
    """The WhatsApp fake's business number, so inbound WhatsApp messages are routed."""
    found = conn.execute(
        select(numbers.c.id).where(
            numbers.c.workspace_id == workspace_id,
            numbers.c.number == SIMULATED_WHATSAPP_NUMBER,
        )
    ).first()
    if found is not None:
        return
    country = conn.execute(
        select(workspaces.c.country).where(workspaces.c.id == workspace_id)
    ).scalar_one()
    conn.execute(
        insert(numbers).values(
            workspace_id=workspace_id, number=SIMULATED_WHATSAPP_NUMBER, kind="long",
            country=country, connector_id=connector_id, smart_encoding=False, settings={},
            created_at=now,
        )
    )  # fmt: skip
