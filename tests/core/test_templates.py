"""Templates: errors at composition time with line and column; safe, exact rendering."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smscast.core.errors import UserError
from smscast.core.templates import compile_template, render, unknown_variables

SCHEMA = {"first_name", "last_name", "city", "points", "expires"}


def test_renders_contact_values_defaults_coupon_and_link() -> None:
    template = compile_template(
        'Hi {{ first_name | default("there") }}! Code {{ coupon }}: '
        '{{ link("https://shop.example/sale") }}',
        known=SCHEMA,
    )
    text = render(template, {"coupon": "AB12"}, link=lambda url: "https://s.ex/Zx9")
    assert text == "Hi there! Code AB12: https://s.ex/Zx9"
    assert render(template, {"first_name": "Ola", "coupon": "C"}).startswith("Hi Ola!")


def test_unknown_variable_names_it_with_line_and_column() -> None:
    source = "Hello\n  {{ frist_name }}"
    with pytest.raises(UserError) as caught:
        compile_template(source, known=SCHEMA)
    problem = caught.value.problem
    assert (problem.code, problem.field, problem.line, problem.column) == (
        "template.unknown_variable",
        "frist_name",
        2,
        6,
    )
    assert "frist_name" in problem.message and "line 2, column 6" in problem.message


def test_unknown_variable_even_with_a_default() -> None:
    template = compile_template('{{ frist_name | default("there") }}')
    [problem] = unknown_variables(template, SCHEMA)
    assert problem.field == "frist_name"


def test_variables_set_inside_the_template_are_not_unknown() -> None:
    template = compile_template(
        "{% set greeting = 'Hi' %}{{ greeting }}{% for x in [1] %}{{ x }}{% endfor %}",
        known=SCHEMA,
    )
    assert render(template, {}) == "Hi1"


def test_syntax_error_names_the_line() -> None:
    with pytest.raises(UserError, match="line 2") as caught:
        compile_template("ok\n{% if first_name %}no end")
    assert caught.value.problem.code == "template.syntax"


def test_unknown_filter_names_it_with_line_and_column() -> None:
    with pytest.raises(UserError) as caught:
        compile_template("Hi\n {{ first_name | shout }}")
    problem = caught.value.problem
    assert "unknown filter 'shout'" in problem.message
    assert (problem.line, problem.column) == (2, 18)


def test_missing_value_for_one_contact_is_an_error_not_a_gap() -> None:
    template = compile_template("Hi {{ first_name }}", known=SCHEMA)
    with pytest.raises(UserError, match="no value for 'first_name'") as caught:
        render(template, {})
    assert caught.value.problem.column == 7


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ first_name.__class__ }}",
        "{{ range(10) }}",
        "{{ lipsum() }}",
        "{{ 'x' * 10000000 }}",
        "{{ 9 ** 9999999 }}",
    ],
)
def test_nothing_outside_the_values_is_reachable(source: str) -> None:
    with pytest.raises(UserError):
        render(compile_template(source), {"first_name": "Ann"})


def test_numbers_currency_and_dates_follow_the_contact_language() -> None:
    template = compile_template(
        "{{ points | number }} | {{ 49.9 | currency('PLN') }} | {{ expires | date('long') }}",
        known=SCHEMA,
    )
    values = {"points": 12345, "expires": dt.date(2025, 6, 30)}
    assert render(template, values, language="pl") == "12\xa0345 | 49,90\xa0zł | 30 czerwca 2025"
    assert render(template, values, language="en-US") == "12,345 | PLN49.90 | June 30, 2025"


def test_text_attributes_from_csv_are_formatted_too() -> None:
    template = compile_template("{{ points | number(2) }} {{ expires | date }}", known=SCHEMA)
    assert render(template, {"points": "1234.5", "expires": "2025-06-30"}) == (
        "1,234.50 Jun 30, 2025"
    )
    assert render(template, {"points": Decimal("2"), "expires": "2025-01-02"}).startswith("2.00")


def test_bad_value_for_a_filter_is_a_clear_error() -> None:
    template = compile_template("{{ points | number }}", known=SCHEMA)
    with pytest.raises(UserError, match="'lots' is not a number"):
        render(template, {"points": "lots"})


def test_trailing_newline_and_whitespace_are_kept() -> None:
    assert render(compile_template("a  b\n"), {}) == "a  b\n"


@given(st.text(alphabet=st.sampled_from(list("{}%#()|.'\" abx_01\n+*-~")), max_size=60))
@settings(max_examples=400)
def test_any_source_compiles_or_fails_clearly_never_crashes(source: str) -> None:
    try:
        template = compile_template(source, known={"a", "b"})
    except UserError as exc:
        assert exc.problem.code.startswith("template.")
        return
    try:
        text = render(template, {"a": 1, "b": "x"})
    except UserError as exc:
        assert exc.problem.message
    else:
        assert isinstance(text, str)


def test_brackets_nested_beyond_reading_are_a_user_error_not_a_crash() -> None:
    source = "{{ " + "(" * 2000 + "1" + ")" * 2000 + " }}"
    with pytest.raises(UserError) as raised:
        compile_template(source)
    assert raised.value.problem.code == "template.syntax"
