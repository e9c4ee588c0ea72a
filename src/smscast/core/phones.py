"""Phone numbers: parsing to E.164, the country and time zone a number implies.

Every contact's phone is stored in E.164 (`+48600100200`). Parsing runs for every
row of an import, so the common shape — an international number written with
digits, spaces, dots, dashes or brackets — takes a fast path that builds the
number directly and only asks `phonenumbers` whether it is valid; anything else
goes through the full parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat
from phonenumbers import timezone as phone_timezones

from smscast.core.errors import Problem

_SEPARATORS = re.compile(r"[\s().\-/]+")
_DIGITS = re.compile(r"\d{4,17}")
_UNKNOWN_ZONE = "Etc/Unknown"


@dataclass(frozen=True, slots=True)
class Phone:
    """A valid number: its E.164 form and the country (ISO 3166 alpha-2) it belongs to."""

    e164: str
    country: str


class PhoneError(ValueError):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def is_known_country(country: str) -> bool:
    return phonenumbers.country_code_for_region(country.upper()) != 0


def parse_phone(raw: str, default_country: str) -> Phone:
    """Parses `raw`; a number without `+` or `00` is read in `default_country`.

    Raises PhoneError naming the number and the country when it is not valid.
    """
    text = raw.strip()
    if not text:
        raise _invalid(raw, default_country, "phone number is empty")
    compact = _SEPARATORS.sub("", text)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if compact.startswith("+") and _DIGITS.fullmatch(compact, 1):
        phone = _fast_international(compact[1:])
        if phone is not None:
            return phone
    return _parse_slow(text, default_country)


def _fast_international(digits: str) -> Phone | None:
    for length in (1, 2, 3):
        country_code = int(digits[:length])
        regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(country_code)
        if regions is None:
            continue
        national = digits[length:]
        if not national:
            return None
        number = PhoneNumber(country_code=country_code, national_number=int(national))
        zeros = len(national) - len(national.lstrip("0"))
        if zeros:
            number.italian_leading_zero = True
            number.number_of_leading_zeros = zeros
        if not phonenumbers.is_valid_number(number):
            return None
        region = regions[0] if len(regions) == 1 else _region_of(number)
        return Phone("+" + digits, region)
    return None


def _parse_slow(text: str, default_country: str) -> Phone:
    region = default_country.upper()
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as error:
        raise _invalid(text, region, _reason(error)) from None
    if not phonenumbers.is_valid_number(number):
        raise _invalid(text, region, None)
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    return Phone(e164, _region_of(number))


def _region_of(number: PhoneNumber) -> str:
    return phonenumbers.region_code_for_number(number) or "ZZ"


def _reason(error: NumberParseException) -> str:
    reasons = {
        NumberParseException.INVALID_COUNTRY_CODE: "unknown country calling code",
        NumberParseException.NOT_A_NUMBER: "not a phone number",
        NumberParseException.TOO_SHORT_NSN: "too short",
        NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
        NumberParseException.TOO_LONG: "too long",
    }
    return reasons.get(error.error_type, str(error))


def _invalid(raw: str, region: str, reason: str | None) -> PhoneError:
    message = f'"{raw}" is not a valid phone number for {region}'
    if reason:
        message += f" ({reason})"
    return PhoneError(Problem("invalid_phone", message, field="phone"))


def timezone_for_phone(e164: str, fallback: str) -> str:
    """The time zone a number implies, or `fallback` when it spans several zones.

    Numbers of a country with one zone (+48 → Europe/Warsaw) need no lookup; for
    countries with several, phonenumbers knows the zone of geographic numbers
    (+1 212 → America/New_York) but not of mobiles, which get `fallback`.
    """
    single = _single_zone_of_country(e164[1:4])
    if single is not None:
        return single
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return fallback
    zones = phone_timezones.time_zones_for_number(number)
    if len(zones) == 1 and zones[0] != _UNKNOWN_ZONE:
        return zones[0]
    return fallback


@lru_cache(maxsize=1024)
def _single_zone_of_country(leading: str) -> str | None:
    """The only zone of the country whose calling code starts `leading`, if there is one."""
    from phonenumbers.tzdata import TIMEZONE_DATA

    for length in (1, 2, 3):
        code = leading[:length]
        if int(code) not in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            continue
        zones = {
            zone
            for prefix, names in TIMEZONE_DATA.items()
            if prefix.startswith(code)
            for zone in names
        }
        return zones.pop() if len(zones) == 1 else None
    return None
