"""A connector's national shift tables: which pair a text gets, and that it never costs more."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smscast.core.cost import MessageRules, count_finished
from smscast.core.encoding import (
    Encoding,
    analyse,
    plan_text,
    single_unit_encoding,
    varying_chars,
)
from smscast.core.errors import UserError
from smscast.core.national import (
    LANGUAGE_IDS,
    LOCKING_SHIFT,
    SINGLE_SHIFT,
    connector_national_tables,
    national_label,
    parse_national_label,
    parse_national_tables,
)
from smscast.core.smart import replacements_json, smart_encode

LANGS = sorted(LANGUAGE_IDS)
# Letters of the national tables plus plain text, escapes, UCS-2-only and astral characters.
NATIONAL_CHARS = sorted(
    {c for table in LOCKING_SHIFT.values() for c in table if c != "\x1b"}
    | {c for table in SINGLE_SHIFT.values() for c in table.values()}
)
texts = st.text(
    alphabet=st.sampled_from(NATIONAL_CHARS) | st.sampled_from("aZ 1€{ąж😀"), max_size=700
)
table_sets = st.lists(st.sampled_from(LANGS), max_size=4, unique=True).map(
    lambda codes: tuple(sorted(codes))
)


@given(texts, table_sets, st.sampled_from([8, 16]))
@settings(max_examples=600)
def test_allowed_tables_never_cost_a_part_more(
    text: str, tables: tuple[str, ...], bits: int
) -> None:
    without = analyse(text, reference_bits=bits)
    with_tables = analyse(text, tables=tables, reference_bits=bits)
    assert with_tables.parts <= without.parts
    locking, single = with_tables.national
    assert locking is None or locking in tables
    assert single is None or single in tables
    if with_tables.national != (None, None):
        assert with_tables.encoding is Encoding.GSM7


@given(texts, table_sets, st.sampled_from([8, 16]))
@settings(max_examples=400)
def test_the_chosen_pair_plans_the_same_parts_again(
    text: str, tables: tuple[str, ...], bits: int
) -> None:
    """The SMPP client re-plans a message with the pair stored on it: same cuts, same header."""
    chosen = plan_text(text, tables=tables, reference_bits=bits)
    again = plan_text(text, national=chosen.info.national, reference_bits=bits)
    assert (again.ends, again.header) == (chosen.ends, chosen.header)
    # which characters UCS-2 was for is only a hint, narrowed by the tables tried
    assert replace(again.info, non_gsm=()) == replace(chosen.info, non_gsm=())


@given(st.text(alphabet=st.sampled_from("abc XYZ09@£$!?{}€\n"), max_size=400), table_sets)
def test_a_text_of_the_default_alphabet_never_uses_a_national_table(
    text: str, tables: tuple[str, ...]
) -> None:
    assert analyse(text, tables=tables) == analyse(text)


@given(st.lists(st.sampled_from(["Merhaba ", "Şule", "ğüşı", "abc", "ç", "€", "ж"]), max_size=30),
       table_sets, st.booleans())  # fmt: skip
@settings(max_examples=400)
def test_counting_by_length_with_tables_agrees_with_reading_the_text(
    pieces: list[str], tables: tuple[str, ...], footer: bool
) -> None:
    body = "".join(pieces) or "x"
    rules = MessageRules(promotional=True, footer_required=footer, tables=tables)
    units = single_unit_encoding(body)
    text, encoding, parts, national, replaced = count_finished(body, "en", rules, units)
    info = analyse(text, tables=tables)
    assert (encoding, parts, national, replaced) == (info.encoding, info.parts, info.national, ())


def test_a_turkish_text_is_one_gsm_part_on_a_connector_with_turkish_tables() -> None:
    text = "Merhaba Şule, siparişiniz yolda! İyi günler dileriz: ğüşıöç " * 2
    assert analyse(text).encoding is Encoding.UCS2
    assert analyse(text).parts == 2
    info = analyse(text, tables=("es", "tr"))
    # the single shift table carries it with the shorter header
    assert (info.encoding, info.parts, info.national) == (Encoding.GSM7, 1, (None, "tr"))


def test_a_spanish_text_takes_the_spanish_single_shift() -> None:
    info = analyse("¿Qué tal, señora Núñez? Á Í Ó Ú ç", tables=("es", "tr"))
    assert (info.encoding, info.national) == (Encoding.GSM7, (None, "es"))


def test_tables_are_read_from_a_list_or_a_comma_separated_setting() -> None:
    assert parse_national_tables("tr, ES,") == ("es", "tr")
    assert parse_national_tables(["pt", "tr", "pt"]) == ("pt", "tr")
    assert parse_national_tables(None) == parse_national_tables("") == ()
    assert connector_national_tables({"national_tables": "tr", "national_single": "es"}) == (
        "es",
        "tr",
    )


def test_an_unknown_table_is_a_clear_error_naming_the_setting() -> None:
    with pytest.raises(UserError) as caught:
        parse_national_tables("tr,xx")
    problem = caught.value.problem
    assert problem.field == "national_tables"
    assert "'xx'" in problem.message and "tr" in problem.message
    with pytest.raises(UserError, match="language codes"):
        parse_national_tables(7)


def test_the_stored_label_reads_back() -> None:
    for pair, label in [((None, None), None), (("tr", "tr"), "tr/tr"), ((None, "es"), "/es"),
                        (("pt", None), "pt/")]:  # fmt: skip
        assert national_label(pair) == label
        assert parse_national_label(label) == pair


def test_smart_encoding_keeps_letters_the_tables_carry_and_lists_what_it_replaced() -> None:
    text = "Şule’s “sale” — çok güzel " * 3
    kept = smart_encode(text, tables=("tr",))
    assert kept.text.count("Ş") == 3
    assert "’" not in kept.text  # the quotes are not in the Turkish tables: still replaced
    assert replacements_json(kept.replaced) == '{"—":"-","’":"\'","“":"\\"","”":"\\""}'
    assert replacements_json(()) is None


safe_holes = st.text(alphabet=st.sampled_from("ABCXYZabcxyz0123456789-_"), min_size=0, max_size=12)


@given(texts, texts, safe_holes, st.data(), table_sets, st.sampled_from([8, 16]))
@settings(max_examples=400)
def test_texts_differing_only_in_uniform_characters_plan_alike(
    before: str, after: str, hole: str, data: st.DataObject, tables: tuple[str, ...], bits: int
) -> None:
    """What lets a launch count one text per frame: same frame, same-length coupon/token."""
    varying = varying_chars(tables)
    other = "".join(data.draw(st.sampled_from("ABCXYZabcxyz0123456789-_")) for _ in hole)
    if varying.search(hole + other) is not None:  # the Indian tables lack capitals: not uniform
        return
    one = plan_text(before + hole + after, tables=tables, reference_bits=bits)
    two = plan_text(before + other + after, tables=tables, reference_bits=bits)
    assert (one.info.encoding, one.info.parts, one.info.national, one.ends) == (
        two.info.encoding,
        two.info.parts,
        two.info.national,
        two.ends,
    )
