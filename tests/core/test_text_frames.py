"""Texts made from a frame are exactly the texts rendering makes, whatever the template,
and the encoding a frame reports for them is theirs."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from test_templates_plain import SOURCES, VALUE

from smscast.core.encoding import single_unit_encoding
from smscast.core.errors import UserError
from smscast.core.templates import compile_template, render
from smscast.core.text_frames import COUPON_MARK, TextFrames

CODES = st.lists(st.sampled_from([*"AZaz09-_{}%€ąś😀", COUPON_MARK]), min_size=1,
                 max_size=6).map("".join)  # fmt: skip
TOKENS = st.text(alphabet=st.sampled_from([*"AZaz09-_"]), min_size=12, max_size=12)


@given(SOURCES, st.dictionaries(st.sampled_from(["first_name", "a", "b"]), VALUE, max_size=3),
       st.lists(st.tuples(st.one_of(st.none(), CODES), st.one_of(st.none(), TOKENS)),
                min_size=1, max_size=6))  # fmt: skip
@settings(max_examples=1000)
def test_a_framed_text_is_the_rendered_text(source, values, recipients) -> None:
    try:
        template = compile_template(source)
    except UserError:
        return
    if not template.plain:  # frames are only made for plain templates (Jinja may do anything)
        return
    frames = TextFrames(trial=10**9)

    def rendered(code, token):
        given = values if code is None else {**values, "coupon": code}
        return render(template, given, link=lambda url: f"https://s.example/l/{token}<{url}>")

    for code, token in recipients:
        key = (code is None, token is None)
        try:
            expected = rendered(code, token)
        except UserError as error:
            try:
                frames.text(key, code, token, rendered)
            except UserError as again:
                assert again.problem == error.problem
            else:
                raise AssertionError("the frame hid an error")
            continue
        text, units = frames.text_and_units(key, code, token, rendered)
        assert text == expected
        assert units is None or units == single_unit_encoding(expected)


def test_texts_share_one_frame_and_render_once_per_frame() -> None:
    template = compile_template("Hi {{ first_name }}, {{ coupon }} {{ link('https://x') }} {}%")
    calls: list[tuple[str | None, str | None]] = []

    def rendered(code, token, name="Ola"):
        calls.append((code, token))
        return render(template, {"first_name": name, "coupon": code},
                      link=lambda url: f"s.example/l/{token}")  # fmt: skip

    frames = TextFrames()
    texts = [frames.text(("Ola",), f"C{i}", f"T{i}", rendered) for i in range(50)]

    assert texts[7] == "Hi Ola, C7 s.example/l/T7 {}%"
    assert len(calls) == 2  # one real text and one with marks, then only filling in
    other = frames.text(("Ewa",), "C9", "T9", lambda c, t: rendered(c, t, "Ewa"))
    assert other.startswith("Hi Ewa")


def test_mostly_distinct_texts_stop_making_frames() -> None:
    template = compile_template("Hi {{ phone }} {{ coupon }}")
    frames = TextFrames(trial=100)
    for i in range(300):
        phone = f"+4860000{i:04d}"
        values = {"phone": phone}
        text = frames.text((phone,), f"C{i}", None,
                           lambda c, t, v=values: render(template, {**v, "coupon": c}))  # fmt: skip
        assert text == f"Hi {phone} C{i}"
    assert not frames.enabled
