"""Phone numbers: parsing to E.164, the country and time zone a number implies.

Every contact's phone is stored in E.164 (`+48600100200`). Parsing runs for every
row of an import, so the common shape — an international number written with
digits, spaces, dots, dashes or brackets — takes a fast path that builds the
number directly and only asks `phonenumbers` whether it is valid; anything else
goes through the full parser.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import NamedTuple

import phonenumbers
from phonenumbers import (
    NumberParseException,
    PhoneMetadata,
    PhoneNumber,
    PhoneNumberDesc,
    PhoneNumberFormat,
)
from phonenumbers import timezone as phone_timezones

from smscast.core.errors import Problem

_DROP_SEPARATORS = str.maketrans("", "", " \t\u00a0().-/")
_DIGITS = re.compile(r"\d{4,17}")
_UNKNOWN_ZONE = "Etc/Unknown"


class Phone(NamedTuple):
    """A valid number: its E.164 form and the country (ISO 3166 alpha-2) it belongs to.

    A named tuple: an import makes a million of these, and a frozen dataclass
    costs several times as much to build.
    """

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
    compact = text.translate(_DROP_SEPARATORS)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if compact.startswith("+") and _DIGITS.fullmatch(compact, 1):
        phone = _fast_international(compact[1:])
        if phone is not None:
            return phone
    return _parse_slow(text, default_country)


def _fast_international(digits: str) -> Phone | None:
    finder = _region_finder(digits[:3])
    if finder is not None:
        length, find = finder
        national = digits[length:]
        region = find(national) if national else None
        return Phone("+" + digits, region) if region is not None else None
    found = _country_code_of(digits[:3])
    if found is None:
        return None
    length, country_code, _ = found
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
    return Phone("+" + digits, _region_of(number))


@lru_cache(maxsize=2048)
def _country_code_of(leading: str) -> tuple[int, int, tuple[str, ...]] | None:
    """(length, calling code, regions) of the calling code that `leading` digits start with."""
    for length in (1, 2, 3):
        regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(leading[:length]))
        if regions is not None:
            return length, int(leading[:length]), tuple(regions)
    return None


@lru_cache(maxsize=2048)
def _region_finder(leading: str) -> tuple[int, Callable[[str], str | None]] | None:
    """(length of the calling code, a function from national number to the region it
    is valid in) for numbers starting with `leading`; None for non-geographic codes."""
    found = _country_code_of(leading)
    if found is None or found[2] == ("001",):
        return None
    regions = found[2]
    return found[0], lambda national: _valid_region(regions, national)


_TYPE_DESCS = (
    "mobile", "fixed_line", "premium_rate", "toll_free", "shared_cost", "voip",
    "personal_number", "pager", "uan", "voicemail",
)  # fmt: skip
Matcher = tuple[frozenset[int], re.Pattern[str]]


def _valid_region(regions: tuple[str, ...], national: str) -> str | None:
    """The region a national number belongs to if it is valid there, else None.

    As the library decides for calling codes shared by several regions (+1, +44):
    the first region whose leading digits match claims the number; a region
    without leading digits claims it if the number is valid there.
    """
    for region, leading, validator in _region_checks(regions):
        if leading is None:
            if validator(national):
                return region
        elif leading.match(national):
            return region if validator(national) else None
    return None


@lru_cache(maxsize=512)
def _region_checks(
    regions: tuple[str, ...],
) -> tuple[tuple[str, re.Pattern[str] | None, Callable[[str], bool]], ...]:
    return tuple(
        (region, _leading_digits(region), validator)
        for region in regions
        if (validator := _validator_for(region)) is not None
    )


@lru_cache(maxsize=512)
def _leading_digits(region: str) -> re.Pattern[str] | None:
    metadata = PhoneMetadata.metadata_for_region(region)
    if metadata is None or metadata.leading_digits is None:
        return None
    return re.compile(metadata.leading_digits)


@lru_cache(maxsize=512)
def _validator_for(region: str) -> Callable[[str], bool] | None:
    """A compiled form of `phonenumbers.is_valid_number` for one region's numbers.

    The library's rule: the national number matches the region's general
    description and the description of at least one number type, where a
    description matches when the length is one it allows and its pattern matches
    the whole number. Compiling the patterns once makes an import several times
    faster; a test checks both agree.
    """
    metadata = PhoneMetadata.metadata_for_region(region)
    if metadata is None:
        return None
    general = _matcher(metadata.general_desc)
    if general is None:
        return None
    matchers = [m for name in _TYPE_DESCS if (m := _matcher(getattr(metadata, name))) is not None]
    general_lengths, general_pattern = general

    def is_valid(national: str) -> bool:
        length = len(national)
        if general_lengths and length not in general_lengths:
            return False
        if general_pattern.fullmatch(national) is None:
            return False
        for lengths, pattern in matchers:
            if (not lengths or length in lengths) and pattern.fullmatch(national) is not None:
                return True
        return False

    return is_valid


def _matcher(desc: PhoneNumberDesc | None) -> Matcher | None:
    if desc is None or not desc.national_number_pattern:
        return None
    lengths = frozenset(desc.possible_length or ())
    return lengths, re.compile(desc.national_number_pattern)


def _matches(matcher: Matcher, national: str) -> bool:
    lengths, pattern = matcher
    if lengths and len(national) not in lengths:
        return False
    return pattern.fullmatch(national) is not None


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
    (+1 212 → America/New_York) but not of mobiles, which get `fallback`. The
    library's answer is reproduced with the compiled number-type patterns, as
    it costs most of an import's time otherwise; a test checks both agree.
    """
    single = _single_zone_of_country(e164[1:4])
    if single is not None:
        return single
    digits = e164[1:]
    geographic = _is_geographic(digits) if digits.isdigit() else None
    if geographic is None:
        return _library_timezone(e164, fallback)
    found = _country_code_of(digits[:3])
    if geographic or found is None:
        zones = _zones_by_prefix(digits)
    else:
        zones = _zones_by_prefix(str(found[1]))  # the country's zones
    return zones[0] if len(zones) == 1 and zones[0] != _UNKNOWN_ZONE else fallback


def _library_timezone(e164: str, fallback: str) -> str:
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return fallback
    zones = phone_timezones.time_zones_for_number(number)
    if len(zones) == 1 and zones[0] != _UNKNOWN_ZONE:
        return zones[0]
    return fallback


def _zones_by_prefix(digits: str) -> tuple[str, ...]:
    """phonenumbers' zones for the longest known prefix of `digits`."""
    from phonenumbers.tzdata import TIMEZONE_DATA, TIMEZONE_LONGEST_PREFIX

    for length in range(min(TIMEZONE_LONGEST_PREFIX, len(digits)), 0, -1):
        zones = TIMEZONE_DATA.get(digits[:length])
        if zones is not None:
            return tuple(zones)
    return (_UNKNOWN_ZONE,)


def _is_geographic(digits: str) -> bool | None:
    """Whether a valid number's type ties it to a place (fixed line; mobile in the
    countries where mobiles are geographic), as phonenumbers decides; None when
    the number cannot be typed here (the library is asked then)."""
    found = _country_code_of(digits[:3])
    if found is None:
        return None
    length, country_code, regions = found
    national = digits[length:]
    if regions == ("001",) or national.startswith("0"):
        return None
    region = _valid_region(regions, national)
    if region is None:
        return None
    typing = _typing_for(region, country_code)
    return typing(national) if typing is not None else None


_SPECIAL_DESCS = (
    "premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan",
    "voicemail",
)  # fmt: skip


@lru_cache(maxsize=512)
def _typing_for(region: str, country_code: int) -> Callable[[str], bool | None] | None:
    """A compiled form of phonenumbers' number type, reduced to "is it geographic"."""
    metadata = PhoneMetadata.metadata_for_region(region)
    if metadata is None:
        return None
    special = [m for name in _SPECIAL_DESCS if (m := _matcher(getattr(metadata, name)))]
    fixed, mobile = _matcher(metadata.fixed_line), _matcher(metadata.mobile)
    geographic_mobile = phonenumbers.is_number_type_geographical(
        phonenumbers.PhoneNumberType.MOBILE, country_code
    )

    def is_geographic(national: str) -> bool | None:
        if any(_matches(matcher, national) for matcher in special):
            return False
        if fixed is not None and _matches(fixed, national):
            return True
        if mobile is not None and _matches(mobile, national):
            return geographic_mobile
        return None

    return is_geographic


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
