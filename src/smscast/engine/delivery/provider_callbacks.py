"""Carrier callbacks (Twilio, Infobip, Kannel): verified, logged, turned into events.

Each callback names its connector in the URL; the connector's own settings hold
the secret that proves the carrier sent it. A forged or malformed callback is
refused (`WebhookRejected`, HTTP 403) and kept in the connector log with the
reason, so an operator sees attempts; a genuine one becomes delivery reports for
`reports.apply_reports` or inbound texts for `inbound.handle_inbound`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy import Engine

from smscast.channels.base import DeliveryReport, InboundMessage
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
from smscast.engine.delivery.callback_checks import (
    Callback,
    callback_connector,
    log_callback,
    verifying_settings,
)
from smscast.engine.delivery.reports import apply_reports
from smscast.engine.inbound.receive import handle_inbound


@dataclass(frozen=True, slots=True)
class CallbackResult:
    reports: int = 0
    inbound: int = 0
    problems: tuple[str, ...] = ()


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
    row = callback_connector(engine, connector_id, provider)
    kind = f"webhook.{purpose}"
    try:
        provider_settings = verifying_settings(row)
        reports, inbound, problems = _read(provider, purpose, provider_settings, callback, now)
    except WebhookRejected as rejected:
        log_callback(engine, row, "webhook.rejected", callback, now, rejected.reason)
        raise
    log_callback(engine, row, kind, callback, now, "; ".join(problems) or None)
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
