"""WhatsApp callbacks (Cloud API, Infobip): verified, logged, turned into events.

As for SMS carriers (`provider_callbacks`), each callback names its connector in the
URL and the connector's settings hold what proves the provider sent it: the Cloud
API's app secret (the HMAC key of X-Hub-Signature-256) and verify token (the GET
handshake Meta makes once when the URL is set), Infobip's shared secret. A forged or
malformed callback is refused (`WebhookRejected`, HTTP 403) and kept in the connector
log with the reason; a genuine one becomes delivery reports for `apply_reports` and
inbound messages (channel "whatsapp") for `handle_inbound`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from smscast.channels.base import DeliveryReport, InboundMessage, LogEntry
from smscast.channels.providers.infobip import check_infobip_request
from smscast.channels.providers.webhooks import WebhookRejected, header_value
from smscast.channels.whatsapp.webhooks import (
    SIGNATURE_HEADER,
    check_cloud_signature,
    check_subscription,
    parse_cloud_webhook,
    parse_infobip_whatsapp_inbound,
    parse_infobip_whatsapp_reports,
)
from smscast.config import Settings
from smscast.core.errors import UserError
from smscast.engine.delivery.provider_callbacks import Callback, CallbackResult
from smscast.engine.delivery.reports import apply_reports
from smscast.engine.inbound.receive import handle_inbound
from smscast.engine.sending.connector_log import record_log_entries
from smscast.engine.sending.connectors import (
    HTTP_KINDS,
    ConnectorRow,
    callback_secret_missing,
    load_connector,
)

CLOUD = "whatsapp_cloud"
INFOBIP = "infobip_whatsapp"
MAX_LOGGED = 2000


def verify_cloud_subscription(
    engine: Engine, connector_id: int, callback: Callback, now: datetime
) -> str:
    """Meta's GET handshake: the challenge to echo when the verify token is the
    connector's; WebhookRejected (logged) otherwise."""
    row = _connector(engine, connector_id, CLOUD)
    try:
        settings = _settings(row)
        challenge = check_subscription(settings.verify_token, callback.query)
    except WebhookRejected as rejected:
        _log(engine, row, "webhook.rejected", callback, now, rejected.reason)
        raise
    _log(engine, row, "webhook.verify", callback, now, None)
    return challenge


def receive_whatsapp_callback(
    engine: Engine,
    settings: Settings,
    connector_id: int,
    provider: str,
    purpose: str,
    callback: Callback,
    now: datetime,
) -> CallbackResult:
    """Verifies and applies one push; raises WebhookRejected (logged) when it is forged.

    `provider` is the connector kind; `purpose` is "events" for the Cloud API (one URL
    carries statuses and messages) and "report" or "inbound" for Infobip.
    """
    row = _connector(engine, connector_id, provider)
    try:
        reports, inbound, problems = _read(provider, purpose, _settings(row), callback)
    except WebhookRejected as rejected:
        _log(engine, row, "webhook.rejected", callback, now, rejected.reason)
        raise
    _log(engine, row, f"webhook.{purpose}", callback, now, "; ".join(problems) or None)
    if reports:
        late = timedelta(hours=settings.dlr_late_window_hours)
        with engine.begin() as conn:
            apply_reports(conn, row.id, reports, now, late)
    for message in inbound:
        handle_inbound(engine, settings, row.id, message)
    return CallbackResult(len(reports), len(inbound), tuple(problems))


def _read(
    provider: str, purpose: str, settings: Any, callback: Callback
) -> tuple[Sequence[DeliveryReport], Sequence[InboundMessage], list[str]]:
    if provider == CLOUD:
        signature = header_value(callback.headers, SIGNATURE_HEADER)
        check_cloud_signature(settings.app_secret, callback.body, signature)
        events = parse_cloud_webhook(callback.body, settings.phone_number_id)
        return events.reports, events.inbound, events.problems
    check_infobip_request(settings, callback.headers)
    if purpose == "report":
        push = parse_infobip_whatsapp_reports(callback.body)
        return push.items, [], push.problems
    inbound = parse_infobip_whatsapp_inbound(callback.body)
    return [], inbound.items, inbound.problems


def _connector(engine: Engine, connector_id: int, kind: str) -> ConnectorRow:
    with engine.connect() as conn:
        row = load_connector(conn, connector_id)
    if row is None or row.kind != kind:
        raise UserError.of(
            "unknown_connector", f"no {kind} connector #{connector_id}", field="connector_id"
        )
    return row


def _settings(row: ConnectorRow) -> Any:
    """The provider settings of a connector that can verify its callbacks.

    A connector stored without its secret would check signatures against an empty
    key, which anyone can compute: its callbacks are refused, never verified.
    """
    missing = callback_secret_missing(row.kind, row.settings)
    if missing is not None:
        raise WebhookRejected(
            row.kind, f"connector {row.name!r} has no {missing}, so no callback can be verified"
        )
    settings_class = HTTP_KINDS[row.kind][0]
    known = {f.name for f in dataclasses.fields(settings_class)}
    values = {k: v for k, v in row.settings.items() if k in known}
    try:
        return settings_class(**{**values, "name": row.name})
    except TypeError as error:
        raise WebhookRejected(row.kind, f"connector {row.name!r} settings: {error}") from None


def _log(
    engine: Engine,
    row: ConnectorRow,
    kind: str,
    callback: Callback,
    now: datetime,
    error: str | None,
) -> None:
    """Keeps the callback in the connector log: the body, never the headers (secrets);
    for the handshake, the query without the verify token."""
    shown: Mapping[str, str] = {
        k: ("[redacted]" if k == "hub.verify_token" else v) for k, v in callback.query.items()
    }
    where = callback.url.split("?")[0]
    if shown:
        where += "?" + "&".join(f"{k}={v}" for k, v in shown.items())
    body = callback.body[:MAX_LOGGED].decode("utf-8", errors="replace")
    entry = LogEntry(row.name, kind, f"{where} from {callback.client}\n{body}", "", 0.0, now,
                     (), error)  # fmt: skip
    with engine.begin() as conn:
        record_log_entries(conn, row.id, [entry])
