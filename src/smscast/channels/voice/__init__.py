"""Voice: text-to-speech calls through Infobip's and Twilio's voice APIs.

`KINDS` names the connector kinds this package adds, with their settings and connector
classes; `CALLBACK_SECRETS` the setting that proves a callback came from the provider.
A call speaks the contact's language (`speech`), says which digit stops these calls,
and its answered / not answered outcome comes back as the message's delivery report.
"""

from typing import Any

from smscast.channels.voice.infobip_voice import InfobipVoiceConnector, InfobipVoiceSettings
from smscast.channels.voice.twilio_voice import TwilioVoiceConnector, TwilioVoiceSettings

KINDS: dict[str, tuple[type[Any], type[Any]]] = {
    "infobip_voice": (InfobipVoiceSettings, InfobipVoiceConnector),
    "twilio_voice": (TwilioVoiceSettings, TwilioVoiceConnector),
}
CALLBACK_SECRETS: dict[str, tuple[str, str]] = {
    "infobip_voice": ("webhook_secret", "Infobip must present it on every report push"),
    "twilio_voice": ("auth_token", "Twilio signs every callback with it"),
}
