"""Email: SMTP out (aiosmtplib), and in (replies, bounces, complaints) by an SMTP listener.

`KINDS` names the connector kinds this package adds, with their settings and connector
classes; `CALLBACK_SECRETS` the setting that proves a callback came from the provider
(none for SMTP: bounces and replies come as mail to our listener, not as callbacks).
"""

from typing import Any

from smscast.channels.email.smtp import SmtpConnector, SmtpSettings

KINDS: dict[str, tuple[type[Any], type[Any]]] = {"smtp": (SmtpSettings, SmtpConnector)}
CALLBACK_SECRETS: dict[str, tuple[str, str]] = {}
