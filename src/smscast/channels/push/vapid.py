"""VAPID (RFC 8292): the key pair that identifies us to browsers' push services.

A browser subscribes with our public key (the `applicationServerKey`), and the push
service then takes messages for that subscription only when they carry a JWT signed
with the matching private key: `Authorization: vapid t=<JWT>,k=<public key>`. The JWT
names the push service (`aud`, its origin), a contact for its operators (`sub`, a
`mailto:` or `https:` URL) and when it stops being good (`exp`, at most 24 hours on).

The private key is taken as PEM (SEC1 or PKCS#8) or as base64url: the raw 32-byte
scalar, which is what `generate_vapid_keys` prints, or DER. The public key is the
uncompressed P-256 point in base64url (65 bytes), the form a browser is given.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid.jwt import decode as decode_jwt
from py_vapid.jwt import sign as sign_jwt

SUBJECT = re.compile(r"^(mailto:[^@\s]+@[^@\s]+|https://[^\s/]+(/\S*)?)$", re.IGNORECASE)
MAX_JWT_LIFETIME_S = 24 * 3600  # RFC 8292 §2: push services refuse a longer one


class VapidError(ValueError):
    """A key or subject that cannot sign or be checked; the message names the setting."""


@dataclass(frozen=True, slots=True)
class VapidKeys:
    """A key pair as the connector's settings hold it (base64url, no padding)."""

    private: str  # the raw 32-byte scalar
    public: str  # the uncompressed point (65 bytes), the browser's applicationServerKey


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Base64url with or without padding (browsers send it without); plain base64 too."""
    value = text.strip().replace("+", "-").replace("/", "_").rstrip("=")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise VapidError(f"not base64url: {exc}") from None


def generate_vapid_keys() -> VapidKeys:
    """A fresh P-256 key pair for a webpush connector."""
    key = ec.generate_private_key(ec.SECP256R1())
    return VapidKeys(b64url(key.private_numbers().private_value.to_bytes(32, "big")),
                     public_key_text(key.public_key()))  # fmt: skip


def public_key_text(key: ec.EllipticCurvePublicKey) -> str:
    return b64url(
        key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )


def load_private_key(text: str) -> ec.EllipticCurvePrivateKey:
    """The signing key from a setting: PEM, or base64url raw scalar or DER."""
    value = text.strip()
    if not value:
        raise VapidError("vapid_private_key is empty")
    try:
        if "-----BEGIN" in value:
            key: Any = serialization.load_pem_private_key(value.encode(), password=None)
        else:
            raw = b64url_decode(value.replace("\n", ""))
            if len(raw) == 32:
                key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
            else:
                key = serialization.load_der_private_key(raw, password=None)
    except (ValueError, TypeError) as exc:
        raise VapidError(f"vapid_private_key is not a P-256 private key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise VapidError("vapid_private_key must be an EC key on the P-256 curve")
    return key


def load_public_key(text: str, *, field: str = "vapid_public") -> ec.EllipticCurvePublicKey:
    """An uncompressed P-256 point in base64url (a VAPID key or a browser's p256dh)."""
    try:
        raw = b64url_decode(text)
    except VapidError as exc:
        raise VapidError(f"{field}: {exc}") from None
    if len(raw) != 65 or raw[0] != 4:
        raise VapidError(f"{field} must be an uncompressed P-256 point (65 bytes, base64url)")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError:
        raise VapidError(f"{field} is not a point on the P-256 curve") from None


def check_subject(subject: str) -> str:
    """The `sub` claim: push services write to it when our messages cause trouble."""
    value = subject.strip()
    if not SUBJECT.match(value):
        raise VapidError(
            f"subject {subject!r} must be a mailto: address or an https: URL where the push "
            "service's operators can reach you (like mailto:push@example.com)"
        )
    return value


def audience_of(endpoint: str) -> str:
    """The push service's origin, which the JWT must name (`aud`)."""
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"


def vapid_authorization(
    key: ec.EllipticCurvePrivateKey, public: str, audience: str, subject: str, expires: datetime
) -> str:
    """The `Authorization` header value of one request (RFC 8292 §3)."""
    claims = {"aud": audience, "exp": int(expires.timestamp()), "sub": subject}
    return f"vapid t={sign_jwt(claims, key)},k={public}"


def read_vapid_authorization(header: str) -> tuple[str, dict[str, Any]]:
    """(public key, claims) of a `vapid t=…,k=…` header whose signature holds; else
    VapidError saying what is wrong. What a push service checks first (the fake's part)."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "vapid":
        raise VapidError(f"Authorization scheme {scheme!r} is not vapid")
    params: dict[str, str] = {}
    for item in rest.split(","):
        name, sep, value = item.strip().partition("=")
        if sep:
            params[name.strip().lower()] = value.strip()
    if "t" not in params or "k" not in params:
        raise VapidError("Authorization must carry t=<JWT> and k=<public key>")
    load_public_key(params["k"], field="k")
    try:
        claims = decode_jwt(params["t"], params["k"])
    except Exception:  # py_vapid raises InvalidSignature for anything it cannot check
        raise VapidError("the JWT's signature does not match the key k") from None
    if not isinstance(claims, dict):
        raise VapidError("the JWT's claims are not an object")
    return params["k"], claims


def keys_match(private: ec.EllipticCurvePrivateKey, public: str) -> bool:
    return public_key_text(private.public_key()) == b64url(b64url_decode(public))
