"""A fake of the WhatsApp Business Cloud API and of Infobip's WhatsApp API, on loopback.

    fake = await start_whatsapp_fake(WhatsAppFakeConfig(
        cloud_callback_url="http://127.0.0.1:8000/hooks/whatsapp_cloud/3",
        infobip_inbound_url="http://127.0.0.1:8000/hooks/infobip_whatsapp/4/inbound",
        not_on_whatsapp_suffixes=("9",),
    ))
    ... point a connector's base_url at fake.url ...
    await fake.send_inbound("+48601234567", "STOP")     # a person writes to us
    await fake.settle()                                  # every webhook posted
    await fake.close()

It checks each request against the provider's documented shape and answers as the
provider would, a refusal with the provider's own error body (Graph API
`{"error": {"code": 100, …}}`, Infobip `{"requestError": {"serviceException": …}}`).
An accepted message then gets its status webhooks, posted as the provider posts them:
Cloud API statuses sent, delivered, read, signed with the app secret in
X-Hub-Signature-256; Infobip a delivery report to the message's notifyUrl and a seen
report, with the shared secret in the configured header. A number "not on WhatsApp"
(listed, or ending in a listed suffix) gets a failed status with error 131026 (Cloud API)
or an UNDELIVERABLE report (Infobip) instead.

    POST /simulator/inbound  {"from": "+48601234567", "text": "Hi", "api": "cloud",
                              "reply_to": "wamid…"}  -> 202 {"id": …, "answered": 200}
    GET  /simulator/received  what the fake was sent so far

Like the SMSC simulator's control endpoint, a few lines of asyncio rather than a web
framework: it serves our connectors and tests on loopback, nothing else.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

import httpx

log = logging.getLogger("smscast.simulator.whatsapp")
MAX_BODY = 1024 * 1024
WABA_ID = "102290129340398"  # the business account id the fake's webhooks name
_CLOUD_PATH = re.compile(r"^/(v\d+\.\d+)/([^/]+)/messages$")
_DIGITS = re.compile(r"^[1-9][0-9]{6,14}$")
NOT_ON_WHATSAPP = 131026  # Cloud API: message undeliverable (not a WhatsApp user, …)


@dataclass
class WhatsAppFakeConfig:
    """What the fake expects of our requests and where it posts its webhooks.

    `templates` maps approved template names to their number of body parameters; None
    accepts any template. A number is not on WhatsApp when it is in `not_on_whatsapp`
    (digits or +E.164) or ends in one of `not_on_whatsapp_suffixes`.
    """

    host: str = "127.0.0.1"
    port: int = 0
    # Cloud API
    phone_number_id: str = "106540352242922"
    display_phone_number: str = "+48500100200"
    access_token: str = "simulated-access-token"
    app_secret: str = "simulated-app-secret"
    cloud_callback_url: str = ""
    # Infobip
    api_key: str = "simulated-api-key"
    infobip_sender: str = "+48500100200"
    infobip_reports_url: str = ""  # for messages without a notifyUrl of their own
    infobip_inbound_url: str = ""
    infobip_webhook_secret: str = "simulated-webhook-secret"
    infobip_webhook_header: str = "X-Smscast-Secret"
    # behaviour
    templates: dict[str, int] | None = None
    not_on_whatsapp: frozenset[str] = frozenset()
    not_on_whatsapp_suffixes: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ("sent", "delivered", "read")
    status_delay: float = 0.0  # seconds between one status and the next

    def on_whatsapp(self, number: str) -> bool:
        digits = number.removeprefix("+")
        listed = {n.removeprefix("+") for n in self.not_on_whatsapp}
        return digits not in listed and not digits.endswith(tuple(self.not_on_whatsapp_suffixes))


@dataclass
class FakeRequest:
    """One request the fake answered, as it came (for tests and `GET /simulator/received`)."""

    api: str  # cloud, infobip, control
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 0

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class PostedWebhook:
    """One webhook the fake posted, and what our side answered (0: no answer)."""

    url: str
    headers: dict[str, str]
    body: bytes
    status: int = 0
    error: str = ""

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Refused(Exception):
    """A request the provider would refuse: the HTTP status and its error body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(json.dumps(body))
        self.status = status
        self.body = body


def _graph_error(status: int, code: int, message: str, details: str = "", **more: Any) -> Refused:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    error.update(more, fbtrace_id="AsimulatedTraceId")
    return Refused(status, {"error": error})


def _infobip_error(
    status: int, code: str, text: str, problems: dict[str, str] | None = None
) -> Refused:
    exception: dict[str, Any] = {"messageId": code, "text": text}
    if problems:
        exception["validationErrors"] = {k: [v] for k, v in problems.items()}
    return Refused(status, {"requestError": {"serviceException": exception}})


class WhatsAppFake:
    """The running fake: its address, what it received, what it posted."""

    def __init__(self, config: WhatsAppFakeConfig) -> None:
        self.config = config
        self.received: list[FakeRequest] = []
        self.webhooks: list[PostedWebhook] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._client: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._ids = itertools.count(1)

    @property
    def url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    async def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=10.0)
        self._server = await asyncio.start_server(self._serve, self.config.host, self.config.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def settle(self) -> None:
        """Waits until every webhook the fake has scheduled has been posted."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            await self._server.wait_closed()
            self._server = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- inbound ----------------------------------------------------------------------

    async def send_inbound(
        self, sender: str, text: str, *, api: str = "cloud", reply_to: str | None = None
    ) -> PostedWebhook:
        """Posts a message a person wrote to our number, as the provider would."""
        digits = sender.strip().removeprefix("+")
        if not _DIGITS.match(digits):
            raise ValueError(f"{sender!r} is not a phone number in E.164")
        if api == "cloud":
            url = self.config.cloud_callback_url
            message: dict[str, Any] = {
                "from": digits,
                "id": self._wamid(digits),
                "timestamp": str(int(datetime.now(UTC).timestamp())),
                "type": "text",
                "text": {"body": text},
            }
            if reply_to:
                message["context"] = {"from": self._our_digits(), "id": reply_to}
            value = {
                "contacts": [{"profile": {"name": "Simulated"}, "wa_id": digits}],
                "messages": [message],
            }
            return await self._post_cloud(url, value)
        if api == "infobip":
            url = self.config.infobip_inbound_url
            body: dict[str, Any] = {"type": "TEXT", "text": text}
            if reply_to:
                body["context"] = {"id": reply_to, "from": self.config.infobip_sender}
            result = {
                "from": digits,
                "to": self.config.infobip_sender.removeprefix("+"),
                "integrationType": "WHATSAPP",
                "receivedAt": _infobip_time(),
                "messageId": f"ABEG{next(self._ids):020d}",
                "pairedMessageId": None,
                "callbackData": None,
                "message": body,
                "contact": {"name": "Simulated"},
                "price": {"pricePerMessage": 0, "currency": "EUR"},
            }
            document = {"results": [result], "messageCount": 1, "pendingMessageCount": 0}
            return await self._post_infobip(url, document)
        raise ValueError(f"api {api!r}: choose cloud or infobip")

    # -- the server -------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                parts = lines[0].split(" ")
                if len(parts) != 3:
                    return
                method, target = parts[0], parts[1]
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0") or 0)
                if length > MAX_BODY:
                    return
                body = await reader.readexactly(length) if length else b""
                status, answer = await self._answer(method, target.split("?", 1)[0], headers, body)
                content = json.dumps(answer).encode()
                writer.write(
                    (
                        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
                        f"Content-Type: application/json\r\nContent-Length: {len(content)}\r\n\r\n"
                    ).encode()
                    + content
                )
                await writer.drain()
        except ConnectionError:
            return
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _answer(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any]:
        api = "control"
        if path.startswith("/v"):
            api = "cloud"  # /{api_version}/{phone_number_id}/messages
        elif path.startswith("/whatsapp/"):
            api = "infobip"
        request = FakeRequest(api, method, path, headers, body)
        self.received.append(request)
        try:
            status, answer = await self._route(request)
        except Refused as refused:
            status, answer = refused.status, refused.body
        request.status = status
        return status, answer

    async def _route(self, request: FakeRequest) -> tuple[int, Any]:
        path = request.path
        if request.api == "cloud":
            return self._cloud(request)
        if request.api == "infobip":
            return self._infobip(request)
        if path == "/simulator/received" and request.method == "GET":
            return 200, [
                {"api": r.api, "path": r.path, "status": r.status, "body": r.body.decode()}
                for r in self.received
                if r.api != "control"
            ]
        if path == "/simulator/inbound" and request.method == "POST":
            try:
                data = json.loads(request.body or b"{}")
                sender, text = data["from"], data["text"]
                posted = await self.send_inbound(
                    str(sender), str(text), api=str(data.get("api", "cloud")),
                    reply_to=data.get("reply_to"),
                )  # fmt: skip
            except (ValueError, KeyError, TypeError) as exc:
                return 400, {"error": f"send {{'from', 'text', 'api'?, 'reply_to'?}}: {exc}"}
            return 202, {"id": _posted_id(posted), "answered": posted.status, "error": posted.error}
        return 404, {"error": f"no such endpoint {request.method} {path}"}

    # -- Cloud API --------------------------------------------------------------------

    def _cloud(self, request: FakeRequest) -> tuple[int, Any]:
        config = self.config
        match = _CLOUD_PATH.match(request.path)
        if request.method != "POST" or match is None:
            raise _graph_error(400, 100, f"Unknown path components: {request.path}")
        if request.headers.get("authorization") != f"Bearer {config.access_token}":
            raise _graph_error(401, 190, "Invalid OAuth access token - Cannot parse access token")
        if match.group(2) != config.phone_number_id:
            raise _graph_error(
                400, 100,
                f"Unsupported post request. Object with ID '{match.group(2)}' does not exist",
                error_subcode=33,
            )  # fmt: skip
        data = _json_object(request.body, graph=True)
        if data.get("messaging_product") != "whatsapp":
            raise _invalid("messaging_product must be 'whatsapp'")
        if data.get("recipient_type", "individual") != "individual":
            raise _invalid("recipient_type must be 'individual'")
        to = data.get("to")
        if not isinstance(to, str) or not _DIGITS.match(to.removeprefix("+")):
            raise _invalid("to must be the recipient's phone number")
        kind = data.get("type")
        if kind == "text":
            text = data.get("text")
            body = text.get("body") if isinstance(text, dict) else None
            if not isinstance(body, str) or not body.strip():
                raise _invalid("text.body is required")
            if len(body) > 4096:
                raise _invalid("text.body is longer than 4096 characters")
            if not isinstance(text.get("preview_url", False), bool):  # type: ignore[union-attr]
                raise _invalid("text.preview_url must be a boolean")
        elif kind == "template":
            self._check_cloud_template(data.get("template"))
        else:
            raise _invalid(f"type {kind!r} is not one this fake sends: text or template")
        digits = to.removeprefix("+")
        wamid = self._wamid(digits)
        self._later(self._cloud_statuses(wamid, digits, data.get("biz_opaque_callback_data")))
        return 200, {
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": digits}],
            "messages": [{"id": wamid, "message_status": "accepted"}],
        }

    def _check_cloud_template(self, template: object) -> None:
        if not isinstance(template, dict):
            raise _invalid("template must be an object")
        name = template.get("name")
        language = template.get("language")
        code = language.get("code") if isinstance(language, dict) else None
        if not isinstance(name, str) or not name:
            raise _invalid("template.name is required")
        if not isinstance(code, str) or not code:
            raise _invalid("template.language.code is required")
        params: list[str] = []
        components = template.get("components", [])
        if not isinstance(components, list):
            raise _invalid("template.components must be a list")
        for index, component in enumerate(components):
            kind = component.get("type") if isinstance(component, dict) else None
            if kind not in ("header", "body", "button"):
                raise _invalid(f"template.components[{index}].type must be header, body or button")
            assert isinstance(component, dict)
            for p, parameter in enumerate(component.get("parameters", [])):
                if (
                    not isinstance(parameter, dict)
                    or parameter.get("type") != "text"
                    or not (isinstance(parameter.get("text"), str) and parameter["text"].strip())
                ):
                    raise _invalid(
                        f"template.components[{index}].parameters[{p}] must be "
                        '{"type": "text", "text": "…"} with a text'
                    )
                if kind == "body":
                    params.append(parameter["text"])
        expected = None if self.config.templates is None else self.config.templates.get(name)
        if self.config.templates is not None and expected is None:
            raise _graph_error(
                404, 132001, "(#132001) Template name does not exist in the translation",
                f"template name ({name}) does not exist in {code}",
            )  # fmt: skip
        if expected is not None and expected != len(params):
            raise _graph_error(
                400, 132000,
                "(#132000) Number of parameters does not match the expected number of params",
                f"body: number of localizable_params ({len(params)}) does not match the "
                f"expected number of params ({expected})",
            )  # fmt: skip

    async def _cloud_statuses(self, wamid: str, to: str, callback: object) -> None:
        words = self.config.statuses if self.config.on_whatsapp(to) else ("failed",)
        for index, word in enumerate(words):
            if index and self.config.status_delay:
                await asyncio.sleep(self.config.status_delay)
            status: dict[str, Any] = {
                "id": wamid,
                "status": word,
                "timestamp": str(int(datetime.now(UTC).timestamp())),
                "recipient_id": to,
            }
            if isinstance(callback, str) and callback:
                status["biz_opaque_callback_data"] = callback
            if word == "failed":
                status["errors"] = [{
                    "code": NOT_ON_WHATSAPP,
                    "title": "Message undeliverable",
                    "message": "Message undeliverable",
                    "error_data": {"details": "Message Undeliverable."},
                }]  # fmt: skip
            await self._post_cloud(self.config.cloud_callback_url, {"statuses": [status]})

    async def _post_cloud(self, url: str, value: dict[str, Any]) -> PostedWebhook:
        document = {
            "object": "whatsapp_business_account",
            "entry": [{
                "id": WABA_ID,
                "changes": [{
                    "value": {
                        "messaging_product": "whatsapp",
                        "metadata": {
                            "display_phone_number": self._our_digits(),
                            "phone_number_id": self.config.phone_number_id,
                        },
                        **value,
                    },
                    "field": "messages",
                }],
            }],
        }  # fmt: skip
        body = json.dumps(document).encode()
        digest = hmac.new(self.config.app_secret.encode(), body, hashlib.sha256).hexdigest()
        return await self._post(url, body, {"X-Hub-Signature-256": f"sha256={digest}"})

    # -- Infobip ----------------------------------------------------------------------

    def _infobip(self, request: FakeRequest) -> tuple[int, Any]:
        if request.headers.get("authorization") != f"App {self.config.api_key}":
            raise _infobip_error(401, "UNAUTHORIZED", "Invalid login details")
        if request.method != "POST" or request.path not in (
            "/whatsapp/1/message/text", "/whatsapp/1/message/template"
        ):  # fmt: skip
            raise _infobip_error(404, "NOT_FOUND", f"no such endpoint {request.path}")
        data = _json_object(request.body, graph=False)
        if request.path.endswith("/text"):
            entry = self._check_infobip(data, "", template=False)
            return 200, self._infobip_accept(entry)
        entries = data.get("messages")
        if not isinstance(entries, list) or not entries:
            raise _infobip_error(
                400, "BAD_REQUEST", "Bad request", {"messages": "must not be empty"}
            )
        checked = [self._check_infobip(e, f"messages[{i}].", template=True)
                   for i, e in enumerate(entries)]  # fmt: skip
        bulk = f"bulk-{next(self._ids)}"
        return 200, {"messages": [self._infobip_accept(e) for e in checked], "bulkId": bulk}

    def _check_infobip(self, entry: object, at: str, *, template: bool) -> dict[str, Any]:
        def bad(name: str, why: str) -> Refused:
            return _infobip_error(400, "BAD_REQUEST", "Bad request", {f"{at}{name}": why})

        if not isinstance(entry, dict):
            raise bad("", "must be an object")
        sender = entry.get("from")
        if sender != self.config.infobip_sender.removeprefix("+"):
            raise bad("from", "must be a WhatsApp sender registered to the account")
        to = entry.get("to")
        if not isinstance(to, str) or not _DIGITS.match(to):
            raise bad("to", "must be a phone number in international format, digits only")
        content = entry.get("content")
        if not isinstance(content, dict):
            raise bad("content", "must not be null")
        if not template:
            text = content.get("text")
            if not isinstance(text, str) or not text.strip() or len(text) > 4096:
                raise bad("content.text", "size must be between 1 and 4096")
        else:
            name = content.get("templateName")
            data = content.get("templateData")
            body = data.get("body") if isinstance(data, dict) else None
            placeholders = body.get("placeholders") if isinstance(body, dict) else None
            if not isinstance(name, str) or not name:
                raise bad("content.templateName", "must not be blank")
            if not isinstance(placeholders, list) or not all(
                isinstance(p, str) and p.strip() for p in placeholders
            ):
                raise bad("content.templateData.body.placeholders", "must be a list of texts")
            if not isinstance(content.get("language"), str) or not content["language"]:
                raise bad("content.language", "must not be blank")
            known = self.config.templates
            if known is not None and known.get(name) != len(placeholders):
                why = f"no approved template {name!r} with {len(placeholders)} placeholders"
                raise bad("content.templateName", why)
        for name in ("callbackData", "notifyUrl"):
            if name in entry and not isinstance(entry[name], str):
                raise bad(name, "must be a string")
        return entry

    def _infobip_accept(self, entry: dict[str, Any]) -> dict[str, Any]:
        message_id = f"ib-wa-{next(self._ids)}"
        self._later(self._infobip_reports(message_id, entry))
        return {
            "to": entry["to"],
            "messageCount": 1,
            "messageId": message_id,
            "status": {"groupId": 1, "groupName": "PENDING", "id": 7, "name": "PENDING_ENROUTE",
                       "description": "Message sent to next instance"},
        }  # fmt: skip

    async def _infobip_reports(self, message_id: str, entry: dict[str, Any]) -> None:
        url = entry.get("notifyUrl") or self.config.infobip_reports_url
        to = entry["to"]
        sent_at = _infobip_time()
        report: dict[str, Any] = {
            "bulkId": None,
            "messageId": message_id,
            "to": to,
            "sentAt": sent_at,
            "doneAt": _infobip_time(),
            "messageCount": 1,
            "price": {"pricePerMessage": 0, "currency": "EUR"},
            "channel": "WHATSAPP",
        }
        if entry.get("callbackData"):
            report["callbackData"] = entry["callbackData"]
        if not self.config.on_whatsapp(to):
            report["status"] = {"groupId": 2, "groupName": "UNDELIVERABLE", "id": 9,
                                "name": "UNDELIVERABLE_NOT_DELIVERED",
                                "description": "Message sent not delivered"}  # fmt: skip
            report["error"] = {"groupId": 1, "groupName": "HANDSET_ERRORS", "id": 1,
                               "name": "EC_UNKNOWN_SUBSCRIBER",
                               "description": "The number is not on WhatsApp",
                               "permanent": True}  # fmt: skip
            await self._post_infobip(url, {"results": [report]})
            return
        if "delivered" in self.config.statuses:
            report["status"] = {"groupId": 3, "groupName": "DELIVERED", "id": 5,
                                "name": "DELIVERED_TO_HANDSET",
                                "description": "Message delivered to handset"}  # fmt: skip
            report["error"] = {"groupId": 0, "groupName": "OK", "id": 0, "name": "NO_ERROR",
                               "description": "No Error", "permanent": False}  # fmt: skip
            await self._post_infobip(url, {"results": [report]})
        if "read" in self.config.statuses:
            if self.config.status_delay:
                await asyncio.sleep(self.config.status_delay)
            seen = {"messageId": message_id, "from": entry["from"], "to": to,
                    "sentAt": sent_at, "seenAt": _infobip_time()}  # fmt: skip
            await self._post_infobip(url, {"results": [seen]})

    async def _post_infobip(self, url: str, document: dict[str, Any]) -> PostedWebhook:
        header = {self.config.infobip_webhook_header: self.config.infobip_webhook_secret}
        return await self._post(url, json.dumps(document).encode(), header)

    # -- shared -----------------------------------------------------------------------

    def _later(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> PostedWebhook:
        posted = PostedWebhook(url, {"Content-Type": "application/json", **headers}, body)
        self.webhooks.append(posted)
        if not url:
            posted.error = "no callback URL is configured"
            log.warning("whatsapp fake: %s", posted.error)
            return posted
        assert self._client is not None, "the fake is not started"
        try:
            response = await self._client.post(url, content=body, headers=posted.headers)
            posted.status = response.status_code
            if response.status_code >= 300:
                posted.error = response.text[:500]
        except httpx.HTTPError as exc:
            posted.error = repr(exc)
        if posted.error:
            log.warning("whatsapp fake: webhook to %s: %s", url, posted.error)
        return posted

    def _wamid(self, digits: str) -> str:
        raw = f"{digits}:{next(self._ids):016d}".encode()
        return "wamid." + base64.b64encode(raw).decode()

    def _our_digits(self) -> str:
        return re.sub(r"\D", "", self.config.display_phone_number)


def _invalid(details: str) -> Refused:
    return _graph_error(400, 100, "(#100) Invalid parameter", details)


def _json_object(body: bytes, *, graph: bool) -> dict[str, Any]:
    try:
        data = json.loads(body or b"")
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict):
        if graph:
            raise _invalid("the request body must be a JSON object")
        raise _infobip_error(400, "BAD_REQUEST", "Bad request: the body must be a JSON object")
    return data


def _infobip_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _posted_id(posted: PostedWebhook) -> str:
    document = posted.json
    if "results" in document:
        return str(document["results"][0]["messageId"])
    return str(document["entry"][0]["changes"][0]["value"]["messages"][0]["id"])


async def start_whatsapp_fake(config: WhatsAppFakeConfig | None = None) -> WhatsAppFake:
    """Starts the fake on `config.host`:`config.port` (0: any free port); `.close()` ends it."""
    fake = WhatsAppFake(config or WhatsAppFakeConfig())
    await fake.start()
    return fake
