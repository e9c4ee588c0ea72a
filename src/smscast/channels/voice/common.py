"""What the Infobip and Twilio voice connectors share: settings, hook URLs, the spoken text.

Both providers call us back at URLs we hand them with each call: `callback_base_url`
(the public URL of `smscast serve`) followed by `/hooks/<kind>/<connector id>/…`. The
connector id is not a setting a person types: the engine fills it in when it builds the
connector from its row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from smscast.channels.base import OutgoingMessage
from smscast.channels.providers.http_base import HttpSettings
from smscast.channels.voice.speech import (
    Gender,
    Speech,
    check_english,
    check_gender,
    check_opt_out_digit,
    speech_for,
)

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


@dataclass(frozen=True, slots=True, kw_only=True)
class VoiceSettings(HttpSettings):
    """Settings every voice connector has beside the provider's credentials."""

    callback_base_url: str = ""  # the public URL of smscast serve; "" asks for no callbacks
    connector_id: int = 0  # filled in by the engine from the connector's row
    voice_gender: str = "female"  # female or male
    english: str = "en-GB"  # the English spoken where the contact's says no country
    opt_out_digit: str = "9"  # the key a person presses to stop these calls
    opt_out_prompt: bool = True  # say how to stop these calls after the message
    ring_timeout_s: int = 30  # how long a call rings before it counts as not answered
    digit_timeout_s: int = 5  # how long the call waits for the digit after the message

    def __post_init__(self) -> None:
        # `--setting opt_out_digit=9` arrives as the number 9, a sender as a number too.
        object.__setattr__(self, "opt_out_digit", check_opt_out_digit(str(self.opt_out_digit)))
        object.__setattr__(self, "sender", str(self.sender))
        check_gender(self.voice_gender)
        check_english(self.english)
        base = self.callback_base_url
        if base and (urlsplit(base).scheme not in ("http", "https") or not urlsplit(base).netloc):
            raise ValueError(f"callback_base_url {base!r} must be an http(s) URL")
        object.__setattr__(self, "callback_base_url", base.rstrip("/"))
        for name in ("ring_timeout_s", "digit_timeout_s"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 600:
                raise ValueError(f"{name} {value!r} must be a whole number of seconds, 1-600")

    def speech(self, message: OutgoingMessage) -> Speech:
        """The language and voice of the call, from the contact's language in `extras`."""
        language: Any = message.extras.get("language")
        return self.speech_in(language if isinstance(language, str) else "")

    def speech_in(self, language: str) -> Speech:
        """The speech of this connector's voice for a language code (pl, en-US, …)."""
        gender: Gender = "male" if self.voice_gender == "male" else "female"
        return speech_for(language, gender=gender, english=self.english)

    def hook_url(self, kind: str, purpose: str, **query: str) -> str:
        """Our URL the provider calls back for `purpose` (status, gather, reports)."""
        url = f"{self.callback_base_url}/hooks/{kind}/{self.connector_id}/{purpose}"
        return f"{url}?{urlencode(query)}" if query else url

    def check_callbacks(self) -> None:
        """Refuses to start a connector that would hand out callback URLs nobody serves."""
        if self.callback_base_url and self.connector_id <= 0:
            raise ValueError(
                f"connector {self.name!r}: callback_base_url is set but the connector was "
                "built without its id, so the callback URLs would name no connector"
            )


def public_url(base: str, called: str) -> str:
    """The URL a provider signed: our public base with the path and query it called.

    Behind a proxy the request reaches us under another host (and scheme); the provider
    signed the URL we handed it, which starts with `callback_base_url`.
    """
    if not base:
        return called
    parts = urlsplit(called)
    return f"{base}{parts.path}" + (f"?{parts.query}" if parts.query else "")
