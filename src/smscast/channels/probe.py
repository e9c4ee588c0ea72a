"""Testing a carrier connection without sending anything: "does it let us in?"

The portal's "test connection" button asks this. Each kind is tried the way its
connector would talk to the carrier, with the credentials typed in, and stops before
anything could reach a phone:

- SMPP (`channels.smpp.probe`): connect, bind with the system id, password and bind
  mode, unbind; a refusal is the SMSC's own command_status.
- Twilio: GET the Account resource (`/2010-04-01/Accounts/{sid}.json`).
- Infobip: GET the account balance (`/account/1/balance`).
- Kannel: GET `/cgi-bin/sendsms` with the username and password but no receiver and no
  text: smsbox checks the credentials first (403 "Authorization failed for sendsms")
  and only then refuses the missing receiver, so any other answer means they passed.

The answer is a `ProbeResult`: what happened (`outcome`), how long it took, the
carrier's own words, and the exchanges as connector log entries, credentials redacted
like every other entry.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from smscast.channels.base import LogEntry
from smscast.channels.http_log import log_exchange, scrub
from smscast.channels.providers.http_base import HttpSettings
from smscast.channels.providers.infobip import InfobipSettings
from smscast.channels.providers.kannel import KannelSettings
from smscast.channels.providers.twilio import TwilioSettings

#: How long a test waits for an answer (connect, bind or HTTP request) by default.
PROBE_TIMEOUT_S = 5.0
LOG_KIND = "test_connection"


class Outcome(enum.StrEnum):
    CONNECTED = "connected"  # the carrier let us in
    WRONG_CREDENTIALS = "wrong_credentials"  # refused who we said we are
    REFUSED = "refused"  # refused for another reason (its words in `detail`)
    NO_ANSWER = "no_answer"  # nothing came back within the timeout
    UNREACHABLE = "unreachable"  # no connection at all (refused, no route, bad name, TLS)
    UNEXPECTED = "unexpected"  # an answer that is not what this kind of carrier says


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What a connection test found. `code` is the carrier's (an SMPP command_status
    name, an HTTP status); `detail` its words, English, secrets removed."""

    outcome: Outcome
    duration_ms: float
    timeout_s: float
    detail: str = ""
    code: str | None = None
    log: tuple[LogEntry, ...] = ()

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.CONNECTED


def elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


# -- HTTP carriers -----------------------------------------------------------------

#: Reads an answer that is not a credentials refusal: (outcome, detail).
Reader = Callable[[httpx.Response], tuple[Outcome, str]]


async def probe_http(
    settings: HttpSettings,
    *,
    timeout_s: float = PROBE_TIMEOUT_S,
    transport: httpx.AsyncBaseTransport | None = None,
) -> ProbeResult:
    """One authenticated request that sends nothing, to the carrier `settings` names."""
    if isinstance(settings, TwilioSettings):
        path = f"/2010-04-01/Accounts/{settings.account_sid}.json"
        auth: httpx.Auth | None = httpx.BasicAuth(settings.account_sid, settings.auth_token)
        headers = {"Accept": "application/json"}
        params: dict[str, str] = {}
        secrets: tuple[str, ...] = (settings.auth_token,)
        read: Reader = _read_twilio
    elif isinstance(settings, InfobipSettings):
        path, auth, params = "/account/1/balance", None, {}
        headers = {"Authorization": f"App {settings.api_key}", "Accept": "application/json"}
        secrets, read = (settings.api_key,), _read_infobip
    elif isinstance(settings, KannelSettings):
        path, auth, headers = "/cgi-bin/sendsms", None, {}
        params = {"username": settings.username, "password": settings.password}
        secrets, read = (settings.password, settings.dlr_secret), _read_kannel
    else:
        raise TypeError(f"no connection test for {type(settings).__name__}")
    at = datetime.now(UTC)
    started = time.perf_counter()
    async with httpx.AsyncClient(
        base_url=settings.base_url, timeout=timeout_s, transport=transport, auth=auth
    ) as client:
        request = client.build_request("GET", path, params=params, headers=headers)
        try:
            response = await client.send(request)
        except httpx.TimeoutException as exc:
            outcome, detail, response = Outcome.NO_ANSWER, _why(exc), None
        except httpx.HTTPError as exc:
            outcome, detail, response = Outcome.UNREACHABLE, _why(exc), None
        took = elapsed_ms(started)
        code = None
        if response is not None:
            code = str(response.status_code)
            if response.status_code in (401, 403) and not isinstance(settings, KannelSettings):
                outcome, detail = Outcome.WRONG_CREDENTIALS, _said(response)
            else:
                outcome, detail = read(response)
        entry = log_exchange(
            settings.name,
            LOG_KIND,
            request,
            response,
            duration_ms=took,
            at=at,
            error=None if outcome is Outcome.CONNECTED else detail,
            secrets=secrets,
        )
    return ProbeResult(outcome, took, timeout_s, scrub(detail, secrets), code, (entry,))


def _why(exc: httpx.HTTPError) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _json(response: httpx.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return None


def _said(response: httpx.Response) -> str:
    """The carrier's own sentence about a refusal, whatever its JSON calls it."""
    body = _json(response)
    if isinstance(body, dict):
        error = body.get("requestError")
        if isinstance(error, dict):
            exception = error.get("serviceException") or error.get("policyException") or {}
            if isinstance(exception, dict) and exception.get("text"):
                return f"HTTP {response.status_code}: {exception['text']}"
        if body.get("message"):
            code = f" (error {body['code']})" if body.get("code") else ""
            return f"HTTP {response.status_code}: {body['message']}{code}"
    text = response.text.strip()[:200]
    return f"HTTP {response.status_code}" + (f": {text}" if text else "")


def _other(response: httpx.Response, carrier: str) -> tuple[Outcome, str]:
    if response.status_code == 429 or response.status_code >= 400:
        return Outcome.REFUSED, _said(response)
    return Outcome.UNEXPECTED, f"{carrier} answered {_said(response)}"


def _read_twilio(response: httpx.Response) -> tuple[Outcome, str]:
    body = _json(response)
    if response.status_code == 200 and isinstance(body, dict) and body.get("sid"):
        status = str(body.get("status") or "")
        if status and status != "active":  # suspended or closed: it cannot send
            return Outcome.REFUSED, f"the Twilio account is {status}"
        return Outcome.CONNECTED, f"account {body.get('friendly_name') or body['sid']} ({status})"
    return _other(response, "Twilio")


def _read_infobip(response: httpx.Response) -> tuple[Outcome, str]:
    body = _json(response)
    if response.status_code == 200 and isinstance(body, dict) and "balance" in body:
        return Outcome.CONNECTED, f"balance {body['balance']} {body.get('currency', '')}".strip()
    return _other(response, "Infobip")


def _read_kannel(response: httpx.Response) -> tuple[Outcome, str]:
    text = response.text.strip()[:200]
    if response.status_code == 403 or text.startswith("Authorization failed"):
        return Outcome.WRONG_CREDENTIALS, f"HTTP {response.status_code}: {text}"
    if response.status_code == 400 or (
        200 <= response.status_code < 300 and not text.startswith(("0:", "3:"))
    ):
        # Past the credentials check, refused for want of a receiver: nothing was sent.
        return Outcome.CONNECTED, f"sendsms accepted the credentials ({text or 'no text'})"
    return _other(response, "Kannel")
