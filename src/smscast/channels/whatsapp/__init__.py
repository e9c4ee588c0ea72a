"""WhatsApp: the WhatsApp Business Cloud API and Infobip's WhatsApp API.

`KINDS` names the connector kinds this package adds, with their settings and connector
classes; `CALLBACK_SECRETS` the setting that proves a callback came from the provider.
"""

from typing import Any

KINDS: dict[str, tuple[type[Any], type[Any]]] = {}
CALLBACK_SECRETS: dict[str, tuple[str, str]] = {}
