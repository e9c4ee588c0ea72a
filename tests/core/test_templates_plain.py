"""The plain fast path renders exactly what Jinja renders, errors included."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from smscast.core.errors import UserError
from smscast.core.templates import MessageTemplate, compile_template, render

NAMES = ["first_name", "coupon", "a", "b", "link", "self", "loop", "_x", "none", "true"]
TEXT = st.lists(
    st.sampled_from([*list("Hi ąćŁ€{}%#-_\n\r\t!:.'\""), "\r\n", "😀", "ab"]), max_size=8
).map("".join)
CONSTANT = st.one_of(TEXT, st.integers(-5, 5), st.none(), st.booleans(), st.floats(0, 2))
VALUE = st.one_of(TEXT, st.integers(), st.none(), st.booleans(), st.floats(allow_nan=False),
                  st.lists(st.integers(), max_size=2))  # fmt: skip


def _const(value: object) -> str:
    return "none" if value is None else repr(value)


@st.composite
def expressions(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(NAMES))
    open_, close = draw(st.sampled_from([("{{ ", " }}"), ("{{", "}}"), ("{{- ", " -}}")]))
    kind = draw(st.sampled_from(["name", "default", "d", "link", "const", "other"]))
    if kind == "name":
        inner = name
    elif kind in ("default", "d"):
        args = draw(st.lists(CONSTANT, max_size=2))
        if len(args) == 2 and draw(st.booleans()):
            args[1] = draw(st.booleans())
        inner = f"{name} | {kind}({', '.join(_const(a) for a in args)})"
    elif kind == "link":
        inner = f"link({_const(draw(TEXT))})"
    elif kind == "const":
        inner = _const(draw(TEXT))
    else:
        inner = draw(st.sampled_from([f"{name} | upper", f"{name} ~ 'x'", "link"]))
    return open_ + inner + close


SOURCES = st.lists(st.one_of(TEXT, expressions()), max_size=6).map("".join)


def _outcome(template: MessageTemplate, values: dict[str, object]) -> tuple[object, ...]:
    try:
        return ("text", render(template, values, link=lambda url: f"<{url}>"))
    except UserError as exc:
        p = exc.problem
        return ("error", p.code, p.message, p.field, p.line, p.column)


@given(SOURCES, st.dictionaries(st.sampled_from(NAMES), VALUE, max_size=6))
@settings(max_examples=1500)
def test_plain_path_renders_exactly_like_jinja(source: str, values: dict[str, object]) -> None:
    try:
        template = compile_template(source)
    except UserError:
        return
    through_jinja = dataclasses.replace(template, _plain=None)
    assert _outcome(template, values) == _outcome(through_jinja, values)


def test_campaign_texts_take_the_plain_path_and_others_do_not() -> None:
    plain = compile_template(
        'Cześć {{ first_name | default("klient") }}! Kod {{ coupon }}: '
        '{{ link("https://shop.example/sale") }}'
    )
    assert plain._plain is not None
    assert compile_template("{{ points | number }}")._plain is None
    assert compile_template("{% if a %}x{% endif %}")._plain is None
    assert compile_template("{{ self }}")._plain is None


def test_missing_value_names_the_variable_on_the_plain_path() -> None:
    template = compile_template("Hi\n  {{ coupon }} {{ first_name }}")
    try:
        render(template, {"first_name": "Ola"})
    except UserError as exc:
        assert (exc.problem.field, exc.problem.line, exc.problem.column) == ("coupon", 2, 6)
    else:
        raise AssertionError("a missing value must be an error")
