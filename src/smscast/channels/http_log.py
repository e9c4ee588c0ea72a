"""Connector log entries for HTTP exchanges, with every credential taken out.

Each request to a carrier and each answer is kept so that an operator can see
exactly what went over the wire for a message. Those texts are shown in the UI and
the API, so nothing that lets someone act as us may survive in them: the
Authorization header, basic-auth user info, passwords, tokens and API keys in query
strings, form bodies and JSON bodies, and any secret the connector names explicitly
(in case a carrier echoes it somewhere we did not foresee).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

import httpx

from smscast.channels.base import LogEntry

REDACTED = "[redacted]"
MAX_BODY_CHARS = 16_000

# Compared after lower-casing and dropping "-" and "_", so "Auth-Token", "auth_token"
# and "AuthToken" are one name.
_SECRET_NAMES = frozenset(
    {
        "password",
        "passwd",
        "pass",
        "pwd",
        "token",
        "authtoken",
        "accesstoken",
        "refreshtoken",
        "apikey",
        "apisecret",
        "key",
        "secret",
        "clientsecret",
        "sharedsecret",
        "authorization",
        "proxyauthorization",
        "cookie",
        "setcookie",
        "xapikey",
        "xtwiliosignature",
        "signature",
    }
)
# Headers whose first word says how a credential is presented; that word is kept.
_SCHEMED_HEADERS = frozenset({"authorization", "proxyauthorization"})


def is_secret_name(name: str) -> bool:
    """True for a parameter, field or header name that carries a credential."""
    return name.lower().replace("-", "").replace("_", "") in _SECRET_NAMES


def redact_url(url: str) -> str:
    """The URL without user info and with secret query parameters blanked.

    A query value that is itself a URL (Kannel's dlr-url) is redacted the same way,
    since our per-message callback token travels inside it.
    """
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rsplit('@', 1)[1]}"
    query = redact_query(parts.query) if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_query(query: str) -> str:
    """A urlencoded string (query or form body) with secret values blanked."""
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(name, _redact_value(name, value)) for name, value in pairs])


def _redact_value(name: str, value: str) -> str:
    if is_secret_name(name):
        return REDACTED
    if value.startswith(("http://", "https://")):
        return redact_url(value)
    return value


def redact_json(value: object) -> object:
    """A decoded JSON document with the values of secret-named keys blanked."""
    if isinstance(value, dict):
        return {
            key: REDACTED if is_secret_name(str(key)) else redact_json(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact_json(item) for item in value]
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        return redact_url(value)
    return value


def redact_headers(headers: Iterable[tuple[str, str]]) -> list[str]:
    """Header lines with credential values blanked, keeping an auth scheme word."""
    lines = []
    for name, value in headers:
        if is_secret_name(name):
            scheme = value.split(" ", 1)[0] if " " in value else ""
            keep = scheme if name.lower().replace("-", "") in _SCHEMED_HEADERS else ""
            value = f"{keep} {REDACTED}".strip()
        lines.append(f"{name}: {value}")
    return lines


def redact_body(body: str, content_type: str) -> str:
    """A request or response body with secrets blanked according to its type."""
    if not body:
        return ""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/json" or (not kind and body.lstrip().startswith(("{", "["))):
        try:
            document = json.loads(body)
        except ValueError:
            return body
        return json.dumps(redact_json(document), ensure_ascii=False)
    if kind == "application/x-www-form-urlencoded":
        return redact_query(body)
    return body


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Removes every known secret from `text`, raw or percent-encoded, wherever it is."""
    for secret in secrets:
        if len(secret) < 4:
            continue  # too short to search for without blanking ordinary text
        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            text = text.replace(form, REDACTED)
    return text


def render_http(
    first_line: str,
    headers: Iterable[tuple[str, str]],
    body: str,
    content_type: str = "",
) -> str:
    """One side of an exchange as an operator reads it: first line, headers, body."""
    text = "\n".join([first_line, *redact_headers(headers)])
    shown = redact_body(body, content_type)
    if len(shown) > MAX_BODY_CHARS:
        shown = shown[:MAX_BODY_CHARS] + f"… ({len(shown) - MAX_BODY_CHARS} more characters)"
    return f"{text}\n\n{shown}" if shown else text


def render_request(request: httpx.Request) -> str:
    """An outgoing httpx request, redacted."""
    body = request.content.decode("utf-8", errors="replace")
    return render_http(
        f"{request.method} {redact_url(str(request.url))}",
        request.headers.multi_items(),
        body,
        request.headers.get("content-type", ""),
    )


def render_response(response: httpx.Response) -> str:
    """A carrier's answer, redacted (its body must have been read)."""
    return render_http(
        f"HTTP {response.status_code} {response.reason_phrase}".rstrip(),
        response.headers.multi_items(),
        response.text,
        response.headers.get("content-type", ""),
    )


def log_exchange(
    connector: str,
    kind: str,
    request: httpx.Request,
    response: httpx.Response | None,
    *,
    duration_ms: float,
    at: datetime,
    refs: tuple[int, ...] = (),
    error: str | None = None,
    secrets: Iterable[str] = (),
) -> LogEntry:
    """The connector log entry for one request and its answer (or the failure instead)."""
    secrets = tuple(secrets)
    return LogEntry(
        connector=connector,
        kind=kind,
        request=scrub(render_request(request), secrets),
        response=scrub(render_response(response), secrets) if response is not None else "",
        duration_ms=duration_ms,
        at=at,
        refs=refs,
        error=scrub(error, secrets) if error is not None else None,
    )


def log_webhook(
    connector: str,
    kind: str,
    *,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: str,
    at: datetime,
    refs: tuple[int, ...] = (),
    error: str | None = None,
    secrets: Iterable[str] = (),
) -> LogEntry:
    """The connector log entry for a callback a carrier made to us, accepted or not.

    The API calls this for every webhook, so a forged one is on record with the
    reason it was refused, next to the genuine traffic of the same connector.
    """
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    request = render_http(f"{method} {redact_url(url)}", headers.items(), body, content_type)
    secrets = tuple(secrets)
    return LogEntry(
        connector=connector,
        kind=kind,
        request=scrub(request, secrets),
        response="HTTP 403 Forbidden" if error else "HTTP 200 OK",
        duration_ms=0.0,
        at=at,
        refs=refs,
        error=scrub(error, secrets) if error is not None else None,
    )
