"""Text-to-speech calls through Twilio's Programmable Voice, and what Twilio tells us back.

One call is one form POST to the Calls resource with the call's TwiML inline: the
message in a `<Say>` with the contact's language and voice, inside a `<Gather>` that
takes one digit and posts it to our gather hook, followed by the sentence saying which
digit stops these calls. Twilio answers with the call's SID (our carrier id), posts the
call's final status (completed, busy, no-answer, failed, canceled) to our status hook,
and the pressed digit to the gather hook, whose TwiML answer it then plays. Every
callback is signed with X-Twilio-Signature, checked before anything in it is believed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

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
from smscast.channels.providers.http_base import Failure, HttpConnector, Unsendable
from smscast.channels.providers.webhooks import WebhookRejected, required
from smscast.channels.voice.common import E164, VoiceSettings
from smscast.channels.voice.speech import Speech

KIND = "twilio_voice"
MAX_TWIML = 4000  # the longest inline Twiml parameter Twilio takes


@dataclass(frozen=True, slots=True, kw_only=True)
class TwilioVoiceSettings(VoiceSettings):
    """One Twilio account (or subaccount) that places our calls."""

    name: str = "twilio_voice"
    base_url: str = "https://api.twilio.com"
    account_sid: str
    auth_token: str


class TwilioVoiceConnector(HttpConnector[TwilioVoiceSettings]):
    """Places one call per message through Twilio's Calls API."""

    carrier = "Twilio"

    def secrets(self) -> tuple[str, ...]:
        return (self.settings.auth_token,)

    def client_options(self) -> dict[str, object]:
        return {"auth": httpx.BasicAuth(self.settings.account_sid, self.settings.auth_token)}

    async def start(self) -> None:
        self.settings.check_callbacks()
        await super().start()

    def check_sendable(self, message: OutgoingMessage) -> None:
        super().check_sendable(message)
        if not E164.match(message.recipient):
            raise Unsendable(f"{message.recipient!r} is not a phone number in E.164 to call")
        if len(call_twiml(self.settings, message)) > MAX_TWIML:
            raise Unsendable(f"the call's TwiML is over Twilio's {MAX_TWIML} characters")

    def build_request(
        self, client: httpx.AsyncClient, messages: Sequence[OutgoingMessage]
    ) -> httpx.Request:
        (message,) = messages
        settings = self.settings
        form = {
            "To": message.recipient,
            "From": message.sender or settings.sender,
            "Twiml": call_twiml(settings, message),
            "Timeout": str(settings.ring_timeout_s),
        }
        if settings.callback_base_url:
            form["StatusCallback"] = settings.hook_url(KIND, "status", ref=str(message.ref))
            form["StatusCallbackMethod"] = "POST"
        path = f"/2010-04-01/Accounts/{settings.account_sid}/Calls.json"
        return client.build_request("POST", path, data=form)

    def read_response(
        self, messages: Sequence[OutgoingMessage], response: httpx.Response
    ) -> list[SubmitResult]:
        (message,) = messages
        try:
            body = response.json()
        except ValueError:
            body = None
        body = body if isinstance(body, dict) else {}
        if response.status_code in (200, 201):
            sid = body.get("sid")
            if isinstance(sid, str) and sid:
                return [SubmitResult(message.ref, SubmitOutcome.ACCEPTED, carrier_ids=(sid,))]
            failure = Failure(
                SubmitOutcome.UNKNOWN,
                f"Twilio answered HTTP {response.status_code} without a call sid",
            )
            return failure.results(messages)
        code = body.get("code")
        text = body.get("message") or response.text[:200].strip()
        failure = Failure(
            SubmitOutcome.PERMANENT,
            f"Twilio error {code}: {text}"
            if code
            else f"Twilio answered HTTP {response.status_code}: {text}",
            error_code=str(code or response.status_code),
        )
        return failure.results(messages)


def call_twiml(settings: TwilioVoiceSettings, message: OutgoingMessage) -> str:
    """The TwiML of one call: the message, then (with callbacks) how to opt out."""
    speech = settings.speech(message)
    root = ET.Element("Response")
    gathers = bool(settings.callback_base_url and settings.opt_out_prompt)
    holder = root
    if gathers:
        action = settings.hook_url(KIND, "gather", ref=str(message.ref), lang=speech.tag)
        holder = ET.SubElement(
            root, "Gather", numDigits="1", action=action, method="POST",
            timeout=str(settings.digit_timeout_s), actionOnEmptyResult="false",
        )  # fmt: skip
    _say(holder, speech, message.text)
    if gathers:
        _say(holder, speech, speech.opt_out_prompt(settings.opt_out_digit))
    return ET.tostring(root, encoding="unicode")


def _say(parent: ET.Element, speech: Speech, text: str) -> None:
    say = ET.SubElement(parent, "Say", language=speech.tag, voice=speech.twilio_voice)
    say.text = text


def gather_answer(speech: Speech | None) -> str:
    """The TwiML Twilio plays after a digit: the confirmation when it opted out, then the end."""
    root = ET.Element("Response")
    if speech is not None:
        _say(root, speech, speech.opt_out_confirmation())
    ET.SubElement(root, "Hangup")
    return ET.tostring(root, encoding="unicode")


# -- callbacks -------------------------------------------------------------------------

_STATES = {
    "queued": ReportState.ACCEPTED,
    "initiated": ReportState.ACCEPTED,
    "ringing": ReportState.ACCEPTED,
    "in-progress": ReportState.DELIVERED,  # answered
    "answered": ReportState.DELIVERED,
    "completed": ReportState.DELIVERED,  # answered, then ended
    "busy": ReportState.UNDELIVERED,
    "no-answer": ReportState.UNDELIVERED,
    "failed": ReportState.UNDELIVERED,
    "canceled": ReportState.UNDELIVERED,
}


def _ref(query: Mapping[str, str]) -> int | None:
    value = query.get("ref", "")
    return int(value) if value.isdigit() else None


def parse_call_status(form: Mapping[str, str], query: Mapping[str, str]) -> DeliveryReport:
    """A status callback (already signature-checked) as the call's delivery report.

    An unanswered call's report names why as its error code: busy, no-answer, failed,
    canceled.
    """
    sid = required(KIND, form, "CallSid")
    status = required(KIND, form, "CallStatus").lower()
    state = _STATES.get(status, ReportState.UNKNOWN)
    return DeliveryReport(
        carrier_id=sid,
        state=state,
        ref=_ref(query),
        error_code=status if state == ReportState.UNDELIVERED else None,
        raw=urlencode(sorted(form.items())),
    )


@dataclass(frozen=True, slots=True)
class DigitPressed:
    """What a gather callback said: the digit, and the opt-out it makes, if it does."""

    digits: str
    gone: AddressGone | None
    answer: str  # the TwiML Twilio plays next


def parse_gather(
    settings: TwilioVoiceSettings,
    form: Mapping[str, str],
    query: Mapping[str, str],
    now: datetime,
) -> DigitPressed:
    """A gather callback (already signature-checked): the opt-out digit opts the called
    number out of voice, and the answer confirms it in the call's language."""
    sid = required(KIND, form, "CallSid")
    called = form.get("To") or form.get("Called") or ""
    if not called:
        raise WebhookRejected(KIND, "field 'To' is missing")
    digits = form.get("Digits", "")
    if digits[:1] != settings.opt_out_digit:
        return DigitPressed(digits, None, gather_answer(None))
    speech = settings.speech_in(query.get("lang", ""))
    gone = AddressGone(
        channel="voice",
        address=called,
        reason=GoneReason.OPT_OUT,
        detail=f"pressed {digits[:1]} in call {sid}",
        ref=_ref(query),
        carrier_id=sid,
        at=now.astimezone(UTC),
    )
    return DigitPressed(digits, gone, gather_answer(speech))
