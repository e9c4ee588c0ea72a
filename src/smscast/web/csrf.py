"""CSRF tokens: one on every portal form (hidden field) and htmx request (header).

A token is an HMAC, with the server's secret key, of a cookie the browser holds and
another site can neither read nor set on our behalf: the session cookie once signed
in, before that a random `smscast_csrf` cookie (so the sign-in form is covered too).
Another site can make a browser send those cookies but cannot compute the token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping

from smscast.api.deps import SESSION_COOKIE

CSRF_COOKIE = "smscast_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def token_for(key: bytes, binding: str) -> str:
    """The token for pages shown to the holder of the cookie value `binding`."""
    return hmac.new(key, b"smscast-csrf\x00" + binding.encode(), hashlib.sha256).hexdigest()


def binding_of(cookies: Mapping[str, str]) -> str | None:
    """The cookie value tokens on the next page are bound to (None: the browser has none
    yet, and the page must set a fresh `smscast_csrf` cookie)."""
    return cookies.get(SESSION_COOKIE) or cookies.get(CSRF_COOKIE) or None


def token_is_valid(key: bytes, token: str | None, cookies: Mapping[str, str]) -> bool:
    """Whether `token` was made for a cookie the request carries.

    Either cookie is accepted: a sign-in form shown before signing in (bound to
    `smscast_csrf`) still works if the user signed in meanwhile in another tab.
    """
    if not token:
        return False
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        value = cookies.get(name)
        if value and hmac.compare_digest(token_for(key, value), token):
            return True
    return False
