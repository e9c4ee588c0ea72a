"""National language shift tables (3GPP TS 23.038 annex A): spec vectors and round trips."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smscast.core.alphabet import UNUSED, alphabet_for
from smscast.core.encoding import Encoding, analyse
from smscast.core.errors import UserError
from smscast.core.national import LANGUAGE_IDS, LOCKING_SHIFT, SINGLE_SHIFT
from smscast.core.parts import decode_short_message, reassemble, wire_parts


@pytest.mark.parametrize(
    ("national", "text", "septets"),
    [
        ((None, "tr"), "ğ", b"\x1b\x67"),  # A.2.1
        ((None, "tr"), "İ", b"\x1b\x49"),
        (("tr", None), "ş", b"\x1d"),  # A.3.1
        (("tr", None), "€", b"\x04"),
        ((None, "es"), "á", b"\x1b\x61"),  # A.2.2
        ((None, "es"), "ç", b"\x1b\x09"),
        (("pt", None), "ê", b"\x04"),  # A.3.3
        ((None, "pt"), "ã", b"\x1b\x7b"),  # A.2.3
        (("hi", None), "क", b"\x15"),  # A.3.6
        ((None, "hi"), "१", b"\x1b\x1d"),  # A.2.6
        (("ur", None), "ا", b"\x00"),  # A.3.13
    ],
)
def test_spec_vectors(national: tuple[str | None, str | None], text: str, septets: bytes) -> None:
    assert alphabet_for(*national).encode(text) == septets


def test_tables_are_complete_and_named() -> None:
    assert set(SINGLE_SHIFT) == set(LANGUAGE_IDS)
    assert set(LOCKING_SHIFT) == set(LANGUAGE_IDS) - {"es"}  # Spanish has no locking table
    for table in LOCKING_SHIFT.values():
        assert len(table) == 128 and table[0x1B] == UNUSED


def test_hindi_text_fits_gsm7_only_with_the_hindi_tables() -> None:
    text = "नमस्ते दोस्त, आज सेल है"
    assert analyse(text).encoding is Encoding.UCS2
    info = analyse(text, national=("hi", "hi"))
    assert info.encoding is Encoding.GSM7
    assert info.national[0] == "hi"


def test_cheapest_allowed_table_pair_wins() -> None:
    # One Turkish letter: the single shift table (3-octet IE, 2 septets) suffices.
    assert analyse("Çok güzel ğ", national=("tr", "tr")).national == (None, "tr")
    # Many: the locking shift table makes each one septet and saves a part.
    info = analyse("ş" * 150, national=("tr", "tr"))
    assert info.national[0] == "tr" and info.parts == 1


def test_capacities_shrink_by_the_headers() -> None:
    assert analyse("ş", national=("tr", None)).per_part == 155
    assert analyse("ş" * 200, national=("tr", None)).per_part == 149  # concat + locking
    assert analyse("ş" * 200, national=("tr", None), reference_bits=16).per_part == 148
    assert analyse("İ" * 100 + "ş" * 100, national=("tr", "tr")).per_part in (146, 149)


def test_unknown_language_is_a_clear_error() -> None:
    with pytest.raises(UserError, match="no national single shift table for language 'xx'"):
        analyse("ą", national=(None, "xx"))
    with pytest.raises(UserError, match="locking"):
        analyse("ą", national=("es", None))


LANGS = sorted(LOCKING_SHIFT)


@st.composite
def national_text(draw: st.DrawFn) -> tuple[str, tuple[str | None, str | None]]:
    lang = draw(st.sampled_from(LANGS))
    use_single = draw(st.booleans())
    alphabet = alphabet_for(lang, lang if use_single else None)
    chars = sorted(
        {c for c in alphabet.decode_base if c != UNUSED} | set(alphabet.decode_ext.values())
    )
    text = draw(st.text(alphabet=st.sampled_from(chars), max_size=500))
    return text, (lang, lang if use_single else None)


@given(national_text(), st.sampled_from([8, 16]), st.sampled_from(["udh", "sar"]))
@settings(max_examples=300)
def test_national_texts_round_trip_through_the_wire(
    case: tuple[str, tuple[str | None, str | None]], bits: int, concat: str
) -> None:
    text, national = case
    info = analyse(text, national=national, reference_bits=bits)
    assert info.encoding is Encoding.GSM7
    if not text:  # an empty text has no part and is refused rather than sent empty
        assert info.parts == 0
        with pytest.raises(UserError, match="empty"):
            wire_parts(text, reference=77, national=national, reference_bits=bits)
        return
    wire = wire_parts(
        text,
        reference=77,
        national=national,
        reference_bits=bits,
        concat="sar" if concat == "sar" else "udh",
    )
    assert len(wire) == info.parts
    decoded = []
    for part in wire:
        piece = decode_short_message(
            part.short_message, data_coding=part.data_coding, udhi=part.udhi
        )
        if part.sar is not None:
            piece = piece.__class__(piece.text, part.sar)
        decoded.append(piece)
    assert reassemble(decoded) == text
