"""The segment language as a marketer writes it: trees, errors with positions, no crashes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smscast.core.errors import UserError
from smscast.core.segment_parser import parse_segment
from smscast.core.segments import (
    Ago,
    And,
    Call,
    Compare,
    Contains,
    Everyone,
    InList,
    IsSet,
    Not,
    Or,
    check_segment,
)


def test_the_example_from_the_issue_parses_into_a_tree() -> None:
    tree = parse_segment(
        'country = "PL" and plan in ("gold", "silver") and not clicked(last 30 days)'
    )
    assert isinstance(tree, And)
    country, plan, not_clicked = tree.items
    assert isinstance(country, Compare) and country.value == "PL" and not country.field.attribute
    assert isinstance(plan, InList) and plan.values == ("gold", "silver") and plan.field.attribute
    assert isinstance(not_clicked, Not) and isinstance(not_clicked.item, Call)
    assert not_clicked.item.period is not None
    assert not_clicked.item.period.since == Ago(30 * 86400)


def test_and_binds_tighter_than_or_and_parentheses_override() -> None:
    tree = parse_segment('a = "1" or b = "2" and c = "3"')
    assert isinstance(tree, Or) and isinstance(tree.items[1], And)
    tree = parse_segment('(a = "1" or b = "2") and c = "3"')
    assert isinstance(tree, And) and isinstance(tree.items[0], Or)


def test_behaviour_calls_take_campaigns_and_periods() -> None:
    tree = parse_segment('received(12, "Black Friday", since "2026-11-01") or redeemed()')
    assert isinstance(tree, Or)
    received = tree.items[0]
    assert isinstance(received, Call) and received.args == (12, "Black Friday")
    assert received.period is not None and str(received.period.since) == "2026-11-01 00:00:00+00:00"


def test_other_forms() -> None:
    assert isinstance(parse_segment(""), Everyone)
    assert isinstance(parse_segment('tags contains "vip"'), Contains)
    assert isinstance(parse_segment("email is not set"), IsSet)
    compare = parse_segment("created_at > 3 weeks ago")
    assert isinstance(compare, Compare) and compare.value == Ago(21 * 86400)
    assert isinstance(parse_segment("NOT opted_out(informational)"), Not)


@pytest.mark.parametrize(
    ("source", "line", "column", "words"),
    [
        ('country = "PL" and\n  plan ~ 3', 2, 8, "unexpected character '~'"),
        ("country = ", 1, 11, "expected a value"),
        ('plan in ("a", "b"', 1, 18, "expected ')'"),
        ('x = "open', 1, 5, "not closed"),
        ("shout(1)", 1, 1, "unknown function 'shout'"),
        ("clicked(last 3 fortnights)", 1, 16, "minutes, hours, days or weeks"),
        ('country = "PL" plan = "x"', 1, 16, "expected 'and', 'or'"),
        ('created_at > "yesterday"', 1, 14, "is not a date"),
    ],
)
def test_syntax_errors_name_line_and_column(source: str, line: int, column: int, words: str):
    with pytest.raises(UserError) as caught:
        parse_segment(source)
    problem = caught.value.problem
    assert (problem.line, problem.column) == (line, column)
    assert problem.message.startswith(f"line {line}, column {column}:")
    assert words in problem.message


def test_unknown_fields_are_named_with_the_known_ones() -> None:
    tree = parse_segment('country = "PL" and\nplann = "gold"')
    with pytest.raises(UserError) as caught:
        check_segment(tree, ["plan", "first_name"])
    assert caught.value.problem.message.startswith("line 2, column 1: unknown field 'plann'")
    assert "first_name, plan" in caught.value.problem.message
    check_segment(parse_segment('plan = "gold"'), ["plan"])


@pytest.mark.parametrize(
    "source",
    ['created_at = "x" or country > "PL"', "tags = 3", 'country = 1', "plan > 3 days ago",
     "opted_in(marketing)", "tagged()"],
)
def test_values_that_cannot_match_their_field_are_refused(source: str) -> None:
    with pytest.raises(UserError):
        check_segment(parse_segment(source), ["plan"])


ALPHABET = st.sampled_from(
    ['country', '=', '"PL"', 'and', 'or', 'not', '(', ')', 'in', ',', 'clicked', 'last', '30',
     'days', 'plan', '"gold"', 'tags', 'contains', 'is', 'set', '>', '\n', ' ', "'", '~', '.']
)


@given(st.lists(ALPHABET, max_size=14).map(" ".join) | st.text(max_size=40))
def test_any_text_parses_or_fails_with_a_position(source: str) -> None:
    try:
        tree = parse_segment(source)
    except UserError as error:
        assert error.problem.line is not None and error.problem.column is not None
        assert error.problem.line >= 1 and error.problem.column >= 1
        return
    try:
        check_segment(tree, ["plan"])
    except UserError as error:
        assert error.problem.line is not None
