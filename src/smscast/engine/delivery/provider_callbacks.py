"""Carrier callbacks (Twilio, Infobip, Kannel): verified, logged, turned into events.

Each callback names its connector in the URL; the connector's own settings hold
the secret that proves the carrier sent it. A forged or malformed callback is
refused (`WebhookRejected`, HTTP 403) and kept in the connector log with the
reason, so an operator sees attempts; a genuine one becomes delivery reports for
`reports.apply_reports` or inbound texts for `inbound.handle_inbound`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy import Engine

from smscast.channels.base import DeliveryReport, InboundMessage, LogEntry
from smscast.channels.providers.infobip import (
    check_infobip_request,
    parse_infobip_inbound,
    parse_infobip_reports,
)
from smscast.channels.providers.kannel import parse_kannel_dlr
from smscast.channels.providers.twilio import (
    check_twilio_signature,
    parse_twilio_inbound,
    parse_twilio_status_callback,
)
from smscast.channels.providers.webhooks import WebhookRejected, header_value
from smscast.config import Settings
from smscast.core.errors import UserError
from smscast.engine.delivery.reports import apply_reports
from smscast.engine.inbound.receive import handle_inbound
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


@dataclass(frozen=True, slots=True)
class CallbackResult:
    reports: int = 0
    inbound: int = 0
    problems: tuple[str, ...] = ()


def _connector(engine: Engine, connector_id: int, kind: str) -> ConnectorRow:
    with engine.connect() as conn:
        row = load_connector(conn, connector_id)
    if row is None or row.kind != kind:
        raise UserError.of(
            "unknown_connector", f"no {kind} connector #{connector_id}", field="connector_id"
        )
    return row


def _provider_settings(row: ConnectorRow) -> Any:
    """The carrier's settings of a connector that can verify its callbacks.

    A connector stored without its secret (before adding one was required, or edited
    by hand) would check signatures against an empty key, which anyone can compute:
    such a callback is refused, never verified.
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
    """Keeps the callback in the connector log; the body only, never the headers (secrets)."""
    request = f"{callback.url.split('?')[0]} from {callback.client}\n" + callback.body[
        :MAX_LOGGED
    ].decode("utf-8", errors="replace")
    entry = LogEntry(row.name, kind, request, "", 0.0, now, (), error)
    with engine.begin() as conn:
        record_log_entries(conn, row.id, [entry])


def receive_callback(
    engine: Engine,
    settings: Settings,
    connector_id: int,
    provider: str,
    purpose: str,
    callback: Callback,
    now: datetime,
) -> CallbackResult:
    """Verifies and applies one callback; raises WebhookRejected (logged) when it is forged."""
    row = _connector(engine, connector_id, provider)
    kind = f"webhook.{purpose}"
    try:
        provider_settings = _provider_settings(row)
        reports, inbound, problems = _read(provider, purpose, provider_settings, callback, now)
    except WebhookRejected as rejected:
        _log(engine, row, "webhook.rejected", callback, now, rejected.reason)
        raise
    _log(engine, row, kind, callback, now, "; ".join(problems) or None)
    if reports:
        late = timedelta(hours=settings.dlr_late_window_hours)
        with engine.begin() as conn:
            apply_reports(conn, row.id, reports, now, late)
    for message in inbound:
        handle_inbound(engine, settings, row.id, message)
    return CallbackResult(len(reports), len(inbound), tuple(problems))


def _read(
    provider: str, purpose: str, settings: Any, callback: Callback, now: datetime
) -> tuple[Sequence[DeliveryReport], Sequence[InboundMessage], list[str]]:
    if provider == "twilio":
        pairs = parse_qsl(callback.body.decode("utf-8", errors="replace"), keep_blank_values=True)
        url = callback.url
        if purpose == "report" and settings.status_callback_url:
            url = settings.status_callback_url
        signature = header_value(callback.headers, "X-Twilio-Signature")
        check_twilio_signature(settings.auth_token, url, pairs, signature)
        form = dict(pairs)
        if purpose == "report":
            return [parse_twilio_status_callback(form)], [], []
        return [], [parse_twilio_inbound(form, now)], []
    if provider == "infobip":
        check_infobip_request(settings, callback.headers)
        if purpose == "report":
            push = parse_infobip_reports(callback.body)
            return push.items, [], push.problems
        inbound_push = parse_infobip_inbound(callback.body)
        return [], inbound_push.items, inbound_push.problems
    report = parse_kannel_dlr(settings.dlr_secret, settings.name, callback.query)
    return [report], [], []
