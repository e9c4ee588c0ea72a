"""Known vectors for encoding classification and part counts (3GPP TS 23.038, 23.040)."""

from __future__ import annotations

import pytest

from smscast.core.encoding import Encoding, analyse, check_sendable, text_parts
from smscast.core.errors import UserError
from smscast.core.gsm7 import DEFAULT_ALPHABET
from smscast.core.parts import split_text, wire_parts

EXTENSION = "^{}\\[~]|€\f"


def test_plain_text_is_one_gsm_part_up_to_160_septets() -> None:
    info = analyse("a" * 160)
    assert (info.encoding, info.parts, info.units, info.per_part, info.remaining) == (
        Encoding.GSM7,
        1,
        160,
        160,
        0,
    )


def test_161_septets_take_two_parts_of_153() -> None:
    info = analyse("a" * 161)
    assert (info.parts, info.per_part, info.remaining) == (2, 153, 145)


@pytest.mark.parametrize("char", list(EXTENSION))
def test_each_extension_character_takes_two_septets(char: str) -> None:
    info = analyse(f"x{char}x")
    assert info.encoding is Encoding.GSM7
    assert info.units == 4


def test_every_default_alphabet_character_takes_one_septet() -> None:
    chars = DEFAULT_ALPHABET.replace("\x1b", "")
    info = analyse(chars)
    assert info.encoding is Encoding.GSM7
    assert info.units == 127


def test_escape_pair_is_never_split_across_parts() -> None:
    info = analyse("a" * 152 + "€" + "a" * 152)
    assert info.units == 306
    assert info.parts == 3  # 306 / 153 would say 2, but the € cannot straddle the cut
    assert info.remaining == 152


def test_ucs2_counts_utf16_units() -> None:
    assert analyse("ą" * 70).parts == 1
    info = analyse("ą" * 71)
    assert (info.encoding, info.parts, info.per_part, info.units) == (Encoding.UCS2, 2, 67, 71)


def test_emoji_outside_bmp_takes_two_units() -> None:
    info = analyse("😀" * 35)
    assert (info.units, info.parts, info.remaining) == (70, 1, 0)
    assert analyse("😀" * 35 + "a").parts == 2


def test_surrogate_pair_is_never_split_across_parts() -> None:
    info = analyse("a" * 66 + "😀" + "a" * 67)
    assert info.units == 135
    assert info.parts == 3  # 66 | 😀 + 65 | 2: the emoji cannot take the 67th unit


def test_one_polish_letter_turns_a_gsm_message_into_three_ucs2_parts() -> None:
    text = "Promocja! " + "x" * 140 + "ą"
    assert analyse(text.replace("ą", "a")).parts == 1
    info = analyse(text)
    assert (info.encoding, info.parts) == (Encoding.UCS2, 3)
    assert info.non_gsm == ("ą",)


def test_non_gsm_lists_each_offending_character_once_in_order() -> None:
    assert analyse("zażółć gęślą jaźń").non_gsm == ("ż", "ó", "ł", "ć", "ę", "ś", "ą", "ź", "ń")


def test_backtick_is_not_in_the_gsm_alphabet() -> None:
    assert analyse("`").encoding is Encoding.UCS2


def test_sixteen_bit_reference_leaves_152_septets_or_66_units() -> None:
    assert analyse("a" * 161, reference_bits=16).per_part == 152
    assert analyse("ą" * 71, reference_bits=16).per_part == 66


def test_255_parts_is_the_limit() -> None:
    assert analyse("a" * 153 * 255).parts == 255
    with pytest.raises(UserError, match="256 GSM-7 parts"):
        analyse("a" * (153 * 255 + 1))


@pytest.mark.parametrize(
    ("text", "position", "what"),
    [("hi\x00", 3, "NUL"), ("a\tb", 2, "tab"), ("ok\x7f", 3, "DEL"), ("x\ud83d", 2, "surrogate")],
)
def test_control_characters_and_lone_surrogates_are_refused_with_position(
    text: str, position: int, what: str
) -> None:
    with pytest.raises(UserError, match=what) as caught:
        analyse(text)
    assert caught.value.problem.column == position
    assert f"character {position}" in str(caught.value)


def test_newlines_and_form_feed_are_allowed() -> None:
    assert analyse("a\r\nb").units == 4
    assert analyse("a\fb").units == 4


def test_empty_text_has_no_part_and_cannot_be_sent() -> None:
    info = analyse("")
    assert (info.parts, info.units, info.remaining) == (0, 0, 160)
    assert text_parts("") == (Encoding.GSM7, 0)
    assert split_text("").parts == ()
    for empty in ("", "  \n"):
        with pytest.raises(UserError) as caught:
            check_sendable(empty, field="body")
        assert caught.value.problem.code == "encoding.empty"
        assert caught.value.problem.field == "body"
    with pytest.raises(UserError) as caught:
        wire_parts("", reference=1)
    assert caught.value.problem.code == "encoding.empty"


def test_national_single_shift_is_used_only_when_allowed() -> None:
    text = "Şeker çok güzel"
    assert analyse(text).encoding is Encoding.UCS2
    info = analyse(text, national=(None, "tr"))
    assert info.encoding is Encoding.GSM7
    assert info.national == (None, "tr")
    assert info.per_part == 155  # 160 less the 4-octet header naming the table
    assert info.units == len(text) + 2  # Ş and ç are escape pairs in that table
