"""Voice call callbacks (Twilio, Infobip): verified, logged, turned into reports and opt-outs.

As for SMS callbacks (`provider_callbacks`), each names its connector in the URL and is
proved by that connector's own secret; a forged or malformed one is refused
(`WebhookRejected`, HTTP 403) and kept in the connector log with the reason. A genuine
one becomes the call's delivery report (answered: delivered; busy, no answer, failed:
undelivered with that reason) and, when the person pressed the opt-out digit, an
opt-out of voice for the called number (`address_gone`), written in one transaction.
A Twilio digit callback is answered with the TwiML Twilio plays next.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sqlalchemy import Engine

from smscast.channels.base import AddressGone, DeliveryReport
from smscast.channels.providers.infobip import check_infobip_request
from smscast.channels.providers.twilio import check_twilio_signature
from smscast.channels.providers.webhooks import WebhookRejected, header_value
from smscast.channels.voice.common import public_url
from smscast.channels.voice.infobip_voice import parse_voice_reports
from smscast.channels.voice.twilio_voice import parse_call_status, parse_gather
from smscast.config import Settings
from smscast.core.errors import UserError
from smscast.engine.delivery.address_gone import record_addresses_gone
from smscast.engine.delivery.callback_checks import (
    Callback,
    callback_connector,
    log_callback,
    verifying_settings,
)
from smscast.engine.delivery.reports import apply_reports

MAX_LOGGED = 2000
#: The callbacks each kind makes: Twilio's call status and digit, Infobip's report push.
PURPOSES = {"twilio_voice": ("status", "gather"), "infobip_voice": ("reports",)}


@dataclass(frozen=True, slots=True)
class VoiceCallbackResult:
    reports: int = 0
    opt_outs: int = 0
    problems: tuple[str, ...] = ()
    twiml: str = ""  # what Twilio plays next, for a digit callback


def receive_voice_callback(
    engine: Engine,
    settings: Settings,
    connector_id: int,
    kind: str,
    purpose: str,
    callback: Callback,
    now: datetime,
) -> VoiceCallbackResult:
    """Verifies and applies one callback; raises WebhookRejected (logged) when it is forged."""
    if purpose not in PURPOSES.get(kind, ()):
        raise UserError.of("unknown_callback", f"{kind} makes no {purpose} callback")
    row = callback_connector(engine, connector_id, kind)
    try:
        voice = verifying_settings(row, connector_id=row.id)
        reports, gone, problems, twiml = _read(kind, purpose, voice, callback, now)
    except WebhookRejected as rejected:
        log_callback(engine, row, "webhook.rejected", callback, now, rejected.reason)
        raise
    log_callback(engine, row, f"webhook.{purpose}", callback, now, "; ".join(problems) or None)
    if reports or gone:
        late = timedelta(hours=settings.dlr_late_window_hours)
        with engine.begin() as conn:
            if reports:
                apply_reports(conn, row.id, reports, now, late)
            if gone:  # after the report, as the event pump does
                record_addresses_gone(conn, row.workspace_id, row.id, gone, now)
    return VoiceCallbackResult(len(reports), len(gone), tuple(problems), twiml)


def _read(
    kind: str, purpose: str, voice: Any, callback: Callback, now: datetime
) -> tuple[list[DeliveryReport], list[AddressGone], list[str], str]:
    if kind == "infobip_voice":
        check_infobip_request(voice, callback.headers, kind)
        push = parse_voice_reports(voice, callback.body, now)
        return push.reports, push.gone, push.problems, ""
    pairs = parse_qsl(callback.body.decode("utf-8", errors="replace"), keep_blank_values=True)
    signature = header_value(callback.headers, "X-Twilio-Signature")
    signed_url = public_url(voice.callback_base_url, callback.url)
    check_twilio_signature(voice.auth_token, signed_url, pairs, signature)
    form = dict(pairs)
    query = dict(parse_qsl(urlsplit(callback.url).query))
    if purpose == "status":
        return [parse_call_status(form, query)], [], [], ""
    pressed = parse_gather(voice, form, query, now)
    gone = [pressed.gone] if pressed.gone is not None else []
    return [], gone, [], pressed.answer
