"""What every carrier callback handler shares: refusal, secrets, field reading.

Carriers call us back with delivery reports and inbound texts. Anyone on the
internet can call the same URLs, so each callback is verified before it is read,
and a callback that is forged or malformed raises `WebhookRejected` naming what is
wrong; the API answers it with 403 and keeps it in the connector log. Nothing here
knows about a web framework: the API hands in plain mappings and strings.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime


class WebhookRejected(Exception):
    """A callback we refuse: forged, unauthenticated or not in the carrier's shape."""

    status = 403

    def __init__(self, provider: str, reason: str) -> None:
        super().__init__(f"{provider} webhook rejected: {reason}")
        self.provider = provider
        self.reason = reason


def same_secret(given: str, expected: str) -> bool:
    """Compares a presented secret in constant time, so timing reveals nothing of it."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def message_token(secret: str, connector: str, ref: int) -> str:
    """A token that authorises callbacks about one message of one connector only.

    It goes into the callback URL we hand the carrier with that message; a leaked
    token cannot be replayed for any other message, and the secret never leaves us.
    """
    digest = hmac.new(secret.encode("utf-8"), f"{connector}:{ref}".encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def check_basic_auth(provider: str, header: str | None, username: str, password: str) -> None:
    """Raises unless `header` is HTTP basic auth with exactly these credentials."""
    if not header:
        raise WebhookRejected(provider, "no Authorization header")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise WebhookRejected(provider, "Authorization is not HTTP basic auth")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except ValueError as exc:
        raise WebhookRejected(provider, "Authorization basic credentials are not base64") from exc
    given_user, sep, given_password = decoded.partition(":")
    user_ok = same_secret(given_user, username)
    password_ok = same_secret(given_password, password)
    if not (sep and user_ok and password_ok):
        raise WebhookRejected(provider, "wrong basic auth credentials")


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, whatever case the framework or the carrier used."""
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def required(provider: str, fields: Mapping[str, str], name: str) -> str:
    """A field the carrier always sends; its absence means the callback is not genuine."""
    value = fields.get(name)
    if value is None or value == "":
        raise WebhookRejected(provider, f"field {name!r} is missing")
    return value


def optional_int(provider: str, fields: Mapping[str, str], name: str) -> int | None:
    """An integer field that may be absent, refused when present but not a number."""
    value = fields.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise WebhookRejected(provider, f"field {name!r} is not a number: {value!r}") from exc


def parse_carrier_time(provider: str, name: str, value: str) -> datetime:
    """An ISO 8601 timestamp as carriers write them (`+0000` or `Z`), as aware UTC."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise WebhookRejected(provider, f"field {name!r} is not a timestamp: {value!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
