"""Infobip's WhatsApp API: template messages in bulk, text messages one by one.

Templates go to /whatsapp/1/message/template, up to `batch_size` messages a request,
each with its placeholders in order; free text goes to /whatsapp/1/message/text, one
message a request. Infobip answers each message with a message id and a status whose
group says whether it was taken (PENDING) or refused (REJECTED). Each message carries
our ref as callbackData and our notifyUrl, as SMS through Infobip does, so delivery
reports name the message; they and inbound messages are pushed to us with the shared
secret configured as for Infobip SMS (see `providers.infobip.check_infobip_request`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from smscast.channels.base import OutgoingMessage, SubmitOutcome, SubmitResult
from smscast.channels.providers.http_base import Failure, Unsendable
from smscast.channels.providers.infobip import InfobipSettings
from smscast.channels.whatsapp.connector import (
    Content,
    WhatsAppHttpConnector,
    as_text_fields,
    content_of,
)

PROVIDER = "infobip_whatsapp"
TEMPLATE_PATH = "/whatsapp/1/message/template"
TEXT_PATH = "/whatsapp/1/message/text"
_TAKEN = frozenset({"PENDING", "DELIVERED"})


@dataclass(frozen=True, slots=True, kw_only=True)
class InfobipWhatsAppSettings(InfobipSettings):
    """One Infobip account's WhatsApp sender (`sender`: the registered WhatsApp number)."""

    name: str = "infobip_whatsapp"

    def __post_init__(self) -> None:
        as_text_fields(self, ("sender", "api_key", "webhook_secret"))


class InfobipWhatsAppConnector(WhatsAppHttpConnector[InfobipWhatsAppSettings]):
    """Sends through Infobip's WhatsApp API."""

    carrier = "Infobip WhatsApp"

    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.settings.api_key, self.settings.webhook_secret) if s)

    def client_options(self) -> dict[str, object]:
        return {"headers": {"Authorization": f"App {self.settings.api_key}"}}

    def check_sendable(self, message: OutgoingMessage) -> None:
        super().check_sendable(message)
        if not (self.settings.sender or message.sender):
            raise Unsendable("no sender: the message has none and the connector no WhatsApp number")

    def group(self, batch: Sequence[OutgoingMessage]) -> list[list[OutgoingMessage]]:
        """Templates bundled by `batch_size` (the API takes many); texts one per request."""
        templates = [m for m in batch if content_of(m).template is not None]
        texts = [[m] for m in batch if content_of(m).template is None]
        size = max(1, self.settings.batch_size)
        bundles = [templates[start : start + size] for start in range(0, len(templates), size)]
        return [*bundles, *texts]

    def build_request(
        self, client: httpx.AsyncClient, messages: Sequence[OutgoingMessage]
    ) -> httpx.Request:
        first = content_of(messages[0])
        headers = {"Accept": "application/json"}
        if first.template is not None:
            entries = [self._entry(m, content_of(m)) for m in messages]
            return client.build_request(
                "POST", TEMPLATE_PATH, json={"messages": entries}, headers=headers
            )
        (message,) = messages
        return client.build_request(
            "POST", TEXT_PATH, json=self._entry(message, first), headers=headers
        )

    def _entry(self, message: OutgoingMessage, content: Content) -> dict[str, object]:
        # The connector's registered WhatsApp number first: a message's own sender is the
        # workspace's number, which may be an SMS short code Infobip would refuse here.
        sender = (self.settings.sender or message.sender).strip().removeprefix("+")
        body: dict[str, object]
        if content.template is not None:
            body = {
                "templateName": content.template,
                "templateData": {"body": {"placeholders": list(content.params)}},
                "language": content.language,
            }
        else:
            body = {"text": content.text}
        entry: dict[str, object] = {
            "from": sender,
            "to": content.to,
            "content": body,
            "callbackData": str(message.ref),
        }
        if message.want_report and self.settings.notify_url:
            entry["notifyUrl"] = self.settings.notify_url
        return entry

    def read_response(
        self, messages: Sequence[OutgoingMessage], response: httpx.Response
    ) -> list[SubmitResult]:
        body = _json(response)
        if not 200 <= response.status_code < 300:
            return request_error(response, body).results(messages)
        # The template endpoint answers {"messages": [...]}; the text one, with the entry.
        bulk = isinstance(body, dict) and "messages" in body
        answers = body.get("messages") if bulk and isinstance(body, dict) else [body]
        if not isinstance(answers, list) or len(answers) != len(messages):
            failure = Failure(
                SubmitOutcome.UNKNOWN,
                f"Infobip answered HTTP {response.status_code} without one status per message",
            )
            return failure.results(messages)
        return [_result(message, answer) for message, answer in zip(messages, answers, strict=True)]


def request_error(response: httpx.Response, body: object) -> Failure:
    """A refusal of the whole request; Infobip says why in requestError.serviceException."""
    exception: object = {}
    if isinstance(body, dict):
        request_error = body.get("requestError")
        if isinstance(request_error, dict):
            exception = request_error.get("serviceException") or {}
    exception = exception if isinstance(exception, dict) else {}
    code = exception.get("messageId")
    text = str(exception.get("text") or response.text[:200].strip())
    problems = exception.get("validationErrors")
    if isinstance(problems, dict) and problems:
        said = {k: " ".join(map(str, v)) if isinstance(v, list) else v for k, v in problems.items()}
        text += ": " + "; ".join(f"{name} {why}" for name, why in said.items())
    return Failure(
        SubmitOutcome.PERMANENT,
        f"Infobip refused the request (HTTP {response.status_code}): {text}",
        error_code=str(code or response.status_code),
    )


def _result(message: OutgoingMessage, answer: object) -> SubmitResult:
    if not isinstance(answer, dict):
        return SubmitResult(message.ref, SubmitOutcome.UNKNOWN, error="no status for it")
    status = answer.get("status")
    status = status if isinstance(status, dict) else {}
    group = str(status.get("groupName", ""))
    message_id = answer.get("messageId")
    ids = (str(message_id),) if message_id else ()
    if group in _TAKEN and ids:
        return SubmitResult(message.ref, SubmitOutcome.ACCEPTED, carrier_ids=ids)
    name = str(status.get("name") or group or "no status")
    description = status.get("description") or name
    outcome = SubmitOutcome.PERMANENT if group and group not in _TAKEN else SubmitOutcome.UNKNOWN
    return SubmitResult(
        message.ref,
        outcome,
        carrier_ids=ids,
        error_code=name,
        error=f"Infobip {group or 'answer'}: {description}",
    )


def _json(response: httpx.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return None
