"""Reading delivery reports (text form and TLVs) and matching carrier ids."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smscast.channels.base import ReportState
from smscast.channels.smpp.dlr import (
    ReportError,
    _split_any_layout,
    normalise_id,
    parse_receipt_time,
    read_report,
    split_receipt_text,
)
from smscast.channels.smpp.settings import IdFormat

TEXT = (
    "id:0000012345 sub:001 dlvrd:001 submit date:2403011200 done date:240301120533 "
    "stat:DELIVRD err:000 text:Hello id:fake stat:x"
)


def test_reads_the_appendix_b_text_form() -> None:
    report = read_report(TEXT)
    assert report.carrier_id == "0000012345"
    assert report.state is ReportState.DELIVERED
    assert report.error_code is None
    assert report.done_at == datetime(2024, 3, 1, 12, 5, 33, tzinfo=UTC)
    assert report.raw == TEXT


def test_text_field_runs_to_the_end_even_when_it_looks_like_fields() -> None:
    fields = split_receipt_text(TEXT)
    assert fields["text"] == "Hello id:fake stat:x"
    assert fields["submit date"] == "2403011200"


def test_keys_are_read_without_regard_to_case() -> None:
    report = read_report("ID:ab12 SUB:001 DLVRD:000 Stat:UNDELIV Err:075 Text:x")
    assert report.carrier_id == "ab12"
    assert report.state is ReportState.UNDELIVERED
    assert report.error_code == "075"


@pytest.mark.parametrize(
    ("stat", "state"),
    [
        ("EXPIRED", ReportState.EXPIRED),
        ("DELETED", ReportState.DELETED),
        ("ACCEPTD", ReportState.ACCEPTED),
        ("ENROUTE", ReportState.ACCEPTED),
        ("REJECTD", ReportState.REJECTED),
        ("UNKNOWN", ReportState.UNKNOWN),
        ("WHATEVR", ReportState.UNKNOWN),
    ],
)
def test_stat_words(stat: str, state: ReportState) -> None:
    assert read_report(f"id:1 stat:{stat} err:0").state is state


def test_tlvs_win_over_the_text() -> None:
    report = read_report(
        "id:999 stat:DELIVRD err:000",
        receipted_id="ABC\x00",
        message_state=5,
        network_error=bytes([3, 0, 11]),
    )
    assert report.carrier_id == "ABC"
    assert report.state is ReportState.UNDELIVERED
    assert report.error_code == "3:11"


def test_tlv_only_report_without_text() -> None:
    report = read_report("", receipted_id="77", message_state=2)
    assert (report.carrier_id, report.state) == ("77", ReportState.DELIVERED)
    assert "77" in report.raw


@pytest.mark.parametrize(
    ("text", "kwargs", "complaint"),
    [
        ("sub:001 stat:DELIVRD", {}, "without a message id"),
        ("id:12 sub:001", {}, "without stat"),
        ("", {"receipted_id": "1", "message_state": 42}, "unknown message_state 42"),
    ],
)
def test_unreadable_reports_say_what_is_wrong(
    text: str, kwargs: dict[str, object], complaint: str
) -> None:
    with pytest.raises(ReportError, match=complaint):
        read_report(text, **kwargs)  # type: ignore[arg-type]


def test_receipt_times() -> None:
    assert parse_receipt_time("2403011200") == datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    assert parse_receipt_time("2413011200") is None
    assert parse_receipt_time("") is None


def test_hex_submit_id_matches_decimal_report_id() -> None:
    submit = normalise_id("0001E240", IdFormat.HEX)
    report = normalise_id("123456", IdFormat.DEC, IdFormat.HEX)
    assert submit == report == "1e240"


def test_text_ids_ignore_case_leading_zeros_and_padding() -> None:
    assert normalise_id(" 00AbC\x00", IdFormat.TEXT) == normalise_id("abc", IdFormat.TEXT)
    assert normalise_id("000", IdFormat.TEXT) == "0"


def test_a_non_number_in_a_numeric_format_is_named() -> None:
    with pytest.raises(ValueError, match="'12G4' is not hexadecimal"):
        normalise_id("12G4", IdFormat.HEX)
    with pytest.raises(ValueError, match="'1a' is not decimal"):
        normalise_id("1a", IdFormat.DEC)


@given(st.integers(min_value=0, max_value=2**80), st.integers(0, 6), st.booleans())
def test_any_number_matches_across_hex_and_decimal(n: int, zeros: int, upper: bool) -> None:
    hex_form = "0" * zeros + (format(n, "X") if upper else format(n, "x"))
    dec_form = "0" * zeros + str(n)
    for shown in (IdFormat.HEX, IdFormat.DEC):
        assert normalise_id(hex_form, IdFormat.HEX, shown) == normalise_id(
            dec_form, IdFormat.DEC, shown
        )


_WORD = st.text(alphabet="0123456789ABCDEFabcdef", max_size=12)


@given(
    st.lists(_WORD, min_size=7, max_size=7),
    st.none() | st.text(alphabet=st.characters(codec="ascii"), max_size=30),
)
def test_the_usual_layout_reads_the_same_as_any_layout(values: list[str], text: str | None) -> None:
    keys = ("id", "sub", "dlvrd", "submit date", "done date", "stat", "err")
    receipt = " ".join(f"{k}:{v}" for k, v in zip(keys, values, strict=True))
    if text is not None:
        receipt += f" text:{text}"
    assert split_receipt_text(receipt) == _split_any_layout(receipt)
