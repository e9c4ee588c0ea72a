"""Reading one CSV row into a contact, and spreadsheet-safe cells."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smscast.core.contact_rows import (
    ContactRow,
    map_columns,
    read_contact_row,
    split_tags,
    spreadsheet_safe,
    unescape_cell,
)
from smscast.core.errors import UserError

ZONES = frozenset({"Europe/Warsaw", "America/New_York"})


def test_known_columns_by_alias_and_the_rest_as_attributes() -> None:
    columns = map_columns(["Telefon", "Imię", "Plan", "TZ", "Tags", "Zgoda"])
    row = read_contact_row(2, ["600100200", "Anna", "gold", "America/New_York", "a; b,a", "tak"],
                           columns, "PL", ZONES)  # fmt: skip
    assert isinstance(row, ContactRow)
    assert row.phone == "+48600100200"
    assert row.attributes == {"first_name": "Anna", "plan": "gold"}
    assert row.timezone == "America/New_York"
    assert row.tags == ("a", "b")
    assert row.consent is not None and row.consent.value == "opt_in"


def test_every_problem_of_a_row_is_named() -> None:
    columns = map_columns(["phone", "language", "timezone", "email"])
    problems = read_contact_row(7, ["+48600100200", "polish!", "Mars/Base", "nope"], columns,
                                "PL", ZONES)  # fmt: skip
    assert isinstance(problems, list)
    assert [p.field for p in problems] == ["language", "timezone", "email"]
    assert all(p.message.startswith("row 7: ") for p in problems)


def test_a_row_with_more_cells_than_the_header_is_refused() -> None:
    problems = read_contact_row(3, ["+48600100200", "x", "y"], map_columns(["phone", "a"]), "PL",
                                ZONES)  # fmt: skip
    assert isinstance(problems, list) and problems[0].code == "extra_cells"


def test_header_without_phone_column() -> None:
    with pytest.raises(UserError, match="no phone column"):
        map_columns(["name", "email"])


@given(st.text(max_size=40).map(str.strip).filter(lambda v: not v.startswith("'")))
def test_spreadsheet_escape_round_trips_and_never_starts_a_formula(value: str) -> None:
    escaped = spreadsheet_safe(value)
    assert not escaped.startswith(("=", "+", "-", "@"))
    assert unescape_cell(escaped) == value


def test_tags_keep_order_and_drop_duplicates() -> None:
    assert split_tags("vip; news|vip,,") == ("vip", "news")
