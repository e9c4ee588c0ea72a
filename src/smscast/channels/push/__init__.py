"""Web push: VAPID-signed, encrypted messages to browsers' push services (RFC 8030/8291/8292).

`KINDS` names the connector kinds this package adds, with their settings and connector
classes; `CALLBACK_SECRETS` the setting that proves a callback came from the provider
(none: push services never call us back, a message's fate is the answer to its POST).
`python -m smscast.channels.push --generate-keys` prints a new VAPID key pair.
"""

from typing import Any

from smscast.channels.push.webpush import WebPushConnector, WebPushSettings

KINDS: dict[str, tuple[type[Any], type[Any]]] = {"webpush": (WebPushSettings, WebPushConnector)}
CALLBACK_SECRETS: dict[str, tuple[str, str]] = {}
