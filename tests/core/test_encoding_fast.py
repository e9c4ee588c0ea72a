"""`text_parts`, the launch's quick part count, always agrees with `analyse`."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from smscast.core.encoding import Encoding, analyse, text_parts
from smscast.core.errors import UserError

CHARS = st.sampled_from(
    [*list("aZ09 !@{}[]~^€\n\r\x0c\t\x00\x1b\x7f\x85\xa0ąćęłńóśźżŁĆ€£¥èéÇΔ"), "😀", "\ud800", "中"]
)
TEXTS = st.one_of(
    st.lists(CHARS, max_size=400).map("".join),
    st.text(max_size=300),
    st.integers(0, 20_000).map(lambda n: "ś" * n),
)


def _outcome(call: object) -> tuple[object, ...]:
    try:
        return ("ok", call())  # type: ignore[operator]
    except UserError as exc:
        return ("error", exc.problem.code, exc.problem.message)


@given(TEXTS, st.sampled_from([8, 16]), st.sampled_from([(None, None), ("pt", "pt")]))
@settings(max_examples=1500)
def test_text_parts_matches_the_full_analysis(text: str, bits: int, national: object) -> None:
    def full() -> tuple[Encoding, int]:
        info = analyse(text, national=national, reference_bits=bits)  # type: ignore[arg-type]
        return info.encoding, info.parts

    quick = _outcome(lambda: text_parts(text, national=national, reference_bits=bits))  # type: ignore[arg-type]
    assert quick == _outcome(full)


def test_a_polish_text_is_ucs2_and_counted_in_67_unit_parts() -> None:
    assert text_parts("Cześć " + "x" * 64) == (Encoding.UCS2, 1)
    assert text_parts("Cześć " + "x" * 65) == (Encoding.UCS2, 2)
    assert text_parts("ś" * 134) == (Encoding.UCS2, 2)
    assert text_parts("ś" * 135) == (Encoding.UCS2, 3)
