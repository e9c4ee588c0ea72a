"""WhatsApp: the WhatsApp Business Cloud API and Infobip's WhatsApp API.

`KINDS` names the connector kinds this package adds, with their settings and connector
classes; `CALLBACK_SECRETS` the setting that proves a callback came from the provider.
`connector` holds what both share (template or text, one unit per message), `cloud` and
`infobip_whatsapp` the two wires, `webhooks` the verification and reading of what the
providers push to us.
"""

from typing import Any

from smscast.channels.whatsapp.cloud import CloudConnector, CloudSettings
from smscast.channels.whatsapp.infobip_whatsapp import (
    InfobipWhatsAppConnector,
    InfobipWhatsAppSettings,
)

KINDS: dict[str, tuple[type[Any], type[Any]]] = {
    "whatsapp_cloud": (CloudSettings, CloudConnector),
    "infobip_whatsapp": (InfobipWhatsAppSettings, InfobipWhatsAppConnector),
}
CALLBACK_SECRETS: dict[str, tuple[str, str]] = {
    "whatsapp_cloud": ("app_secret", "Meta signs every webhook with the app secret"),
    "infobip_whatsapp": ("webhook_secret", "Infobip must present it on every push"),
}
