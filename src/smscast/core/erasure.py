"""The keyed hash that remembers an erased phone without keeping it."""

from __future__ import annotations

import hashlib
import hmac


def phone_hash(key: bytes, e164: str) -> str:
    """HMAC-SHA256 of the E.164 number: without the key, a list of phones can't be matched."""
    return hmac.new(key, e164.encode(), hashlib.sha256).hexdigest()
