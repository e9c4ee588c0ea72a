"""Languages of the portal: the catalogues, choosing one per request, and formatting.

Words live in `locale/<lang>/LC_MESSAGES/messages.po` (English is the source text).
`./dev` compiles them to `.mo`; a `.mo` that is missing or older than its `.po` is
compiled from the `.po` in memory at start, and a language without any catalogue
stops the start: a Polish user must never be shown English because a build step
was skipped.

The language of a request is the user's choice (remembered on the user, or a cookie
when signed out), else the browser's `Accept-Language`, else the workspace's default
(setting `portal_language`), else English.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
DEFAULT_LANGUAGE = "en"
LANGUAGES: tuple[str, ...] = ("en", "pl")
LANGUAGE_NAMES: Mapping[str, str] = {"en": "English", "pl": "Polski"}  # each in its own words
LANGUAGE_COOKIE = "smscast_lang"
WORKSPACE_LANGUAGE_SETTING = "portal_language"


Catalogue = Translations | NullTranslations


class MissingCatalogue(RuntimeError):
    """A supported language has neither a .mo nor a .po file: the portal must not start."""


def N_(message: str) -> str:
    """Marks a string for extraction without translating it yet (it is translated when
    shown, in the reader's language): nav labels, messages built before a request."""
    return message


def load_translations(language: str, locale_dir: Path = LOCALE_DIR) -> Catalogue:
    """The catalogue of `language`: its .mo when up to date, else compiled from its .po."""
    if language == DEFAULT_LANGUAGE:
        return NullTranslations()  # the source text is English
    folder = locale_dir / language / "LC_MESSAGES"
    mo, po = folder / f"{DOMAIN}.mo", folder / f"{DOMAIN}.po"
    if mo.is_file() and (not po.is_file() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as handle:
            return Translations(handle, domain=DOMAIN)
    if not po.is_file():
        raise MissingCatalogue(
            f"no translation catalogue for {language!r}: neither {mo} nor {po} exists"
        )
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def parse_accept_language(header: str) -> list[str]:
    """The languages of an `Accept-Language` header, most wanted first (q=0 dropped)."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, position, tag.strip().lower()))
    return [tag for _, _, tag in sorted(ranked)]


def supported(language: str | None) -> str | None:
    """`language` (or its primary subtag: pl-PL → pl) when the portal speaks it."""
    if not language:
        return None
    primary = language.lower().replace("_", "-").split("-")[0]
    return primary if primary in LANGUAGES else None


def choose_language(
    *,
    chosen: str | None,
    cookie: str | None,
    accept_language: str,
    workspace_default: str | None,
) -> str:
    """The language to answer in, by the order the module docstring gives."""
    for candidate in (chosen, cookie):
        if (found := supported(candidate)) is not None:
            return found
    for tag in parse_accept_language(accept_language):
        if tag == "*":
            break
        if (found := supported(tag)) is not None:
            return found
    return supported(workspace_default) or DEFAULT_LANGUAGE


# Formatting: the filters templates use. `zone` is the workspace's time zone.


def format_number(value: float | int | Decimal, language: str) -> str:
    return babel_numbers.format_decimal(value, locale=language)


def format_percent(ratio: float | Decimal | None, language: str, digits: int = 1) -> str:
    """A ratio (0.253) as a percentage (25.3 % in Polish); None (no denominator) as a dash."""
    if ratio is None:
        return "–"
    pattern = "#,##0." + "0" * digits + "%" if digits else "#,##0%"
    return babel_numbers.format_percent(ratio, format=pattern, locale=language)


def format_money(amount: float | Decimal, currency: str, language: str) -> str:
    """Money as the language writes it, with CLDR's currency spacing that Babel leaves
    out: a symbol made of letters ("PLN") is kept apart from the digits by a no-break
    space ("PLN 12.50", as "12,50 zł"), while "€12.50" stays as it is."""
    text = babel_numbers.format_currency(amount, currency, locale=language)
    symbol = babel_numbers.get_currency_symbol(currency, locale=language)
    if symbol[-1:].isalpha():  # "PLN12.50": the symbol's last letter meets a digit
        text = re.sub(rf"({re.escape(symbol)})(?=\d)", "\\1\u00a0", text)
    if symbol[:1].isalpha():  # "12.50PLN": a digit meets the symbol's first letter
        text = re.sub(rf"(?<=\d)({re.escape(symbol)})", "\u00a0\\1", text)
    return text


def format_datetime(moment: datetime, language: str, zone: str, width: str = "medium") -> str:
    """A moment in the workspace's time zone, written as the reader's language writes it."""
    return babel_dates.format_datetime(moment, width, tzinfo=ZoneInfo(zone), locale=language)


def format_date(moment: datetime, language: str, zone: str, width: str = "medium") -> str:
    return babel_dates.format_date(moment.astimezone(ZoneInfo(zone)), width, locale=language)


def format_time(moment: datetime, language: str, zone: str, width: str = "short") -> str:
    return babel_dates.format_time(moment, width, tzinfo=ZoneInfo(zone), locale=language)


def currency_of_country(country: str) -> str:
    """The currency a workspace's country pays in (PL → PLN), for money without one given."""
    found: Iterable[str] = babel_numbers.get_territory_currencies(country.upper())
    return next(iter(found), "EUR")


def language_name(language: str) -> str:
    return LANGUAGE_NAMES.get(language) or Locale.parse(language).display_name or language
