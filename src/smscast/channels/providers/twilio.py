"""Twilio's Programmable Messaging REST API, and the callbacks Twilio makes to us.

Sending is one form-encoded POST per message to the Messages resource; Twilio
splits long texts itself and answers with one message SID. Delivery news comes as
status callbacks to the URL we pass as StatusCallback, and texts to our numbers
come as inbound webhooks; both are form posts signed with X-Twilio-Signature, which
is checked before anything in them is believed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

import httpx

from smscast.channels.base import (
    DeliveryReport,
    InboundMessage,
    OutgoingMessage,
    ReportState,
    SubmitOutcome,
    SubmitResult,
)
from smscast.channels.providers.http_base import Failure, HttpConnector, HttpSettings
from smscast.channels.providers.webhooks import (
    WebhookRejected,
    optional_int,
    required,
    same_secret,
)

PROVIDER = "twilio"
MAX_VALIDITY_S = 36_000  # the longest ValidityPeriod Twilio accepts


@dataclass(frozen=True, slots=True, kw_only=True)
class TwilioSettings(HttpSettings):
    """One Twilio account (or subaccount) used as a connector."""

    name: str = "twilio"
    base_url: str = "https://api.twilio.com"
    account_sid: str
    auth_token: str
    status_callback_url: str = ""  # our public URL for status callbacks; "" asks for none


class TwilioConnector(HttpConnector[TwilioSettings]):
    """Sends through Twilio's Messages API, one request per message."""

    carrier = "Twilio"

    def secrets(self) -> tuple[str, ...]:
        return (self.settings.auth_token,)

    def client_options(self) -> dict[str, object]:
        return {"auth": httpx.BasicAuth(self.settings.account_sid, self.settings.auth_token)}

    def build_request(
        self, client: httpx.AsyncClient, messages: Sequence[OutgoingMessage]
    ) -> httpx.Request:
        (message,) = messages
        form = {
            "To": message.recipient,
            "From": message.sender or self.settings.sender,
            "Body": message.text,
        }
        if message.want_report and self.settings.status_callback_url:
            form["StatusCallback"] = self.settings.status_callback_url
        if message.valid_until is not None:
            seconds = (message.valid_until - datetime.now(UTC)).total_seconds()
            form["ValidityPeriod"] = str(max(1, min(MAX_VALIDITY_S, int(seconds))))
        path = f"/2010-04-01/Accounts/{self.settings.account_sid}/Messages.json"
        return client.build_request("POST", path, data=form)

    def read_response(
        self, messages: Sequence[OutgoingMessage], response: httpx.Response
    ) -> list[SubmitResult]:
        (message,) = messages
        body = _json_object(response)
        if response.status_code in (200, 201):
            sid = body.get("sid")
            if isinstance(sid, str) and sid:
                return [SubmitResult(message.ref, SubmitOutcome.ACCEPTED, carrier_ids=(sid,))]
            failure = Failure(
                SubmitOutcome.UNKNOWN,
                f"Twilio answered HTTP {response.status_code} without a message sid",
            )
            return failure.results(messages)
        code = body.get("code")
        text = body.get("message") or response.text[:200].strip()
        if code is not None:
            failure = Failure(
                SubmitOutcome.PERMANENT, f"Twilio error {code}: {text}", error_code=str(code)
            )
        else:
            failure = Failure(
                SubmitOutcome.PERMANENT,
                f"Twilio answered HTTP {response.status_code}: {text}",
                error_code=str(response.status_code),
            )
        return failure.results(messages)


def _json_object(response: httpx.Response) -> dict[str, object]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


# -- callbacks ---------------------------------------------------------------------

Params = Mapping[str, str] | Iterable[tuple[str, str]]


def twilio_signature(auth_token: str, url: str, params: Params) -> str:
    """The X-Twilio-Signature Twilio computes for a POST of `params` to `url`.

    Twilio's documented scheme: the full URL as Twilio called it, then every POST
    parameter sorted by name (repeated names by value) as name followed by value,
    with no separators; HMAC-SHA1 keyed by the auth token; base64.
    """
    pairs = params.items() if isinstance(params, Mapping) else params
    signed = url + "".join(name + value for name, value in sorted(pairs))
    digest = hmac.new(auth_token.encode("utf-8"), signed.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_twilio_signature(auth_token: str, url: str, params: Params, signature: str) -> bool:
    """True when `signature` is what Twilio would send for this URL and these parameters."""
    if not signature:
        return False
    return same_secret(signature, twilio_signature(auth_token, url, params))


def check_twilio_signature(
    auth_token: str, url: str, params: Params, signature: str | None
) -> None:
    """Raises WebhookRejected unless the callback is signed by our Twilio account."""
    if not signature:
        raise WebhookRejected(PROVIDER, "no X-Twilio-Signature header")
    if not verify_twilio_signature(auth_token, url, params, signature):
        raise WebhookRejected(PROVIDER, f"X-Twilio-Signature does not match the request to {url}")


_STATES = {
    "delivered": ReportState.DELIVERED,
    "read": ReportState.DELIVERED,
    "undelivered": ReportState.UNDELIVERED,
    "failed": ReportState.REJECTED,  # never left Twilio (queue overflow, bad number, …)
    "canceled": ReportState.DELETED,
    "accepted": ReportState.ACCEPTED,
    "scheduled": ReportState.ACCEPTED,
    "queued": ReportState.ACCEPTED,
    "sending": ReportState.ACCEPTED,
    "sent": ReportState.ACCEPTED,
    "partially_delivered": ReportState.ACCEPTED,
}


def parse_twilio_status_callback(form: Mapping[str, str]) -> DeliveryReport:
    """A status callback (already signature-checked) as a delivery report."""
    sid = required(PROVIDER, form, "MessageSid")
    status = form.get("MessageStatus") or form.get("SmsStatus")
    if not status:
        raise WebhookRejected(PROVIDER, "field 'MessageStatus' is missing")
    state = _STATES.get(status.lower(), ReportState.UNKNOWN)
    error_code = form.get("ErrorCode") or None
    return DeliveryReport(
        carrier_id=sid,
        state=state,
        error_code=error_code,
        raw=urlencode(sorted(form.items())),
    )


def parse_twilio_inbound(form: Mapping[str, str], received_at: datetime) -> InboundMessage:
    """An inbound-message webhook (already signature-checked) as an inbound message.

    Twilio does not say when it received the text, so the caller passes the time
    the webhook arrived.
    """
    sid = required(PROVIDER, form, "MessageSid")
    segments = optional_int(PROVIDER, form, "NumSegments")
    return InboundMessage(
        sender=required(PROVIDER, form, "From"),
        recipient=required(PROVIDER, form, "To"),
        text=form.get("Body", ""),
        received_at=received_at,
        carrier_ids=(sid,),
        parts=segments if segments and segments > 0 else 1,
    )
