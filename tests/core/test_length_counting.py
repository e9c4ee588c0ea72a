"""Counting parts from a text's length gives exactly what reading the text gives.

A launch counts the texts made from one frame by their length (`parts_for_length`)
when every character takes one unit; these check that shortcut against `analyse`
for texts joined from random pieces, footers included.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from smscast.core.cost import MessageRules, count_finished
from smscast.core.encoding import (
    analyse,
    joined_encoding,
    parts_for_length,
    single_unit_encoding,
    text_parts,
)
from smscast.core.errors import UserError

CHARS = [
    *"Aaz09 -_.!?\n\r",  # single septets
    *"éÄñ§",  # single septets outside ASCII
    *"€{[~^|\\\x0c",  # escape pairs in GSM-7
    *"`ąśłЖ中\u3000\xa0",  # outside the default alphabet, in the BMP
    "😀",  # beyond the BMP: a surrogate pair in UCS-2
    *"\t\x00\x7f",  # control characters no SMS carries
]
PIECES = st.lists(st.text(alphabet=st.sampled_from(CHARS), max_size=90), min_size=1, max_size=4)
LONG = st.sampled_from(["", "a" * 400, "ą" * 200, "x" * 39_000, "ś" * 17_000])


@given(PIECES, LONG, st.sampled_from([8, 16]))
@settings(max_examples=2000)
def test_a_text_of_single_unit_pieces_has_the_parts_of_its_length(pieces, long, bits) -> None:
    pieces = [*pieces, long]
    whole = joined_encoding(*(single_unit_encoding(piece) for piece in pieces))
    text = "".join(pieces)
    if whole is None:
        return
    try:
        info = analyse(text, reference_bits=bits)
    except UserError as error:
        with pytest.raises(UserError) as again:
            parts_for_length(whole, len(text), bits)
        assert again.value.problem.code == error.problem.code
        return
    counted = parts_for_length(whole, len(text), bits)
    assert (info.encoding, info.parts, info.units) == (whole, counted, len(text))


@given(PIECES, st.sampled_from(["pl", "en", "de-AT", "xx"]),
       st.text(alphabet=st.sampled_from(CHARS), min_size=1, max_size=8), st.booleans(),
       st.sampled_from([8, 16]))  # fmt: skip
@example(["Hi \u3000"], "en", "STOP", True, 8)  # the footer's line break replaces the only UCS-2
@settings(max_examples=2000)
def test_counting_a_finished_text_by_length_agrees_with_reading_it(
    pieces, language, keyword, required, bits
) -> None:
    rules = MessageRules(promotional=True, footer_required=required, opt_out_keyword=keyword,
                         reference_bits=bits)  # fmt: skip
    body = "".join(pieces)
    units = joined_encoding(*(single_unit_encoding(piece) for piece in pieces))
    try:
        expected = count_finished(body, language, rules)
    except UserError as error:
        with pytest.raises(UserError) as again:
            count_finished(body, language, rules, units)
        assert again.value.problem.code == error.problem.code
        return
    assert count_finished(body, language, rules, units) == expected


def test_national_tables_are_never_counted_by_length() -> None:
    """With a locking shift table, 'ç' is one septet where the default alphabet has none."""
    rules = MessageRules(national=("pt", "pt"))
    body = "ç" * 100
    counted = count_finished(body, "en", rules, single_unit_encoding(body))
    assert counted[1:3] == text_parts(body, national=("pt", "pt"))
    assert counted[3] == ("pt", None)
