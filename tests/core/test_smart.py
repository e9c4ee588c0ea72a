"""Smart encoding: look-alikes only when they save parts, and always reported."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from smscast.core.alphabet import alphabet_for
from smscast.core.encoding import Encoding, analyse
from smscast.core.smart import LOOK_ALIKES, smart_encode


def test_polish_letters_become_their_base_letters_and_save_parts() -> None:
    text = "Wyprzedaż! Zniżki na buty i torebki, tylko dziś w naszym sklepie. " * 2 + "x" * 16
    assert len(text) == 148
    result = smart_encode(text)
    assert result.applied
    assert "ż" not in result.text and "Wyprzedaz" in result.text
    assert ("ż", "z") in result.replaced and ("ś", "s") in result.replaced
    assert (result.before.encoding, result.after.encoding) == (Encoding.UCS2, Encoding.GSM7)
    assert result.before.parts > result.after.parts
    assert result.summary() == "UCS-2, 3 parts → GSM-7, 1 part"


def test_all_polish_diacritics() -> None:
    result = smart_encode("ąćęłńóśźż ĄĆĘŁŃÓŚŹŻ " * 5)
    assert result.text.startswith("acelnoszz ACELNOSZZ ")


def test_quotes_dashes_ellipsis_and_spaces() -> None:
    text = "„Hello” ‘world’ – wait — ok… a\u00a0b\u2009c " * 3
    result = smart_encode(text)
    assert result.text.startswith("\"Hello\" 'world' - wait - ok... a b c ")


def test_nothing_changes_when_no_part_is_saved() -> None:
    result = smart_encode("Cześć!")  # one part either way
    assert not result.applied
    assert result.text == "Cześć!" and result.replaced == ()
    assert "would save no part" in result.summary()


def test_emoji_keeps_the_text_ucs2_so_nothing_is_replaced() -> None:
    text = "Zniżka 😀 " * 10
    result = smart_encode(text)
    assert not result.applied and result.text == text


def test_gsm_text_is_untouched() -> None:
    result = smart_encode("Grüße, señor! ü é")
    assert result.text == "Grüße, señor! ü é" and not result.replaced


def test_no_look_alike_key_is_already_gsm_and_every_value_is() -> None:
    gsm = alphabet_for().encode_map
    for char, stand_in in LOOK_ALIKES.items():
        assert ord(char) not in gsm, char
        assert all(ord(c) in gsm for c in stand_in), (char, stand_in)


@given(st.text(alphabet=st.sampled_from("abc ąęłś“”—…€😀"), max_size=400))
def test_smart_never_costs_more_and_reports_every_change(text: str) -> None:
    result = smart_encode(text)
    assert result.after.parts <= result.before.parts
    assert result.after == analyse(result.text)
    if not result.applied:
        assert result.text == text
    else:
        assert result.after.parts < result.before.parts
        assert result.text == text.translate({ord(a): b for a, b in result.replaced})
