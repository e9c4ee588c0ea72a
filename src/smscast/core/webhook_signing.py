"""Signing outgoing webhooks and spacing their retries: pure rules, no I/O.

Each delivery carries `Smscast-Signature: t=<unix seconds>,v1=<hex>` where the hex
is HMAC-SHA256 keyed by the endpoint's secret over `<t>.<raw body>`. Binding the
timestamp into the signature lets a receiver refuse replays of old deliveries.
Retries back off exponentially (30 s doubling, at most 2 h apart) and stop once
24 hours have passed since the event.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

SIGNATURE_HEADER = "Smscast-Signature"
FIRST_RETRY = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=2)
GIVE_UP_AFTER = timedelta(hours=24)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of `<timestamp>.<body>` keyed by `secret`."""
    signed = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify_signature_header(
    secret: str, header: str, body: bytes, now: int, tolerance_s: int = 300
) -> bool:
    """What a receiver does: the header parses, is recent, and one v1 value matches."""
    fields: dict[str, list[str]] = {}
    for item in header.split(","):
        name, sep, value = item.strip().partition("=")
        if sep:
            fields.setdefault(name, []).append(value)
    stamps = fields.get("t", [])
    if len(stamps) != 1 or not stamps[0].isdigit():
        return False
    timestamp = int(stamps[0])
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, given) for given in fields.get("v1", []))


def next_attempt(created_at: datetime, attempts: int, now: datetime) -> datetime | None:
    """When to try again after `attempts` failed tries, or None once 24 h are used up."""
    wait = min(FIRST_RETRY * (2 ** max(0, min(attempts - 1, 20))), LONGEST_WAIT)
    due = now + wait
    deadline = created_at + GIVE_UP_AFTER
    if now >= deadline:
        return None
    return due if due < deadline else deadline
