"""Connector rows: adding and listing them, and building the live connector from one.

A row says what kind of carrier connection it is (`smpp`, `twilio`, `infobip`,
`kannel` for SMS; the other channels' kinds come from their packages under `channels/`,
see `core.channels.KINDS_OF_CHANNEL`), its `settings` (the fields of that kind's
settings class), and the limits every kind shares: `rate_per_s` (parts, or messages,
per second) and `window` (SMPP submits awaiting an answer; elsewhere, requests or
connections in flight).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from smscast.channels import email as email_channel
from smscast.channels import push as push_channel
from smscast.channels import voice as voice_channel
from smscast.channels import whatsapp as whatsapp_channel
from smscast.channels.base import Connector, ConnectorState
from smscast.channels.http_log import is_secret_name
from smscast.channels.providers.infobip import InfobipConnector, InfobipSettings
from smscast.channels.providers.kannel import KannelConnector, KannelSettings
from smscast.channels.providers.twilio import TwilioConnector, TwilioSettings
from smscast.channels.smpp.binds import smpp_connector
from smscast.channels.smpp.settings import SmppSettings
from smscast.core.errors import UserError
from smscast.engine.accounts.audit import record_audit
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.store.dispatch_models import ConnectorStateRow
from smscast.store.messaging_models import Connector as ConnectorModel
from smscast.store.messaging_models import Number
from smscast.store.models import Workspace, table_of

connectors = table_of(ConnectorModel)
connector_states = table_of(ConnectorStateRow)
numbers = table_of(Number)
workspaces = table_of(Workspace)
CHANNEL_PACKAGES = (email_channel, whatsapp_channel, push_channel, voice_channel)
#: Every kind built from a settings dataclass (all but SMPP): its settings and connector.
HTTP_KINDS: dict[str, tuple[type[Any], type[Any]]] = {
    "twilio": (TwilioSettings, TwilioConnector),
    "infobip": (InfobipSettings, InfobipConnector),
    "kannel": (KannelSettings, KannelConnector),
    **{kind: pair for package in CHANNEL_PACKAGES for kind, pair in package.KINDS.items()},
}
KINDS = ("smpp", *HTTP_KINDS)
# The setting that proves a callback to /hooks/<kind>/<id>/… came from the carrier, and
# why it is needed: the HMAC key of Twilio's signature, the shared secret Infobip
# presents, the key of the per-message token in Kannel's dlr-url. Empty, it proves
# nothing: anyone can compute an HMAC with an empty key.
CALLBACK_SECRET_WHY: dict[str, tuple[str, str]] = {
    "twilio": ("auth_token", "Twilio signs every callback with it"),
    "infobip": ("webhook_secret", "Infobip must present it on every push"),
    "kannel": ("dlr_secret", "it makes the token each delivery report must carry"),
    **{
        kind: pair
        for package in CHANNEL_PACKAGES
        for kind, pair in package.CALLBACK_SECRETS.items()
    },
}
CALLBACK_SECRETS = {kind: name for kind, (name, _) in CALLBACK_SECRET_WHY.items()}
SECRET_SHOWN = "[redacted]"


@dataclass(frozen=True, slots=True)
class ConnectorRow:
    id: int
    workspace_id: int
    name: str
    kind: str
    settings: dict[str, Any]
    rate_per_s: float
    window: int
    enabled: bool


def build_connector(row: ConnectorRow, *, bind_mode: str | None = None) -> Connector:
    """The live connector a row describes; a UserError names what in it is wrong.

    `bind_mode` binds an SMPP connector otherwise than configured: a worker holding
    only one side of it (`smscast worker --role transmit|receive`) binds as that side.
    """
    settings = dict(row.settings)
    try:
        if row.kind == "smpp":
            values = {**settings, "name": row.name, "window": row.window, "rate": row.rate_per_s}
            if bind_mode is not None:
                values["bind_mode"] = bind_mode
            smpp = SmppSettings.from_mapping(values)
            return smpp_connector(smpp)
        if row.kind in HTTP_KINDS:
            settings_class, connector_class = HTTP_KINDS[row.kind]
            known = {f.name for f in dataclasses.fields(settings_class)}
            unknown = sorted(set(settings) - known)
            if unknown:
                raise ValueError(f"{row.kind} settings: unknown key(s) {', '.join(unknown)}")
            values = {**settings, "name": row.name, "rate": row.rate_per_s}
            values["concurrency"] = row.window
            if "connector_id" in known:  # its callback URLs name it; nobody types it
                values["connector_id"] = row.id
            connector: Connector = connector_class(settings_class(**values))
            return connector
    except (TypeError, ValueError) as error:
        raise UserError.of(
            "bad_connector_settings", f"connector {row.name!r}: {error}", field="settings"
        ) from None
    raise UserError.of(
        "unknown_connector_kind",
        f"connector {row.name!r}: kind {row.kind!r} is not one of {', '.join(KINDS)}",
        field="kind",
    )


def callback_secret_missing(kind: str, settings: dict[str, Any]) -> str | None:
    """The name of the callback secret a connector lacks (empty or not text), else None."""
    name = CALLBACK_SECRETS.get(kind)
    if name is None:
        return None
    value = settings.get(name)
    return name if not isinstance(value, str) or not value.strip() else None


def check_callback_secret(kind: str, settings: dict[str, Any]) -> None:
    """Refuses a connector whose callbacks could be forged for want of a secret.

    Twilio and Infobip call us back whatever we ask (status callbacks, inbound pushes
    set in their console), so their secret is always needed; Kannel only calls the
    dlr-url we hand it, so its secret is needed once a `dlr_url` is set.
    """
    name = callback_secret_missing(kind, settings)
    if name is None or (kind == "kannel" and not settings.get("dlr_url")):
        return
    why = CALLBACK_SECRET_WHY[kind][1]
    raise UserError.of(
        "missing_callback_secret",
        f"settings.{name}: a {kind} connector needs a non-empty {name} ({why}); "
        "without it anyone could forge delivery reports and inbound texts",
        field=f"settings.{name}",
    )


def redacted_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings as the API and CLI show them: every secret-named value blanked.

    Secrets go in (add, update) and never come back out, not even to their owner.
    """
    return {
        key: SECRET_SHOWN if _is_secret(key) and value not in ("", None) else value
        for key, value in settings.items()
    }


def _is_secret(key: str) -> bool:
    """A credential by name: the log's list, and any *_secret, *_token, *password, *_key."""
    plain = key.lower().replace("-", "").replace("_", "")
    return is_secret_name(key) or plain.endswith(("secret", "token", "password", "key"))


def load_connector(conn: Connection, connector_id: int) -> ConnectorRow | None:
    row = conn.execute(select(connectors).where(connectors.c.id == connector_id)).first()
    if row is None:
        return None
    return ConnectorRow(
        row.id,
        row.workspace_id,
        row.name,
        row.kind,
        dict(row.settings or {}),
        float(row.rate_per_s),
        int(row.window),
        bool(row.enabled),
    )


def workspace_connector(
    conn: Connection, workspace: WorkspaceRef, connector_id: int
) -> ConnectorRow:
    """The workspace's connector `connector_id`; another workspace's is as unknown as none."""
    row = load_connector(conn, connector_id)
    if row is None or row.workspace_id != workspace.id:
        raise UserError.of(
            "unknown_connector", f"no connector #{connector_id}", field="connector_id"
        )
    return row


def merged_settings(stored: dict[str, Any], changes: dict[str, Any] | None) -> dict[str, Any]:
    """`changes` over the stored settings, a key set to None removed: secrets are never
    shown, so a change (or a connection test) need not, and cannot, send them again."""
    merged = dict(stored)
    for key, value in (changes or {}).items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def add_connector(
    engine: Engine,
    workspace: WorkspaceRef,
    *,
    name: str,
    kind: str,
    settings: dict[str, Any],
    rate_per_s: float,
    window: int,
    actor: str,
    now: datetime,
) -> ConnectorRow:
    """Adds a connector after checking that its settings make a working connector."""
    name = name.strip()
    if not name:
        raise UserError.of("empty_name", "a connector needs a name", field="name")
    candidate = ConnectorRow(0, workspace.id, name, kind, settings, rate_per_s, window, True)
    _check_row(candidate)
    with engine.begin() as conn:
        taken = conn.execute(
            select(connectors.c.id).where(
                connectors.c.workspace_id == workspace.id, connectors.c.name == name
            )
        ).first()
        if taken:
            raise UserError.of(
                "connector_exists", f'a connector named "{name}" already exists', field="name"
            )
        connector_id = conn.execute(
            insert(connectors)
            .values(
                workspace_id=workspace.id,
                name=name,
                kind=kind,
                settings=settings,
                rate_per_s=rate_per_s,
                window=window,
                enabled=True,
                created_at=now,
            )
            .returning(connectors.c.id)
        ).scalar_one()
        record_audit(conn, workspace.id, actor, "connector.added", name, {"kind": kind}, now)
    return dataclasses.replace(candidate, id=connector_id)


def _check_row(row: ConnectorRow) -> None:
    """What add and update both refuse: bad limits, settings, or a missing callback secret."""
    if row.rate_per_s < 0:
        raise UserError.of(
            "bad_rate", f"rate {row.rate_per_s} must be 0 (no limit) or more", field="rate"
        )
    if not 1 <= row.window <= 65535:
        raise UserError.of("bad_window", f"window {row.window} must be 1-65535", field="window")
    check_callback_secret(row.kind, row.settings)
    build_connector(row)


def update_connector(
    engine: Engine,
    workspace: WorkspaceRef,
    connector_id: int,
    *,
    settings: dict[str, Any] | None = None,
    rate_per_s: float | None = None,
    window: int | None = None,
    enabled: bool | None = None,
    actor: str,
    now: datetime,
) -> ConnectorRow:
    """Changes a connector's settings, limits or whether it sends, checked as when added.

    `settings` is merged into the stored ones (a key set to None is removed): secrets are
    never shown, so a caller changing the sender need not, and cannot, send them again.
    A worker holding the connector picks the change up when it next loads it.
    """
    with engine.begin() as conn:
        row = workspace_connector(conn, workspace, connector_id)
        changed = dataclasses.replace(
            row,
            settings=merged_settings(row.settings, settings),
            rate_per_s=row.rate_per_s if rate_per_s is None else rate_per_s,
            window=row.window if window is None else window,
            enabled=row.enabled if enabled is None else enabled,
        )
        _check_row(changed)
        conn.execute(
            update(connectors)
            .where(connectors.c.id == connector_id)
            .values(
                settings=changed.settings,
                rate_per_s=changed.rate_per_s,
                window=changed.window,
                enabled=changed.enabled,
            )
        )
        what = {
            "settings": sorted((settings or {}).keys()),
            **({"rate_per_s": rate_per_s} if rate_per_s is not None else {}),
            **({"window": window} if window is not None else {}),
            **({"enabled": enabled} if enabled is not None else {}),
        }
        record_audit(conn, workspace.id, actor, "connector.updated", row.name, what, now)
    return changed


def list_connectors(conn: Connection, workspace_id: int | None = None) -> list[dict[str, Any]]:
    """Connectors with their lease and the last state their worker reported."""
    query = (
        select(connectors, connector_states)
        .join(
            connector_states,
            connector_states.c.connector_id == connectors.c.id,
            isouter=True,
        )
        .order_by(connectors.c.id)
    )
    if workspace_id is not None:
        query = query.where(connectors.c.workspace_id == workspace_id)
    out = []
    for row in conn.execute(query):
        out.append(
            {
                "id": row.id,
                "name": row.name,
                "kind": row.kind,
                "settings": redacted_settings(dict(row.settings or {})),
                "rate_per_s": float(row.rate_per_s),
                "window": row.window,
                "enabled": bool(row.enabled),
                "held_by": row.lease_owner,
                "lease_until": row.lease_until,
                # The receiving side's holder: the same worker, or a `receive` worker
                # (which says how its connection is in the two keys after).
                "received_by": row.receive_owner,
                "receive_until": row.receive_until,
                "receive_connected": row.receive_connected,
                "receive_detail": row.receive_detail or "",
                "connected": bool(row.connected) if row.worker else None,
                "detail": row.detail or "",
                "in_flight": row.in_flight or 0,
                "sent_per_s": float(row.sent_per_s or 0.0),
                "last_errors": list(row.last_errors or []),
                "state_at": row.updated_at,
            }
        )
    return out


def write_states(
    conn: Connection, worker: str, states: list[tuple[int, ConnectorState]], now: datetime
) -> None:
    """Upserts what this worker sees of the connectors it holds."""
    if not states:
        return
    ids = [connector_id for connector_id, _ in states]
    conn.execute(connector_states.delete().where(connector_states.c.connector_id.in_(ids)))
    conn.execute(
        insert(connector_states),
        [
            {
                "connector_id": connector_id,
                "worker": worker,
                "connected": state.connected,
                "detail": state.detail[:2000],
                "in_flight": state.in_flight,
                "sent_per_s": state.sent_per_s,
                "last_errors": [e[:500] for e in state.last_errors],
                "updated_at": now,
            }
            for connector_id, state in states
        ],
    )


SIMULATOR_CONNECTOR = "simulator"
SIMULATOR_NUMBER = "4000"


def ensure_simulator_connector(engine: Engine, port: int, now: datetime) -> int | None:
    """Gives the first workspace a connector to the built-in simulator and a sender number,
    so a new installation can send at once; returns the connector id (None: no workspace).

    An existing "simulator" connector is pointed at `port` if that changed.
    """
    with engine.begin() as conn:
        workspace_id = conn.execute(
            select(workspaces.c.id).order_by(workspaces.c.id).limit(1)
        ).scalar()
        if workspace_id is None:
            return None
        found = conn.execute(
            select(connectors.c.id, connectors.c.settings).where(
                connectors.c.workspace_id == workspace_id,
                connectors.c.name == SIMULATOR_CONNECTOR,
            )
        ).first()
        settings = {"host": "127.0.0.1", "port": port, "system_id": "smscast"}
        if found is None:
            connector_id = conn.execute(
                insert(connectors)
                .values(
                    workspace_id=workspace_id,
                    name=SIMULATOR_CONNECTOR,
                    kind="smpp",
                    settings=settings,
                    rate_per_s=1000.0,
                    window=100,
                    enabled=True,
                    created_at=now,
                )
                .returning(connectors.c.id)
            ).scalar_one()
            record_audit(
                conn, workspace_id, "smscast", "connector.added", SIMULATOR_CONNECTOR, {}, now
            )
        else:
            connector_id = found.id
            if dict(found.settings or {}).get("port") != port:
                conn.execute(
                    update(connectors)
                    .where(connectors.c.id == connector_id)
                    .values(settings={**dict(found.settings or {}), "port": port})
                )
        has_number = conn.execute(
            select(numbers.c.id).where(numbers.c.workspace_id == workspace_id).limit(1)
        ).first()
        if has_number is None:
            country = conn.execute(
                select(workspaces.c.country).where(workspaces.c.id == workspace_id)
            ).scalar_one()
            conn.execute(
                insert(numbers).values(
                    workspace_id=workspace_id,
                    number=SIMULATOR_NUMBER,
                    kind="short",
                    country=country,
                    connector_id=connector_id,
                    smart_encoding=False,
                    settings={},
                    created_at=now,
                )
            )
    return int(connector_id)
