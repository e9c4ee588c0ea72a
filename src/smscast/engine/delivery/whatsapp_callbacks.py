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

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from smscast.channels.base import DeliveryReport, InboundMessage
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
from smscast.engine.delivery.callback_checks import (
    Callback,
    callback_connector,
    log_callback,
    verifying_settings,
)
from smscast.engine.delivery.provider_callbacks import CallbackResult
from smscast.engine.delivery.reports import apply_reports
from smscast.engine.inbound.receive import handle_inbound

CLOUD = "whatsapp_cloud"
INFOBIP = "infobip_whatsapp"
HANDSHAKE_SECRET = ("hub.verify_token",)  # the only secret Meta puts in a query


def verify_cloud_subscription(
    engine: Engine, connector_id: int, callback: Callback, now: datetime
) -> str:
    """Meta's GET handshake: the challenge to echo when the verify token is the
    connector's; WebhookRejected (logged) otherwise."""
    row = callback_connector(engine, connector_id, CLOUD)
    try:
        settings = verifying_settings(row)
        challenge = check_subscription(settings.verify_token, callback.query)
    except WebhookRejected as rejected:
        log_callback(
            engine,
            row,
            "webhook.rejected",
            callback,
            now,
            rejected.reason,
            query_shown_but=HANDSHAKE_SECRET,
        )
        raise
    log_callback(
        engine, row, "webhook.verify", callback, now, None, query_shown_but=HANDSHAKE_SECRET
    )
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
    row = callback_connector(engine, connector_id, provider)
    try:
        reports, inbound, problems = _read(provider, purpose, verifying_settings(row), callback)
    except WebhookRejected as rejected:
        log_callback(
            engine,
            row,
            "webhook.rejected",
            callback,
            now,
            rejected.reason,
            query_shown_but=HANDSHAKE_SECRET,
        )
        raise
    log_callback(
        engine,
        row,
        f"webhook.{purpose}",
        callback,
        now,
        "; ".join(problems) or None,
        query_shown_but=HANDSHAKE_SECRET,
    )
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
