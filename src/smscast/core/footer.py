"""The opt-out instruction that promotional messages carry where the workspace requires it.

It is appended before parts are counted, because it costs characters and can cost a
part (and, in Polish, its `ć` alone makes the message UCS-2 unless smart encoding
is on).
"""

from __future__ import annotations

OPT_OUT_FOOTERS: dict[str, str] = {
    "en": "Reply {keyword} to opt out",
    "pl": "Odpisz {keyword}, aby zrezygnować",
    "de": "Antworte {keyword} zum Abmelden",
    "fr": "Répondez {keyword} pour vous désabonner",
    "es": "Responde {keyword} para darte de baja",
    "it": "Rispondi {keyword} per disiscriverti",
    "pt": "Responda {keyword} para cancelar",
    "nl": "Antwoord {keyword} om af te melden",
}
"""Language -> the instruction, with the opt-out keyword filled in."""

DEFAULT_LANGUAGE = "en"


def opt_out_footer(language: str, *, keyword: str = "STOP") -> str:
    """The instruction in the contact's language (`pl-PL` → `pl`), English when we lack it."""
    base = language.replace("_", "-").split("-", 1)[0].lower()
    return OPT_OUT_FOOTERS.get(base, OPT_OUT_FOOTERS[DEFAULT_LANGUAGE]).format(keyword=keyword)


def with_opt_out(
    body: str, *, language: str, promotional: bool, required: bool, keyword: str = "STOP"
) -> str:
    """The body as sent: with the footer on its own line when the rules ask for it.

    A body that already ends with the instruction is left as it is, so a marketer who
    typed it themselves is not charged for it twice.
    """
    if not (promotional and required):
        return body
    footer = opt_out_footer(language, keyword=keyword)
    if body.rstrip().endswith(footer):
        return body
    return f"{body.rstrip()}\n{footer}" if body.strip() else footer
