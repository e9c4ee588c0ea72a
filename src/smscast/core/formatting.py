"""Dates, numbers and money as the contact reads them, in their language (Babel).

Formatting runs once per recipient, so Locale objects and formatted values are
cached: a campaign formats the same few prices and dates for thousands of people.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime, format_time
from babel.numbers import format_currency, format_decimal, format_percent

from smscast.core.errors import UserError

Number = int | float | Decimal


@lru_cache(maxsize=256)
def locale_for(language: str) -> Locale:
    """The Babel locale for a contact language such as `pl`, `pl-PL` or `pt_BR`."""
    try:
        return Locale.parse(language.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        raise UserError.of(
            "template.locale", f"unknown language {language!r} for formatting", field="language"
        ) from None


def as_number(value: object, what: str) -> Number:
    """A number from a contact attribute, which may arrive as text from a CSV import."""
    if isinstance(value, bool):
        raise _bad(value, what)
    if isinstance(value, int | float | Decimal):
        return value
    if isinstance(value, str):
        try:
            return Decimal(value.strip().replace(",", "."))
        except InvalidOperation:
            raise _bad(value, what) from None
    raise _bad(value, what)


def as_date(value: object, what: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise _bad(value, what) from None
    raise _bad(value, what)


def _bad(value: object, what: str) -> UserError:
    return UserError.of("template.value", f"{value!r} is not {what}", field=what)


@lru_cache(maxsize=8192)
def number(value: Number, language: str, decimals: int | None = None) -> str:
    if decimals is not None:
        value = round(Decimal(str(value)), decimals)
        pattern = "#,##0." + "0" * decimals if decimals > 0 else "#,##0"
        return format_decimal(value, format=pattern, locale=locale_for(language))
    return format_decimal(value, locale=locale_for(language))


@lru_cache(maxsize=8192)
def currency(value: Number, code: str, language: str) -> str:
    return format_currency(value, code.upper(), locale=locale_for(language))


@lru_cache(maxsize=8192)
def percent(value: Number, language: str) -> str:
    return format_percent(value, locale=locale_for(language))


@lru_cache(maxsize=8192)
def date(value: dt.date, style: str, language: str) -> str:
    day = value.date() if isinstance(value, dt.datetime) else value
    return format_date(day, style, locale=locale_for(language))


@lru_cache(maxsize=8192)
def date_time(value: dt.datetime, style: str, language: str, tz: dt.tzinfo | None) -> str:
    return format_datetime(value, style, tzinfo=tz, locale=locale_for(language))


@lru_cache(maxsize=8192)
def time(value: dt.datetime, style: str, language: str, tz: dt.tzinfo | None) -> str:
    return format_time(value, style, tzinfo=tz, locale=locale_for(language))
