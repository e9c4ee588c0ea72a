"""Web push: VAPID-signed, encrypted messages to browsers' push services (RFC 8030/8291/8292).

`KINDS` names the connector kinds this package adds, with their settings and connector
classes; `CALLBACK_SECRETS` the setting that proves a callback came from the provider.
"""

from typing import Any

KINDS: dict[str, tuple[type[Any], type[Any]]] = {}
CALLBACK_SECRETS: dict[str, tuple[str, str]] = {}
