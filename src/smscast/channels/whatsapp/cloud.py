"""The WhatsApp Business Cloud API (Meta's Graph API), one request per message.

Sending posts to /{api_version}/{phone_number_id}/messages with the access token as a
bearer token: a template message (name, language, body parameters) or a text message.
The answer carries the message's WhatsApp id ("wamid…"), which every later status
webhook names; we also pass our ref as `biz_opaque_callback_data`, which comes back
in those webhooks, so a status that overtakes the send answer still finds its message.

Graph API errors come as HTTP 4xx with `{"error": {"code", "message", "error_data"}}`.
Most codes mean the message itself is refused (PERMANENT, with the code, e.g. 132001
"template does not exist"); throttling and service codes mean "later" even under a
400, and credential codes are the connector's fault, not the message's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from smscast.channels.base import OutgoingMessage, SubmitOutcome, SubmitResult
from smscast.channels.providers.http_base import Failure, HttpSettings, retry_after_seconds
from smscast.channels.whatsapp.connector import WhatsAppHttpConnector, as_text_fields, content_of

PROVIDER = "whatsapp_cloud"
#: Graph API codes that mean "not now" whatever the HTTP status: throttling (4, 80007,
#: 130429, 131048 spam rate, 131056 pair rate) and the service being unwell (1, 2,
#: 131000, 131016, 133004).
RETRY_CODES = frozenset({1, 2, 4, 80007, 130429, 131000, 131016, 131048, 131056, 133004})
#: Codes that say our credentials or the app's permissions are wrong (0 auth, 3
#: capability, 10 permission, 190 token expired, 200-299 permissions): the connector
#: must be fixed, and the messages wait for it rather than fail for good.
CREDENTIAL_CODES = frozenset({0, 3, 10, 190, *range(200, 300)})


@dataclass(frozen=True, slots=True, kw_only=True)
class CloudSettings(HttpSettings):
    """One business phone number of the WhatsApp Cloud API used as a connector."""

    name: str = "whatsapp_cloud"
    base_url: str = "https://graph.facebook.com"
    phone_number_id: str
    access_token: str
    app_secret: str = ""  # Meta signs every webhook with it (X-Hub-Signature-256)
    verify_token: str = ""  # what we ask Meta to present when it checks our webhook URL
    api_version: str = "v21.0"

    def __post_init__(self) -> None:
        as_text_fields(
            self,
            ("phone_number_id", "access_token", "app_secret", "verify_token", "api_version"),
        )


class CloudConnector(WhatsAppHttpConnector[CloudSettings]):
    """Sends through the WhatsApp Business Cloud API."""

    carrier = "WhatsApp Cloud API"

    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.settings.access_token, self.settings.app_secret) if s)

    def client_options(self) -> dict[str, object]:
        return {"headers": {"Authorization": f"Bearer {self.settings.access_token}"}}

    def build_request(
        self, client: httpx.AsyncClient, messages: Sequence[OutgoingMessage]
    ) -> httpx.Request:
        (message,) = messages
        settings = self.settings
        return client.build_request(
            "POST",
            f"/{settings.api_version}/{settings.phone_number_id}/messages",
            json=cloud_body(message),
            headers={"Accept": "application/json"},
        )

    def read_response(
        self, messages: Sequence[OutgoingMessage], response: httpx.Response
    ) -> list[SubmitResult]:
        (message,) = messages
        body = _json(response)
        if not 200 <= response.status_code < 300:
            return graph_failure(response, body).results(messages)
        answers = body.get("messages") if isinstance(body, dict) else None
        first = answers[0] if isinstance(answers, list) and answers else None
        wamid = first.get("id") if isinstance(first, dict) else None
        if not wamid:
            failure = Failure(
                SubmitOutcome.UNKNOWN,
                f"WhatsApp answered HTTP {response.status_code} without a message id",
            )
            return failure.results(messages)
        return [SubmitResult(message.ref, SubmitOutcome.ACCEPTED, carrier_ids=(str(wamid),))]


def cloud_body(message: OutgoingMessage) -> dict[str, object]:
    """The documented JSON of a template or text message to one person."""
    content = content_of(message)
    body: dict[str, object] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": content.to,
    }
    if content.template is not None:
        template: dict[str, object] = {
            "name": content.template,
            "language": {"code": content.language},
        }
        if content.params:
            parameters = [{"type": "text", "text": p} for p in content.params]
            template["components"] = [{"type": "body", "parameters": parameters}]
        body.update(type="template", template=template)
    else:
        preview = "http://" in content.text or "https://" in content.text
        body.update(type="text", text={"preview_url": preview, "body": content.text})
    body["biz_opaque_callback_data"] = str(message.ref)
    return body


def graph_failure(response: httpx.Response, body: object) -> Failure:
    """What a Graph API error answer means for the message it refused."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return Failure(
            SubmitOutcome.PERMANENT,
            f"WhatsApp refused the request (HTTP {response.status_code}): "
            f"{response.text[:200].strip()}",
            error_code=str(response.status_code),
        )
    code = error.get("code")
    details = error.get("error_data", {})
    detail = details.get("details") if isinstance(details, dict) else None
    text = str(error.get("message") or "no message")
    if detail and detail not in text:
        text = f"{text} ({detail})"
    code_number = code if isinstance(code, int) else -1
    if code_number in RETRY_CODES:
        outcome = SubmitOutcome.TEMPORARY
    elif code_number in CREDENTIAL_CODES:
        outcome = SubmitOutcome.TEMPORARY
        text = f"the connector's access token or permissions: {text}"
    else:
        outcome = SubmitOutcome.PERMANENT
    return Failure(
        outcome,
        f"WhatsApp error {code} (HTTP {response.status_code}): {text}",
        error_code=str(code if code is not None else response.status_code),
        retry_after=retry_after_seconds(response) if outcome is SubmitOutcome.TEMPORARY else None,
    )


def _json(response: httpx.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return None
