"""Text-to-speech calls through Infobip's voice message API, and the reports it pushes.

Calls go out up to `batch_size` per request to `/tts/3/advanced` ("send advanced voice
message"): each with its text (the message, then which digit stops these calls), the
contact's language and voice, our ref as `callbackData` and our reports hook as
`notifyUrl`, and `maxDtmf` 1 so the call collects one digit. Infobip answers with one
entry per destination in request order (its `messageId` is our carrier id); when the
call ends it pushes a delivery report with the status (answered, or why not) and the
digits pressed (`dtmfCodes`). Infobip's voice message cannot speak a confirmation
after the digit: the opt-out is recorded when that report arrives.

Pushes are authenticated with the shared secret, as for Infobip SMS.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

from smscast.channels.base import (
    AddressGone,
    DeliveryReport,
    GoneReason,
    OutgoingMessage,
    ReportState,
    SubmitOutcome,
    SubmitResult,
)
from smscast.channels.providers.http_base import HttpConnector, Unsendable
from smscast.channels.providers.infobip import read_answers
from smscast.channels.providers.webhooks import (
    WebhookRejected,
    parse_carrier_time,
)
from smscast.channels.voice.common import E164, VoiceSettings

KIND = "infobip_voice"
MAX_TEXT = 1400  # characters of text Infobip speaks in one voice message


@dataclass(frozen=True, slots=True, kw_only=True)
class InfobipVoiceSettings(VoiceSettings):
    """One Infobip account that places our calls."""

    name: str = "infobip_voice"
    base_url: str
    api_key: str
    batch_size: int = 100  # calls per request
    webhook_secret: str = ""  # what Infobip must present on every push to us
    webhook_auth: Literal["header", "basic"] = "header"
    webhook_header: str = "X-Smscast-Secret"
    webhook_username: str = "infobip"


class InfobipVoiceConnector(HttpConnector[InfobipVoiceSettings]):
    """Places calls through Infobip's advanced voice message API, many per request."""

    carrier = "Infobip"

    def secrets(self) -> tuple[str, ...]:
        return (self.settings.api_key,)

    def client_options(self) -> dict[str, object]:
        return {"headers": {"Authorization": f"App {self.settings.api_key}"}}

    async def start(self) -> None:
        self.settings.check_callbacks()
        await super().start()

    def group(self, batch: Sequence[OutgoingMessage]) -> list[list[OutgoingMessage]]:
        size = max(1, self.settings.batch_size)
        return [list(batch[start : start + size]) for start in range(0, len(batch), size)]

    def check_sendable(self, message: OutgoingMessage) -> None:
        super().check_sendable(message)
        if not E164.match(message.recipient):
            raise Unsendable(f"{message.recipient!r} is not a phone number in E.164 to call")
        if len(spoken_text(self.settings, message)) > MAX_TEXT:
            raise Unsendable(f"the call's text is over Infobip's {MAX_TEXT} characters")

    def build_request(
        self, client: httpx.AsyncClient, messages: Sequence[OutgoingMessage]
    ) -> httpx.Request:
        return client.build_request(
            "POST",
            "/tts/3/advanced",
            json={"messages": [self._message(message) for message in messages]},
            headers={"Accept": "application/json"},
        )

    def _message(self, message: OutgoingMessage) -> dict[str, object]:
        settings = self.settings
        speech = settings.speech(message)
        entry: dict[str, object] = {
            "from": (message.sender or settings.sender).removeprefix("+"),
            "destinations": [{"to": message.recipient.removeprefix("+")}],
            "text": spoken_text(settings, message),
            "language": speech.infobip_language,
            "voice": {"name": speech.voice, "gender": speech.gender},
            "callbackData": str(message.ref),
            "ringTimeout": settings.ring_timeout_s,
        }
        if settings.callback_base_url:
            entry["notifyUrl"] = settings.hook_url(KIND, "reports")
            entry["notifyContentType"] = "application/json"
            if settings.opt_out_prompt:
                entry["maxDtmf"] = 1
                entry["dtmfTimeout"] = settings.digit_timeout_s
        if message.valid_until is not None:
            minutes = (message.valid_until - datetime.now(UTC)).total_seconds() // 60
            entry["validityPeriod"] = max(1, int(minutes))
        return entry

    def read_response(
        self, messages: Sequence[OutgoingMessage], response: httpx.Response
    ) -> list[SubmitResult]:
        return read_answers(messages, response, _result, "call")


def spoken_text(settings: VoiceSettings, message: OutgoingMessage) -> str:
    """The message, then (when a report can bring the digit back) how to opt out."""
    if not (settings.callback_base_url and settings.opt_out_prompt):
        return message.text
    prompt = settings.speech(message).opt_out_prompt(settings.opt_out_digit)
    return f"{message.text.rstrip()} {prompt}"


def _result(message: OutgoingMessage, answer: object) -> SubmitResult:
    if not isinstance(answer, dict):
        return SubmitResult(message.ref, SubmitOutcome.UNKNOWN, error="no status for it")
    status = answer.get("status")
    status = status if isinstance(status, dict) else {}
    group = str(status.get("groupName", ""))
    message_id = answer.get("messageId")
    ids = (str(message_id),) if message_id else ()
    if group in ("PENDING", "DELIVERED") and ids:
        return SubmitResult(message.ref, SubmitOutcome.ACCEPTED, carrier_ids=ids)
    name = str(status.get("name", group or "no status"))
    return SubmitResult(
        message.ref,
        SubmitOutcome.PERMANENT if group and group != "PENDING" else SubmitOutcome.UNKNOWN,
        carrier_ids=ids,
        error_code=name,
        error=f"Infobip {group or 'answer'}: {status.get('description') or name}",
    )


# -- pushes ------------------------------------------------------------------------------


_STATES = {
    "DELIVERED": ReportState.DELIVERED,  # answered
    "UNDELIVERABLE": ReportState.UNDELIVERED,  # not answered, busy, …: error says which
    "EXPIRED": ReportState.EXPIRED,
    "REJECTED": ReportState.REJECTED,
    "PENDING": ReportState.ACCEPTED,
}


@dataclass(frozen=True, slots=True)
class VoicePush:
    """What one push said: reports, opt-outs by digit, and the entries that were bad."""

    reports: list[DeliveryReport] = field(default_factory=list)
    gone: list[AddressGone] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def parse_voice_reports(settings: VoiceSettings, payload: bytes, now: datetime) -> VoicePush:
    """A delivery report push (already authenticated): one report per call, and an
    opt-out of voice for each call in which the opt-out digit was pressed."""
    try:
        document = json.loads(payload)
    except ValueError as exc:
        raise WebhookRejected(KIND, f"body is not JSON: {exc}") from exc
    results = document.get("results") if isinstance(document, dict) else None
    if not isinstance(results, list):
        raise WebhookRejected(KIND, "body has no 'results' list")
    push = VoicePush()
    for index, entry in enumerate(results):
        try:
            report, gone = _report(settings, entry, now)
        except WebhookRejected as exc:
            push.problems.append(f"results[{index}]: {exc.reason}")
            continue
        push.reports.append(report)
        if gone is not None:
            push.gone.append(gone)
    return push


def _text(entry: Mapping[str, Any], name: str) -> str:
    value = entry.get(name)
    if value is None or value == "":
        raise WebhookRejected(KIND, f"field {name!r} is missing")
    return str(value)


def _report(
    settings: VoiceSettings, entry: object, now: datetime
) -> tuple[DeliveryReport, AddressGone | None]:
    if not isinstance(entry, dict):
        raise WebhookRejected(KIND, "entry is not an object")
    message_id = _text(entry, "messageId")
    status = entry.get("status")
    group = status.get("groupName") if isinstance(status, dict) else None
    if not group:
        raise WebhookRejected(KIND, "field 'status.groupName' is missing")
    state = _STATES.get(str(group), ReportState.UNKNOWN)
    error = entry.get("error")
    error_code = None
    if state != ReportState.DELIVERED and isinstance(error, dict):
        error_code = str(error.get("name") or error.get("id") or "") or None
    callback = str(entry.get("callbackData") or "")
    ref = int(callback) if callback.isdigit() else None
    done_at = entry.get("doneAt")
    report = DeliveryReport(
        carrier_id=message_id,
        state=state,
        ref=ref,
        error_code=error_code,
        done_at=parse_carrier_time(KIND, "doneAt", str(done_at)) if done_at else None,
        raw=json.dumps(entry, ensure_ascii=False),
    )
    codes = str(entry.get("dtmfCodes") or "").strip()
    if codes[:1] != settings.opt_out_digit:
        return report, None
    to = _text(entry, "to")
    gone = AddressGone(
        channel="voice",
        address=to if to.startswith("+") else f"+{to}",
        reason=GoneReason.OPT_OUT,
        detail=f"pressed {codes[:1]} in call {message_id}",
        ref=ref,
        carrier_id=message_id,
        at=report.done_at or now,
    )
    return report, gone
