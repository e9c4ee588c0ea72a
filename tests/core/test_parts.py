"""Splitting, the SMPP wire form and the way back, by known vectors and by property."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smscast.core.alphabet import alphabet_for
from smscast.core.encoding import Encoding, analyse
from smscast.core.errors import UserError
from smscast.core.gsm7 import DEFAULT_ALPHABET
from smscast.core.parts import (
    DecodedPart,
    decode_short_message,
    reassemble,
    split_text,
    wire_parts,
)

GSM_CHARS = sorted(set(DEFAULT_ALPHABET.replace("\x1b", "")) | set("^{}\\[~]|€\f"))
valid_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("\n\r\f")
)
gsm_text = st.text(alphabet=st.sampled_from(GSM_CHARS), max_size=800)
mixed_text = st.one_of(
    valid_text, gsm_text, st.text(alphabet=st.sampled_from("a€😀ą"), max_size=400)
)


def units(part: str, encoding: Encoding) -> int:
    if encoding is Encoding.UCS2:
        return len(part.encode("utf-16-le")) // 2
    return len(alphabet_for().encode(part))


@given(mixed_text)
@settings(max_examples=300)
def test_split_then_join_is_the_identity_and_no_part_overflows(text: str) -> None:
    split = split_text(text)
    assert "".join(split.parts) == text
    assert len(split.parts) == split.info.parts
    if not text:  # nothing to send: no part at all
        assert split.info.parts == 0
        return
    for part in split.parts:
        assert units(part, split.info.encoding) <= split.info.per_part
    last = units(split.parts[-1], split.info.encoding)
    assert split.info.remaining == split.info.per_part - last


@given(mixed_text, st.sampled_from([8, 16]), st.integers(0, 70000))
@settings(max_examples=200)
def test_wire_parts_decode_and_reassemble_to_the_text(text: str, bits: int, ref: int) -> None:
    if not text:  # an empty text has no part and is refused rather than sent empty
        with pytest.raises(UserError, match="empty"):
            wire_parts(text, reference=ref, reference_bits=bits)
        return
    wire = wire_parts(text, reference=ref, reference_bits=bits)
    assert len(wire) == analyse(text, reference_bits=bits).parts
    decoded = [
        decode_short_message(p.short_message, data_coding=p.data_coding, udhi=p.udhi) for p in wire
    ]
    assert reassemble(decoded) == text
    for p in wire:
        assert len(p.short_message) <= 140 or p.data_coding == 0
        if p.data_coding == 0:
            header = p.short_message[0] + 1 if p.udhi else 0
            assert header * 8 + (len(p.short_message) - header) * 7 <= 140 * 8 + 6


@given(st.text())
@settings(max_examples=300)
def test_arbitrary_text_either_round_trips_or_is_refused_clearly(text: str) -> None:
    try:
        wire = wire_parts(text, reference=7)
    except UserError as exc:
        assert exc.problem.message
        return
    decoded = [
        decode_short_message(p.short_message, data_coding=p.data_coding, udhi=p.udhi) for p in wire
    ]
    assert reassemble(decoded) == text


@given(st.binary(max_size=200), st.sampled_from([0, 1, 3, 4, 8, 0xF0]), st.booleans())
@settings(max_examples=500)
def test_garbage_short_message_is_an_error_never_a_crash(
    payload: bytes, data_coding: int, udhi: bool
) -> None:
    try:
        part = decode_short_message(payload, data_coding=data_coding, udhi=udhi)
    except UserError as exc:
        assert exc.problem.code == "pdu.invalid"
    else:
        assert isinstance(part.text, str)


def test_split_keeps_the_escape_pair_whole() -> None:
    split = split_text("a" * 152 + "€" + "a" * 152)
    assert [len(p) for p in split.parts] == [152, 152, 1]
    assert split.parts[1].startswith("€")


def test_single_gsm_part_has_no_header() -> None:
    [part] = wire_parts("Hi @ 5€", reference=1)
    assert part == part.__class__(b"Hi \x00 5\x1b\x65", 0, False, None)


def test_concatenated_gsm_parts_carry_an_8bit_reference_udh() -> None:
    wire = wire_parts("a" * 200, reference=0x1234)
    assert [p.short_message[:6] for p in wire] == [
        bytes((5, 0, 3, 0x34, 2, 1)),
        bytes((5, 0, 3, 0x34, 2, 2)),
    ]
    assert all(p.udhi and p.data_coding == 0 and p.sar is None for p in wire)
    assert len(wire[0].short_message) == 6 + 153


def test_16bit_reference_udh() -> None:
    wire = wire_parts("ą" * 100, reference=0x1234, reference_bits=16)
    assert wire[0].short_message[:7] == bytes((6, 8, 4, 0x12, 0x34, 2, 1))
    assert len(wire[0].short_message) == 7 + 66 * 2
    assert wire[0].data_coding == 8


def test_sar_mode_puts_concatenation_in_tlv_values() -> None:
    wire = wire_parts("a" * 200, reference=0x1234, concat="sar", reference_bits=16)
    assert [p.sar for p in wire] == [(0x1234, 2, 1), (0x1234, 2, 2)]
    assert not any(p.udhi for p in wire)
    assert wire[0].short_message == b"a" * 152


def test_national_tables_are_named_in_every_part() -> None:
    wire = wire_parts("ş" * 200, reference=9, national=("tr", "tr"))
    # Locking shift makes ş one septet: 8-bit concat (5) + locking IE (3) + UDHL = 9 octets
    assert wire[0].short_message[:9] == bytes((8, 0, 3, 9, 2, 1, 0x25, 1, 1))
    assert len(wire[0].short_message) == 9 + 149


def test_forced_codings() -> None:
    assert wire_parts("abc", reference=0, data_coding=8)[0].short_message == "abc".encode(
        "utf-16-be"
    )
    assert wire_parts("café", reference=0, data_coding=3)[0].short_message == b"caf\xe9"
    with pytest.raises(UserError, match="GSM-7"):
        wire_parts("ą", reference=0, data_coding=0)
    with pytest.raises(UserError, match="Latin-1"):
        wire_parts("ą", reference=0, data_coding=3)
    with pytest.raises(UserError, match="data_coding 4"):
        wire_parts("a", reference=0, data_coding=4)


@pytest.mark.parametrize(
    ("payload", "udhi", "data_coding", "message"),
    [
        (b"\x05\x00\x03", True, 0, "header says 5 octets"),
        (b"\x03\x00\x03\x01", True, 0, "says 3 octets but only 1 remain"),
        (b"\x05\x00\x03\x01\x02\x03", True, 0, "part 3 of 2"),
        (b"\x00a\x00", False, 8, "odd number of octets"),
        (b"\xd8\x3d\x00a", False, 8, "half a surrogate pair"),
        (b"a\x80", False, 0, "not a GSM-7 septet"),
        (b"", True, 0, "empty"),
    ],
)
def test_bad_pdus_name_the_problem(
    payload: bytes, udhi: bool, data_coding: int, message: str
) -> None:
    with pytest.raises(UserError, match=message):
        decode_short_message(payload, data_coding=data_coding, udhi=udhi)


def test_reassemble_joins_a_surrogate_pair_cut_by_the_sender() -> None:
    first = decode_short_message(b"\x05\x00\x03\x07\x02\x01\x00a\xd8\x3d", data_coding=8, udhi=True)
    second = decode_short_message(b"\x05\x00\x03\x07\x02\x02\xde\x00", data_coding=8, udhi=True)
    assert reassemble([second, first]) == "a😀"


def test_reassemble_refuses_missing_or_foreign_parts() -> None:
    with pytest.raises(UserError, match="missing part"):
        reassemble([DecodedPart("a", (1, 3, 1)), DecodedPart("b", (1, 3, 3))])
    with pytest.raises(UserError, match="different messages"):
        reassemble([DecodedPart("a", (1, 2, 1)), DecodedPart("b", (2, 2, 2))])


def test_decode_national_locking_shift() -> None:
    part = decode_short_message(bytes((3, 0x25, 1, 1, 0x1C, 0x1D)), data_coding=0, udhi=True)
    assert part.text == "Şş"


def test_trailing_escape_reads_as_space() -> None:
    assert decode_short_message(b"ab\x1b", data_coding=0, udhi=False).text == "ab "
