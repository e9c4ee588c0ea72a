"""What a call says, and in which voice: from the contact's language to the provider's codes.

A person is called in their own language: Polish contacts hear a Polish voice, English
ones a British (or American) one. A language we have no voice for is spoken in English
rather than read out letter by letter in the wrong accent. After the message the person
hears how to stop these calls, in the same language, and, once they pressed the digit, a
confirmation. Pure values: no I/O, so each pick is tested alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Gender = Literal["female", "male"]
DIGITS = frozenset("0123456789")
ENGLISH_TAGS = ("en-GB", "en-US")

#: The voices by language tag and gender: the Amazon Polly names that both Twilio
#: (as `Polly.<name>`) and Infobip (as `voice.name`) speak with.
_VOICES: dict[str, dict[Gender, str]] = {
    "pl-PL": {"female": "Ewa", "male": "Jacek"},
    "en-GB": {"female": "Amy", "male": "Brian"},
    "en-US": {"female": "Joanna", "male": "Matthew"},
}
#: Infobip names its text-to-speech languages by these codes.
_INFOBIP_LANGUAGE = {"pl-PL": "pl", "en-GB": "en-gb", "en-US": "en"}
_PROMPT = {
    "pl": "Naciśnij {digit}, aby nie otrzymywać więcej połączeń.",
    "en": "Press {digit} to stop these calls.",
}
_CONFIRMATION = {
    "pl": "Nie będziesz już otrzymywać od nas połączeń. Do widzenia.",
    "en": "You will not get these calls from us any more. Goodbye.",
}


@dataclass(frozen=True, slots=True)
class Speech:
    """How one call speaks: its language tag (BCP 47), voice and the sentences around it."""

    tag: str  # pl-PL, en-GB, en-US
    voice: str  # the Polly voice name: Ewa, Amy, …
    gender: Gender

    @property
    def language(self) -> str:
        """The language's two letters: pl, en."""
        return self.tag[:2]

    @property
    def twilio_voice(self) -> str:
        return f"Polly.{self.voice}"

    @property
    def infobip_language(self) -> str:
        return _INFOBIP_LANGUAGE[self.tag]

    def opt_out_prompt(self, digit: str) -> str:
        """The sentence that tells the person which digit stops these calls."""
        return _PROMPT[self.language].format(digit=digit)

    def opt_out_confirmation(self) -> str:
        """What the person hears after pressing the digit, before the call ends."""
        return _CONFIRMATION[self.language]


def speech_for(
    language: str | None, *, gender: Gender = "female", english: str = "en-GB"
) -> Speech:
    """The speech for a contact's language (`pl`, `pl-PL`, `en_US`, "" …).

    `english` is the English spoken to English contacts whose language names no country,
    and to contacts in a language we have no voice for.
    """
    check_english(english)
    check_gender(gender)
    code = (language or "").strip().replace("_", "-")
    main, _, region = code.partition("-")
    main = main.lower()
    if main == "pl":
        tag = "pl-PL"
    elif main == "en" and f"en-{region.upper()}" in ENGLISH_TAGS:
        tag = f"en-{region.upper()}"
    else:
        tag = english
    return Speech(tag, _VOICES[tag][gender], gender)


def check_opt_out_digit(digit: str) -> str:
    """The digit a person presses to opt out: exactly one of 0-9."""
    if len(digit) != 1 or digit not in DIGITS:
        raise ValueError(f"opt_out_digit {digit!r} must be one digit 0-9")
    return digit


def check_gender(gender: str) -> None:
    if gender not in ("female", "male"):
        raise ValueError(f"voice_gender {gender!r} must be female or male")


def check_english(english: str) -> None:
    if english not in ENGLISH_TAGS:
        raise ValueError(f"english {english!r} must be one of {', '.join(ENGLISH_TAGS)}")
