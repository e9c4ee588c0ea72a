"""Infobip's SMS API (JSON, many messages per request) and the pushes Infobip makes to us.

Sending posts up to `batch_size` messages in one request to /sms/2/text/advanced;
Infobip answers with one entry per destination, in request order, whose status
group says whether it was taken (PENDING) or refused (REJECTED…). Each message
carries our ref as callbackData and our notifyUrl, so the delivery report Infobip
later pushes names the message it is about. Pushes are authenticated with a shared
secret, presented in a header or as HTTP basic auth, as configured.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Generic, Literal, Protocol, TypeVar

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
    check_basic_auth,
    header_value,
    parse_carrier_time,
    same_secret,
)

PROVIDER = "infobip"
T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class InfobipSettings(HttpSettings):
    """One Infobip account used as a connector."""

    name: str = "infobip"
    base_url: str
    api_key: str
    notify_url: str = ""  # our public URL for delivery reports; "" asks for none
    batch_size: int = 100  # messages per request
    webhook_secret: str = ""  # what Infobip must present on every push to us
    webhook_auth: Literal["header", "basic"] = "header"
    webhook_header: str = "X-Smscast-Secret"
    webhook_username: str = "infobip"


class InfobipConnector(HttpConnector[InfobipSettings]):
    """Sends through Infobip's advanced text API, many messages per request."""

    carrier = "Infobip"

    def secrets(self) -> tuple[str, ...]:
        return (self.settings.api_key,)

    def client_options(self) -> dict[str, object]:
        return {"headers": {"Authorization": f"App {self.settings.api_key}"}}

    def group(self, batch: Sequence[OutgoingMessage]) -> list[list[OutgoingMessage]]:
        size = max(1, self.settings.batch_size)
        return [list(batch[start : start + size]) for start in range(0, len(batch), size)]

    def build_request(
        self, client: httpx.AsyncClient, messages: Sequence[OutgoingMessage]
    ) -> httpx.Request:
        return client.build_request(
            "POST",
            "/sms/2/text/advanced",
            json={"messages": [self._message(message) for message in messages]},
            headers={"Accept": "application/json"},
        )

    def _message(self, message: OutgoingMessage) -> dict[str, object]:
        entry: dict[str, object] = {
            "from": message.sender or self.settings.sender,
            "destinations": [{"to": message.recipient.removeprefix("+")}],
            "text": message.text,
            "callbackData": str(message.ref),
        }
        if message.want_report and self.settings.notify_url:
            entry["notifyUrl"] = self.settings.notify_url
            entry["notifyContentType"] = "application/json"
        if message.valid_until is not None:
            minutes = (message.valid_until - datetime.now(UTC)).total_seconds() // 60
            entry["validityPeriod"] = max(1, int(minutes))
        return entry

    def read_response(
        self, messages: Sequence[OutgoingMessage], response: httpx.Response
    ) -> list[SubmitResult]:
        return read_answers(messages, response, _result, "message")


def read_answers(
    messages: Sequence[OutgoingMessage],
    response: httpx.Response,
    result_of: Callable[[OutgoingMessage, object], SubmitResult],
    unit: str,
) -> list[SubmitResult]:
    """Infobip's answer to a bulk send (SMS, calls): one status per destination, in the
    order sent, each read by `result_of`; a refusal of the whole request fails them all."""
    body = response_json(response)
    if not 200 <= response.status_code < 300:
        return request_failure(response, body).results(messages)
    answers = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(answers, list) or len(answers) != len(messages):
        failure = Failure(
            SubmitOutcome.UNKNOWN,
            f"Infobip answered HTTP {response.status_code} without one status per {unit}",
        )
        return failure.results(messages)
    return [result_of(message, answer) for message, answer in zip(messages, answers, strict=True)]


def response_json(response: httpx.Response) -> object:
    """The answer's JSON, None when it is not JSON (a proxy's error page)."""
    try:
        return response.json()
    except ValueError:
        return None


def request_failure(response: httpx.Response, body: object) -> Failure:
    """A refusal of the whole request; Infobip says why in requestError."""
    exception: object = {}
    if isinstance(body, dict):
        request_error = body.get("requestError")
        if isinstance(request_error, dict):
            exception = request_error.get("serviceException") or {}
    code = exception.get("messageId") if isinstance(exception, dict) else None
    text = exception.get("text") if isinstance(exception, dict) else None
    return Failure(
        SubmitOutcome.PERMANENT,
        f"Infobip refused the request (HTTP {response.status_code}): "
        f"{text or response.text[:200].strip()}",
        error_code=str(code or response.status_code),
    )


def _result(message: OutgoingMessage, answer: object) -> SubmitResult:
    """One destination's entry of the send response as that message's result."""
    if not isinstance(answer, dict):
        return SubmitResult(message.ref, SubmitOutcome.UNKNOWN, error="no status for it")
    status = answer.get("status") if isinstance(answer.get("status"), dict) else {}
    assert isinstance(status, dict)
    group = str(status.get("groupName", ""))
    message_id = answer.get("messageId")
    ids = (str(message_id),) if message_id else ()
    if group in ("PENDING", "DELIVERED"):
        return SubmitResult(message.ref, SubmitOutcome.ACCEPTED, carrier_ids=ids)
    name = str(status.get("name", group or "no status"))
    description = status.get("description") or name
    outcome = SubmitOutcome.PERMANENT if group else SubmitOutcome.UNKNOWN
    return SubmitResult(
        message.ref,
        outcome,
        carrier_ids=ids,
        error_code=name,
        error=f"Infobip {group or 'answer'}: {description}",
    )


# -- pushes ------------------------------------------------------------------------


class PushSecret(Protocol):
    """How a connector of Infobip's (SMS, WhatsApp, voice) expects its pushes signed."""

    webhook_secret: str
    webhook_auth: str
    webhook_username: str
    webhook_header: str


def check_infobip_request(
    settings: PushSecret, headers: Mapping[str, str], provider: str = PROVIDER
) -> None:
    """Raises WebhookRejected unless the push presents our shared secret as configured."""
    if not settings.webhook_secret:
        raise WebhookRejected(provider, "no webhook secret is configured for this connector")
    if settings.webhook_auth == "basic":
        check_basic_auth(
            provider,
            header_value(headers, "Authorization"),
            settings.webhook_username,
            settings.webhook_secret,
        )
        return
    given = header_value(headers, settings.webhook_header)
    if given is None:
        raise WebhookRejected(provider, f"no {settings.webhook_header} header")
    if not same_secret(given, settings.webhook_secret):
        raise WebhookRejected(provider, f"wrong secret in {settings.webhook_header}")


@dataclass(frozen=True, slots=True)
class Push(Generic[T]):
    """What could be read from one push, and what could not (one line per bad entry).

    A push bundles many reports; one malformed entry must not cost the others.
    """

    items: list[T] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


_STATES = {
    "DELIVERED": ReportState.DELIVERED,
    "UNDELIVERABLE": ReportState.UNDELIVERED,
    "EXPIRED": ReportState.EXPIRED,
    "REJECTED": ReportState.REJECTED,
    "PENDING": ReportState.ACCEPTED,
}


def parse_infobip_reports(payload: str | bytes) -> Push[DeliveryReport]:
    """A delivery report push (already authenticated) as delivery reports."""
    return _read_push(payload, _report)


def parse_infobip_inbound(payload: str | bytes) -> Push[InboundMessage]:
    """An inbound message push (already authenticated) as inbound messages."""
    return _read_push(payload, _inbound)


def _read_push(payload: str | bytes, read: Callable[[object], T]) -> Push[T]:
    push: Push[T] = Push()
    for index, entry in enumerate(_results(payload)):
        try:
            push.items.append(read(entry))
        except WebhookRejected as exc:
            push.problems.append(f"results[{index}]: {exc.reason}")
    return push


def _results(payload: str | bytes) -> list[object]:
    try:
        document = json.loads(payload)
    except ValueError as exc:
        raise WebhookRejected(PROVIDER, f"body is not JSON: {exc}") from exc
    results = document.get("results") if isinstance(document, dict) else None
    if not isinstance(results, list):
        raise WebhookRejected(PROVIDER, "body has no 'results' list")
    return results


def _text_field(entry: Mapping[str, object], name: str) -> str:
    value = entry.get(name)
    if value is None or value == "":
        raise WebhookRejected(PROVIDER, f"field {name!r} is missing")
    return str(value)


def _report(entry: object) -> DeliveryReport:
    if not isinstance(entry, dict):
        raise WebhookRejected(PROVIDER, "entry is not an object")
    message_id = _text_field(entry, "messageId")
    status = entry.get("status")
    group = status.get("groupName") if isinstance(status, dict) else None
    if not group:
        raise WebhookRejected(PROVIDER, "field 'status.groupName' is missing")
    error = entry.get("error")
    error_code = None
    if isinstance(error, dict) and error.get("id") not in (None, 0, "0"):
        error_code = str(error.get("name") or error.get("id"))
    callback = str(entry.get("callbackData") or "")
    done_at = entry.get("doneAt")
    return DeliveryReport(
        carrier_id=message_id,
        state=_STATES.get(str(group), ReportState.UNKNOWN),
        ref=int(callback) if callback.isdigit() else None,
        error_code=error_code,
        done_at=parse_carrier_time(PROVIDER, "doneAt", str(done_at)) if done_at else None,
        raw=json.dumps(entry, ensure_ascii=False),
    )


def _inbound(entry: object) -> InboundMessage:
    if not isinstance(entry, dict):
        raise WebhookRejected(PROVIDER, "entry is not an object")
    text = entry.get("text")
    if text is None:
        text = entry.get("cleanText", "")
    count = entry.get("smsCount")
    return InboundMessage(
        sender=_text_field(entry, "from"),
        recipient=_text_field(entry, "to"),
        text=str(text),
        received_at=parse_carrier_time(PROVIDER, "receivedAt", _text_field(entry, "receivedAt")),
        carrier_ids=(_text_field(entry, "messageId"),),
        parts=count if isinstance(count, int) and count > 0 else 1,
    )
