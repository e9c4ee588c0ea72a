"""A fake of Twilio's and Infobip's voice APIs on loopback, for `./dev start` and the tests.

One small HTTP server answers both:

    POST /2010-04-01/Accounts/{AccountSid}/Calls.json   Twilio: form To, From, Twiml, …
    POST /tts/3/advanced                                 Infobip: JSON {"messages": […]}

Each request is checked against the shape the provider documents (credentials, E.164
numbers, well-formed TwiML with its `<Say>` and `<Gather>`, Infobip's destinations,
language and voice); a request that is not gets the provider's kind of 400 and is kept
in `refused`. An accepted call "rings" for `ring_s` (or until `ring_all` when
`auto_ring` is off), then:

- a number in `busy` or `not_answering` gets that outcome (Twilio `busy` / `no-answer`,
  Infobip UNDELIVERABLE with the reason);
- any other number answers; if the call asks for a digit and `presses` names one for
  that number, it is pressed: Twilio posts it to the `<Gather>` action (and reads the
  TwiML answer), Infobip reports it in `dtmfCodes`;
- the call's final status is posted to its status callback (Twilio, signed with
  X-Twilio-Signature) or notifyUrl (Infobip, with the shared secret in the configured
  header), as the provider would.

Connector settings that point at it: `base_url=<fake.url>` and the fake's credentials
(`account_sid`, `auth_token`; `api_key`, `webhook_secret`), see `VoiceFakeConfig`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import re
import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx

from smscast.channels.providers.twilio import twilio_signature
from smscast.channels.providers.webhooks import same_secret

log = logging.getLogger("smscast.simulator.voice")
MAX_BODY = 256 * 1024
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
DIGITS = re.compile(r"^[1-9][0-9]{6,14}$")
TAG = re.compile(r"^[a-z]{2}-[A-Z]{2}$")
TWILIO_VOICE = re.compile(r"^(Polly\.[A-Z][A-Za-z]+(-Neural)?|man|woman|alice)$")
_REASONS = {200: "OK", 201: "Created", 400: "Bad Request", 401: "Unauthorized",
            404: "Not Found", 405: "Method Not Allowed", 413: "Payload Too Large"}  # fmt: skip


@dataclass
class VoiceFakeConfig:
    """The fake's accounts and how its callees behave."""

    twilio_account_sid: str = "AC" + "0" * 32
    twilio_auth_token: str = "simulator-twilio-token"
    infobip_api_key: str = "simulator-infobip-key"
    infobip_webhook_secret: str = "simulator-infobip-secret"
    infobip_webhook_header: str = "X-Smscast-Secret"
    ring_s: float = 0.2  # from accepting a call to its outcome
    auto_ring: bool = True  # False: calls wait for `ring_all`
    not_answering: set[str] = field(default_factory=set)  # E.164 numbers
    busy: set[str] = field(default_factory=set)
    presses: dict[str, str] = field(default_factory=dict)  # E.164 number → digit pressed
    talk_s: int = 12  # the duration an answered call reports


@dataclass
class FakeCall:
    """One call the fake accepted, and what became of it."""

    api: str  # twilio, infobip
    id: str
    to: str  # E.164
    sender: str
    says: list[tuple[str, str, str]]  # (language, voice, text) in the order spoken
    gather_url: str = ""  # Twilio: the <Gather> action; Infobip: "" (digits ride the report)
    collects_digit: bool = False
    status_url: str = ""
    callback_data: str = ""
    outcome: str = ""  # completed, no-answer, busy (set once it rang)
    digits: str = ""
    request: dict[str, Any] = field(default_factory=dict)


@dataclass
class PostedCallback:
    """A callback the fake made: where, what, and what our side answered."""

    call_id: str
    kind: str  # status, gather, report
    url: str
    body: str
    status: int  # 0: no answer at all
    answer: str


class HttpError(Exception):
    def __init__(self, status: int, payload: dict[str, Any]) -> None:
        super().__init__(json.dumps(payload))
        self.status = status
        self.payload = payload


class VoiceFake:
    """The running fake: its address, the calls it took and the callbacks it made."""

    def __init__(self, config: VoiceFakeConfig) -> None:
        self.config = config
        self.calls: list[FakeCall] = []
        self.refused: list[str] = []
        self.callbacks: list[PostedCallback] = []
        self.port = 0
        self.url = ""
        self._server: asyncio.Server | None = None
        self._client = httpx.AsyncClient(timeout=10.0)
        self._rings: set[asyncio.Task[None]] = set()
        self._waiting: list[FakeCall] = []

    async def _start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._serve, host, port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        self.url = f"http://{host}:{self.port}"

    def ring_all(self) -> None:
        """Lets every call held so far (`auto_ring` off) ring and end."""
        waiting, self._waiting = self._waiting, []
        for call in waiting:
            self._ring(call, 0.0)

    async def idle(self) -> None:
        """Returns once every call that was let ring has ended and made its callbacks."""
        while self._rings:
            await asyncio.gather(*list(self._rings), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._rings):
            task.cancel()
        await asyncio.gather(*list(self._rings), return_exceptions=True)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        await self._client.aclose()

    # -- HTTP ----------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status, payload = await self._answer(reader)
        except HttpError as error:
            status, payload = error.status, error.payload
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            writer.close()
            return
        body = json.dumps(payload).encode()
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        )
        writer.write(head.encode() + body)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    async def _answer(self, reader: asyncio.StreamReader) -> tuple[int, dict[str, Any]]:
        request_line = (await reader.readline()).decode("latin-1").split()
        if len(request_line) != 3:
            raise HttpError(400, {"message": "malformed HTTP request line"})
        method, path = request_line[0], request_line[1].split("?", 1)[0]
        headers: dict[str, str] = {}
        while True:
            line = (await reader.readline()).decode("latin-1")
            if line in ("\r\n", "\n", ""):
                break
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length_text = headers.get("content-length", "0")
        length = int(length_text) if length_text.isdigit() else 0
        if length > MAX_BODY:
            raise HttpError(413, {"message": f"body over {MAX_BODY} bytes"})
        body = await reader.readexactly(length) if length else b""
        if method != "POST":
            raise HttpError(405, {"message": f"{path} takes POST"})
        twilio = re.fullmatch(r"/2010-04-01/Accounts/([^/]+)/Calls\.json", path)
        if twilio:
            return self._twilio_call(twilio.group(1), headers, body)
        if path == "/tts/3/advanced":
            return self._infobip_calls(headers, body)
        raise HttpError(404, {"message": f"no such resource {path}"})

    # -- Twilio --------------------------------------------------------------------------

    def _twilio_refuse(self, status: int, code: int, message: str) -> HttpError:
        self.refused.append(f"twilio: {message}")
        return HttpError(status, {"code": code, "message": message, "status": status})

    def _twilio_call(
        self, account: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        config = self.config
        expected = f"{config.twilio_account_sid}:{config.twilio_auth_token}"
        given = headers.get("authorization", "")
        token = base64.b64encode(expected.encode()).decode()
        if not same_secret(given, f"Basic {token}") or account != config.twilio_account_sid:
            raise self._twilio_refuse(401, 20003, "Authenticate")
        form = dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
        to, sender = form.get("To", ""), form.get("From", "")
        if not E164.match(to):
            raise self._twilio_refuse(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if not E164.match(sender):
            raise self._twilio_refuse(400, 21212, f"Invalid 'From' Number: {sender}")
        if "Url" in form or "Twiml" not in form:
            raise self._twilio_refuse(400, 21205, "the fake plays inline Twiml only (no Url)")
        for name in ("StatusCallback",):
            if name in form and not _absolute(form[name]):
                raise self._twilio_refuse(400, 21609, f"{name} is not a valid URL")
        if form.get("StatusCallbackMethod", "POST") not in ("GET", "POST"):
            raise self._twilio_refuse(400, 21609, "StatusCallbackMethod must be GET or POST")
        timeout = form.get("Timeout", "60")
        if not timeout.isdigit() or not 5 <= int(timeout) <= 600:
            raise self._twilio_refuse(400, 21215, f"Timeout {timeout!r} must be 5-600 seconds")
        call = FakeCall("twilio", "CA" + secrets.token_hex(16), to, sender, [], request=form,
                        status_url=form.get("StatusCallback", ""))  # fmt: skip
        try:
            _read_twiml(form["Twiml"], call)
        except ValueError as error:
            raise self._twilio_refuse(400, 12100, f"Document parse failure: {error}") from None
        self._take(call)
        now = datetime.now(UTC)
        return 201, {
            "sid": call.id, "account_sid": account, "to": to, "from": sender,
            "status": "queued", "direction": "outbound-api", "api_version": "2010-04-01",
            "date_created": format_datetime(now), "date_updated": format_datetime(now),
            "uri": f"/2010-04-01/Accounts/{account}/Calls/{call.id}.json",
        }  # fmt: skip

    # -- Infobip -------------------------------------------------------------------------

    def _infobip_refuse(self, status: int, code: str, text: str) -> HttpError:
        self.refused.append(f"infobip: {text}")
        payload = {"requestError": {"serviceException": {"messageId": code, "text": text}}}
        return HttpError(status, payload)

    def _infobip_calls(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        if not same_secret(headers.get("authorization", ""), f"App {self.config.infobip_api_key}"):
            raise self._infobip_refuse(401, "UNAUTHORIZED", "Invalid login details")
        try:
            document = json.loads(body)
        except ValueError:
            raise self._infobip_refuse(400, "BAD_REQUEST", "body is not JSON") from None
        entries = document.get("messages") if isinstance(document, dict) else None
        if not isinstance(entries, list) or not entries:
            raise self._infobip_refuse(400, "BAD_REQUEST", "messages must be a non-empty array")
        calls: list[FakeCall] = []
        for index, entry in enumerate(entries):
            problem = _infobip_problem(entry)
            if problem:
                raise self._infobip_refuse(400, "BAD_REQUEST", f"messages[{index}]: {problem}")
            voice = entry.get("voice") or {}
            for destination in entry["destinations"]:
                calls.append(FakeCall(
                    "infobip", secrets.token_hex(16), "+" + destination["to"],
                    str(entry.get("from", "")),
                    [(str(entry.get("language", "en")), str(voice.get("name", "")),
                      str(entry["text"]))],
                    collects_digit=int(entry.get("maxDtmf", 0) or 0) > 0,
                    status_url=str(entry.get("notifyUrl", "")),
                    callback_data=str(entry.get("callbackData", "")), request=entry,
                ))  # fmt: skip
        answers = []
        for call in calls:
            self._take(call)
            status = {"groupId": 1, "groupName": "PENDING", "id": 26, "name": "PENDING_ACCEPTED",
                      "description": "Message sent to next instance"}  # fmt: skip
            answers.append({"to": call.to.removeprefix("+"), "status": status,
                            "messageId": call.id})  # fmt: skip
        return 200, {"bulkId": secrets.token_hex(8), "messages": answers}

    # -- ringing -------------------------------------------------------------------------

    def _take(self, call: FakeCall) -> None:
        self.calls.append(call)
        if self.config.auto_ring:
            self._ring(call, self.config.ring_s)
        else:
            self._waiting.append(call)

    def _ring(self, call: FakeCall, delay: float) -> None:
        task = asyncio.get_running_loop().create_task(self._ring_out(call, delay))
        self._rings.add(task)
        task.add_done_callback(self._rings.discard)

    async def _ring_out(self, call: FakeCall, delay: float) -> None:
        await asyncio.sleep(delay)
        config = self.config
        if call.to in config.busy:
            call.outcome = "busy"
        elif call.to in config.not_answering:
            call.outcome = "no-answer"
        else:
            call.outcome = "completed"
            if call.collects_digit or call.gather_url:
                call.digits = config.presses.get(call.to, "")
        try:
            if call.api == "twilio":
                await self._twilio_callbacks(call)
            else:
                await self._infobip_report(call)
        except Exception:  # a fake must not die of its caller's bugs; the test sees it
            log.exception("voice fake: callbacks of call %s failed", call.id)

    async def _twilio_callbacks(self, call: FakeCall) -> None:
        config = self.config
        base = {
            "AccountSid": config.twilio_account_sid, "CallSid": call.id, "From": call.sender,
            "To": call.to, "Called": call.to, "Caller": call.sender,
            "Direction": "outbound-api", "ApiVersion": "2010-04-01",
        }  # fmt: skip
        if call.digits and call.gather_url:
            form = {**base, "CallStatus": "in-progress", "Digits": call.digits,
                    "FinishedOnKey": ""}  # fmt: skip
            await self._post_form(call, "gather", call.gather_url, form)
        if call.status_url:
            answered = call.outcome == "completed"
            form = {**base, "CallStatus": call.outcome,
                    "CallDuration": str(config.talk_s if answered else 0),
                    "Timestamp": format_datetime(datetime.now(UTC))}  # fmt: skip
            await self._post_form(call, "status", call.status_url, form)

    async def _post_form(self, call: FakeCall, kind: str, url: str, form: dict[str, str]) -> None:
        signature = twilio_signature(self.config.twilio_auth_token, url, form)
        body = urlencode(form)
        headers = {"X-Twilio-Signature": signature,
                   "Content-Type": "application/x-www-form-urlencoded"}  # fmt: skip
        await self._post(call, kind, url, body, headers)

    async def _infobip_report(self, call: FakeCall) -> None:
        if not call.status_url:
            return
        config = self.config
        done = datetime.now(UTC)
        answered = call.outcome == "completed"
        if answered:
            status = {
                "groupId": 3,
                "groupName": "DELIVERED",
                "id": 5,
                "name": "DELIVERED_TO_HANDSET",
                "description": "Message delivered to handset",
            }
            error = {
                "groupId": 0,
                "groupName": "OK",
                "id": 10000,
                "name": "NORMAL_HANGUP",
                "description": "The call ended normally",
                "permanent": False,
            }
        else:
            status = {
                "groupId": 2,
                "groupName": "UNDELIVERABLE",
                "id": 9,
                "name": "UNDELIVERABLE_NOT_DELIVERED",
                "description": "Message sent not delivered",
            }
            name = "USER_BUSY" if call.outcome == "busy" else "NO_ANSWER"
            error = {
                "groupId": 1,
                "groupName": "USER_ERRORS",
                "id": 10001,
                "name": name,
                "description": f"The call ended with {call.outcome}",
                "permanent": False,
            }
        result = {
            "bulkId": "", "messageId": call.id, "to": call.to.removeprefix("+"),
            "sentAt": _infobip_time(done - timedelta(seconds=config.talk_s + 5)),
            "doneAt": _infobip_time(done),
            "duration": config.talk_s if answered else 0, "mccMnc": "26001",
            "callbackData": call.callback_data,
            "dtmfCodes": call.digits if call.collects_digit else None,
            "price": {"pricePerSecond": 0.002, "currency": "EUR"},
            "status": status, "error": error,
        }  # fmt: skip
        body = json.dumps({"results": [result]})
        headers = {config.infobip_webhook_header: config.infobip_webhook_secret,
                   "Content-Type": "application/json"}  # fmt: skip
        await self._post(call, "report", call.status_url, body, headers)

    async def _post(
        self, call: FakeCall, kind: str, url: str, body: str, headers: dict[str, str]
    ) -> None:
        try:
            response = await self._client.post(url, content=body.encode(), headers=headers)
            status, answer = response.status_code, response.text
        except httpx.HTTPError as error:
            status, answer = 0, repr(error)
        self.callbacks.append(PostedCallback(call.id, kind, url, body, status, answer))


def _absolute(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _read_twiml(twiml: str, call: FakeCall) -> None:
    """Checks the TwiML the way Twilio reads it and notes what the call says and gathers."""
    if len(twiml) > 4000:
        raise ValueError("Twiml is over 4000 characters")
    try:
        root = ET.fromstring(twiml)
    except ET.ParseError as error:
        raise ValueError(str(error)) from None
    if root.tag != "Response":
        raise ValueError(f"the root element is <{root.tag}>, not <Response>")
    for verb in root:
        if verb.tag == "Gather":
            digits = verb.get("numDigits", "")
            if digits and not digits.isdigit():
                raise ValueError(f"Gather numDigits {digits!r} is not a number")
            action = verb.get("action", "")
            if action and not _absolute(action):
                raise ValueError(f"Gather action {action!r} is not an absolute URL")
            if verb.get("method", "POST") not in ("GET", "POST"):
                raise ValueError("Gather method must be GET or POST")
            call.gather_url = action
            nested = list(verb)
        elif verb.tag in ("Say", "Hangup", "Pause"):
            nested = [verb]
        else:
            raise ValueError(f"the fake does not play <{verb.tag}>")
        for say in nested:
            if say.tag != "Say":
                continue
            language, voice = say.get("language", "en-US"), say.get("voice", "man")
            if not TAG.match(language):
                raise ValueError(f"Say language {language!r} is not like en-US")
            if not TWILIO_VOICE.match(voice):
                raise ValueError(f"Say voice {voice!r} is not one Twilio has")
            if not (say.text or "").strip():
                raise ValueError("a Say with nothing to say")
            call.says.append((language, voice, say.text or ""))
    if not call.says:
        raise ValueError("the call says nothing")


def _infobip_problem(entry: Any) -> str:
    """Why one entry of an advanced voice request is not as Infobip documents it, or ""."""
    if not isinstance(entry, dict):
        return "not an object"
    destinations = entry.get("destinations")
    if not isinstance(destinations, list) or not destinations:
        return "destinations must be a non-empty array"
    for destination in destinations:
        if not isinstance(destination, dict) or not DIGITS.match(str(destination.get("to"))):
            return f"destination {destination!r}: 'to' must be digits in international format"
    sender = entry.get("from")
    if sender is not None and not re.fullmatch(r"[0-9]{3,14}", str(sender)):
        return f"from {sender!r} must be a numeric sender of 3-14 digits"
    if not isinstance(entry.get("text"), str) or not entry["text"].strip():
        return "text (or audioFileUrl, which the fake does not play) is required"
    if len(entry["text"]) > 1400:
        return "text is over 1400 characters"
    voice = entry.get("voice")
    if voice is not None and (
        not isinstance(voice, dict) or voice.get("gender") not in (None, "male", "female")
    ):
        return "voice must be an object with name and gender male|female"
    language = entry.get("language")
    if language is not None and not re.fullmatch(r"[a-z]{2}(-[a-z]{2})?", str(language)):
        return f"language {language!r} is not one of Infobip's codes like en or en-gb"
    if "notifyUrl" in entry and not _absolute(str(entry["notifyUrl"])):
        return "notifyUrl is not an absolute URL"
    if entry.get("notifyContentType", "application/json") != "application/json":
        return "the fake pushes reports as application/json only"
    if len(str(entry.get("callbackData", ""))) > 700:
        return "callbackData is over 700 characters"
    for name in ("maxDtmf", "dtmfTimeout", "ringTimeout", "validityPeriod"):
        value = entry.get(name)
        if value is not None and (not isinstance(value, int) or value < 0):
            return f"{name} must be a whole number"
    return ""


def _infobip_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


async def start_voice_fake(
    config: VoiceFakeConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> VoiceFake:
    """Starts the fake on `host:port` (0: any free port); `.url` is its base URL."""
    fake = VoiceFake(config or VoiceFakeConfig())
    await fake._start(host, port)
    return fake
