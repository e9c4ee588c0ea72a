"""Which characters of a text force UCS-2, as runs a page can highlight.

The campaign builder shows the marketer the very letters that turn a one-part GSM-7
text into UCS-2 (a curly quote pasted from a word processor, a `ą`); this splits the
text into runs of ordinary and such characters, in order, without losing any.
"""

from __future__ import annotations

from smscast.core.encoding import analyse


def mark_non_gsm(text: str) -> list[tuple[str, bool]]:
    """`text` as (run, forces_ucs2) pairs whose runs joined give `text` back."""
    if not text:
        return []
    outside = set(analyse(text).non_gsm)
    runs: list[tuple[str, bool]] = []
    for char in text:
        marked = char in outside
        if runs and runs[-1][1] == marked:
            runs[-1] = (runs[-1][0] + char, marked)
        else:
            runs.append((char, marked))
    return runs


def non_gsm_characters(text: str) -> tuple[str, ...]:
    """The distinct characters of `text` outside the GSM-7 default alphabet, in order."""
    return analyse(text).non_gsm if text else ()
