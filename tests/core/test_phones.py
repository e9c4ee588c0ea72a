"""Phone numbers: E.164 parsing, and that the fast path agrees with phonenumbers."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smscast.core.phones import PhoneError, parse_phone, timezone_for_phone


@pytest.mark.parametrize(
    ("raw", "country", "e164", "region"),
    [
        ("+48 600 100 200", "PL", "+48600100200", "PL"),
        ("600-100-200", "PL", "+48600100200", "PL"),
        ("0048 600 100 200", "DE", "+48600100200", "PL"),
        ("(0)151 23456789", "DE", "+4915123456789", "DE"),
        ("+1 (212) 555-0100", "PL", "+12125550100", "US"),
        ("+39 06 1234 5678", "PL", "+390612345678", "IT"),
        ("+44 20 7946 0958", "PL", "+442079460958", "GB"),
    ],
)
def test_numbers_are_stored_in_e164(raw: str, country: str, e164: str, region: str) -> None:
    phone = parse_phone(raw, country)
    assert (phone.e164, phone.country) == (e164, region)


@pytest.mark.parametrize("raw", ["+48 12", "", "hello", "+999 123456", "12"])
def test_invalid_numbers_name_the_number_and_country(raw: str) -> None:
    with pytest.raises(PhoneError) as caught:
        parse_phone(raw, "PL")
    assert f'"{raw}" is not a valid phone number for PL' in str(caught.value)


CODES = [1, 7, 33, 39, 44, 47, 48, 49, 61, 212, 262, 358, 590, 599, 880]


@settings(max_examples=3000, deadline=None)
@given(code=st.sampled_from(CODES), national=st.from_regex(r"0?[0-9]{4,12}", fullmatch=True))
def test_fast_validation_agrees_with_phonenumbers(code: int, national: str) -> None:
    raw = f"+{code}{national}"
    try:
        number = phonenumbers.parse(raw)
        expected = phonenumbers.is_valid_number(number)
        region = phonenumbers.region_code_for_number(number)
    except phonenumbers.NumberParseException:
        expected, region = False, None
    try:
        phone = parse_phone(raw, "PL")
    except PhoneError:
        assert not expected
    else:
        assert expected
        assert phone.country == region
        assert phone.e164 == phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def test_time_zone_comes_from_the_number_or_the_fallback() -> None:
    assert timezone_for_phone("+48600100200", "UTC") == "Europe/Warsaw"
    assert timezone_for_phone("+12125550100", "Europe/Warsaw") == "America/New_York"
    assert timezone_for_phone("+61412345678", "Europe/Warsaw") == "Europe/Warsaw"


@settings(max_examples=3000, deadline=None)
@given(code=st.sampled_from(CODES), national=st.from_regex(r"[1-9][0-9]{5,11}", fullmatch=True))
def test_time_zone_agrees_with_phonenumbers(code: int, national: str) -> None:
    raw = f"+{code}{national}"
    try:
        phone = parse_phone(raw, "PL")
    except PhoneError:
        return
    number = phonenumbers.parse(phone.e164)
    zones = phonenumbers.timezone.time_zones_for_number(number)
    expected = zones[0] if len(zones) == 1 and zones[0] != "Etc/Unknown" else "Fallback/Zone"
    assert timezone_for_phone(phone.e164, "Fallback/Zone") == expected
