"""Kannel's sendsms HTTP interface, and the dlr-url callbacks Kannel makes to us.

Kannel is an SMS gateway run next to us; it speaks SMPP (or UCP, CIMD…) to the
carrier and offers a plain GET interface. It gives back no message id, so every
message carries its own dlr-url naming our ref and a token only we can make; the
escape codes in that URL (%d, %A, %F…) are filled in by Kannel when it reports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

import httpx

from smscast.channels.base import (
    DeliveryReport,
    OutgoingMessage,
    ReportState,
    SubmitOutcome,
    SubmitResult,
)
from smscast.channels.providers.http_base import Failure, HttpConnector, HttpSettings
from smscast.channels.providers.webhooks import (
    WebhookRejected,
    message_token,
    optional_int,
    required,
    same_secret,
)
from smscast.core.encoding import Encoding, analyse

PROVIDER = "kannel"
ALL_REPORTS = 31  # delivered, failed, buffered, smsc submit, smsc reject
# What Kannel fills into our dlr-url: report type, SMSC reply, SMSC id, the SMSC's
# message id, the handset's number (with +), and when (unix time).
DLR_ESCAPES = "type=%d&reply=%A&smsc=%i&foreign=%F&to=%q&at=%T"


@dataclass(frozen=True, slots=True, kw_only=True)
class KannelSettings(HttpSettings):
    """One Kannel smsbox sendsms-user used as a connector."""

    name: str = "kannel"
    base_url: str = "http://127.0.0.1:13013"
    username: str
    password: str
    dlr_url: str = ""  # our public URL for delivery reports; "" asks for none
    dlr_secret: str = ""  # makes the per-message token in the dlr-url
    dlr_mask: int = ALL_REPORTS
    smsc: str = ""  # route through this smsc-id, "" lets Kannel choose


class KannelConnector(HttpConnector[KannelSettings]):
    """Sends through Kannel's /cgi-bin/sendsms, one GET per message."""

    carrier = "Kannel"

    def secrets(self) -> tuple[str, ...]:
        return (self.settings.password, self.settings.dlr_secret)

    def build_request(
        self, client: httpx.AsyncClient, messages: Sequence[OutgoingMessage]
    ) -> httpx.Request:
        (message,) = messages
        settings = self.settings
        params = {
            "username": settings.username,
            "password": settings.password,
            "from": message.sender or settings.sender,
            "to": message.recipient,
            "text": message.text,
            "charset": "UTF-8",
            "coding": str(coding_for(message.text)),
        }
        if settings.smsc:
            params["smsc"] = settings.smsc
        if message.want_report and settings.dlr_url:
            params["dlr-mask"] = str(settings.dlr_mask)
            params["dlr-url"] = self.dlr_url_for(message.ref)
        if message.valid_until is not None:
            minutes = (message.valid_until - datetime.now(UTC)).total_seconds() // 60
            params["validity"] = str(max(1, int(minutes)))
        return client.build_request("GET", "/cgi-bin/sendsms", params=params)

    def dlr_url_for(self, ref: int) -> str:
        """The dlr-url for one message: our ref, its token, and Kannel's escape codes."""
        token = message_token(self.settings.dlr_secret, self.name, ref)
        ours = urlencode({"ref": ref, "token": token})
        joiner = "&" if "?" in self.settings.dlr_url else "?"
        return f"{self.settings.dlr_url}{joiner}{ours}&{DLR_ESCAPES}"

    def read_response(
        self, messages: Sequence[OutgoingMessage], response: httpx.Response
    ) -> list[SubmitResult]:
        text = response.text.strip()
        if 200 <= response.status_code < 300:
            if text.startswith(("0:", "3:")):
                return [SubmitResult(message.ref, SubmitOutcome.ACCEPTED) for message in messages]
            failure = Failure(SubmitOutcome.UNKNOWN, f"Kannel answered an unknown text: {text}")
        elif response.status_code == 403:
            # Kannel's answer to a wrong username or password: fix the connector, keep
            # the messages.
            failure = Failure(SubmitOutcome.TEMPORARY, f"Kannel: {text}", error_code="403")
        else:
            failure = Failure(
                SubmitOutcome.PERMANENT, f"Kannel: {text}", error_code=str(response.status_code)
            )
        return failure.results(messages)


def coding_for(text: str) -> int:
    """Kannel's `coding`: 0 for the GSM 7-bit alphabet, 2 for UCS-2."""
    return 0 if analyse(text).encoding is Encoding.GSM7 else 2


# -- dlr-url callbacks -------------------------------------------------------------

_TYPES = {
    1: ReportState.DELIVERED,
    2: ReportState.UNDELIVERED,
    4: ReportState.ACCEPTED,  # buffered at the SMSC
    8: ReportState.ACCEPTED,  # the SMSC took it
    16: ReportState.REJECTED,  # the SMSC refused it
}
# A final failure's SMPP receipt says more than "failed" in its stat: field.
_STATS = {
    "EXPIRED": ReportState.EXPIRED,
    "REJECTD": ReportState.REJECTED,
    "DELETED": ReportState.DELETED,
    "UNDELIV": ReportState.UNDELIVERED,
}


def check_kannel_dlr(secret: str, connector: str, params: Mapping[str, str]) -> int:
    """Our ref from a dlr-url callback, once its token proves we made the URL."""
    if not secret:
        raise WebhookRejected(PROVIDER, "no dlr secret is configured for this connector")
    ref_text = required(PROVIDER, params, "ref")
    if not ref_text.isdigit():
        raise WebhookRejected(PROVIDER, f"field 'ref' is not a message id: {ref_text!r}")
    token = params.get("token")
    if not token:
        raise WebhookRejected(PROVIDER, "no token in the dlr-url")
    if not same_secret(token, message_token(secret, connector, int(ref_text))):
        raise WebhookRejected(PROVIDER, f"wrong token for message {ref_text}")
    return int(ref_text)


def parse_kannel_dlr(secret: str, connector: str, params: Mapping[str, str]) -> DeliveryReport:
    """A dlr-url callback as a delivery report about one of our messages."""
    ref = check_kannel_dlr(secret, connector, params)
    kind = optional_int(PROVIDER, params, "type")
    if kind is None:
        raise WebhookRejected(PROVIDER, "field 'type' is missing")
    if kind not in _TYPES:
        raise WebhookRejected(PROVIDER, f"field 'type' is not a Kannel report type: {kind}")
    reply = params.get("reply", "")
    receipt = _receipt_fields(reply)
    state = _TYPES[kind]
    if kind == 2:
        state = _STATS.get(receipt.get("stat", "").upper(), state)
    error = receipt.get("err", "")
    error_code = error if error.strip("0") else None
    if error_code is None and kind == 16 and reply:
        error_code = reply  # the SMSC's refusal, e.g. "NACK/0x00000045/…"
    at = optional_int(PROVIDER, params, "at")
    return DeliveryReport(
        carrier_id=params.get("foreign", ""),
        state=state,
        ref=ref,
        error_code=error_code,
        done_at=datetime.fromtimestamp(at, UTC) if at else None,
        raw=urlencode(sorted((k, v) for k, v in params.items() if k != "token")),
    )


def _receipt_fields(reply: str) -> dict[str, str]:
    """The `name:value` fields of an SMPP delivery receipt ("id:… stat:DELIVRD err:000")."""
    fields: dict[str, str] = {}
    for word in reply.split():
        name, sep, value = word.partition(":")
        if sep and name.lower() in ("stat", "err", "id"):
            fields[name.lower()] = value
    return fields
