"""Smart encoding: GSM-7 look-alikes for characters that would force UCS-2.

One curly quote or `ą` turns a one-part message into three UCS-2 parts.  Where the
campaign or number allows it, such characters are replaced by look-alikes, but only
when that saves parts, and never silently: the result lists every replacement and
the before/after counts so the marketer sees "UCS-2, 3 parts → GSM-7, 1 part".
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from smscast.core.alphabet import alphabet_for
from smscast.core.encoding import NO_TABLES, National, TextInfo, analyse
from smscast.core.national import NationalTables

# Punctuation and spaces that word processors and phones put in for their plain forms.
_PUNCTUATION: dict[str, str] = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u00b4": "'",
    "`": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u00ab": '"', "\u00bb": '"', "\u2039": "'", "\u203a": "'",
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-",
    "\u2212": "-", "\u00ad": "", "\u2026": "...", "\u2022": "-", "\u00b7": ".",
    "\u00a0": " ", "\u1680": " ", "\u2000": " ", "\u2001": " ", "\u2002": " ",
    "\u2003": " ", "\u2004": " ", "\u2005": " ", "\u2006": " ", "\u2007": " ", "\u2008": " ",
    "\u2009": " ", "\u200a": " ", "\u202f": " ", "\u205f": " ", "\u3000": " ",
    "\u2028": "\n", "\u2029": "\n",
    "\u00d7": "x", "\u00f7": "/", "\u00a9": "(c)", "\u00ae": "(R)", "\u2122": "TM",
    "\u00a2": "c", "\u00b0": "o", "\u00b2": "2", "\u00b3": "3", "\u00b9": "1",
    "\u00bc": "1/4", "\u00bd": "1/2", "\u00be": "3/4", "\u00aa": "a", "\u00ba": "o",
    "\u00a6": "|", "\u00a8": '"', "\u00af": "-", "\u00b8": ",", "\u00b5": "u", "\u00b6": "P",
}  # fmt: skip

# Latin letters whose look-alike is not their Unicode decomposition.
_LETTERS: dict[str, str] = {
    "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "ħ": "h", "Ħ": "H",
    "ı": "i", "ĸ": "k", "ŀ": "l", "Ŀ": "L", "ŉ": "'n", "ŋ": "n", "Ŋ": "N", "œ": "oe",
    "Œ": "OE", "ŧ": "t", "Ŧ": "T", "ſ": "s", "þ": "th", "Þ": "Th", "Ĳ": "IJ", "ĳ": "ij",
    "ç": "c",
}  # fmt: skip


def _latin_look_alikes() -> dict[str, str]:
    """Latin-1 Supplement and Latin Extended-A letters not in GSM-7, by their base letter."""
    allowed = alphabet_for().encode_map
    out: dict[str, str] = {}
    for code in range(0xC0, 0x180):
        char = chr(code)
        if code in allowed or not char.isalpha():
            continue
        if char in _LETTERS:
            out[char] = _LETTERS[char]
            continue
        base = "".join(
            c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c)
        )
        if base and all(ord(c) in allowed for c in base):
            out[char] = base
    return out


LOOK_ALIKES: dict[str, str] = {**_PUNCTUATION, **_latin_look_alikes()}
"""Character -> the GSM-7 text that stands in for it."""


@dataclass(frozen=True, slots=True)
class SmartResult:
    """The text to send and what smart encoding did to get it.

    `applied` is False (and `text` the original) when replacing would not save a part.
    """

    text: str
    replaced: tuple[tuple[str, str], ...]
    before: TextInfo
    after: TextInfo
    applied: bool

    def summary(self) -> str:
        """`UCS-2, 3 parts → GSM-7, 1 part`, or why nothing changed."""
        was = f"{self.before.encoding}, {_parts(self.before.parts)}"
        if not self.applied:
            return f"{was} (smart encoding would save no part)"
        return f"{was} → {self.after.encoding}, {_parts(self.after.parts)}"


def _parts(n: int) -> str:
    return f"{n} part" if n == 1 else f"{n} parts"


def smart_encode(
    text: str,
    *,
    national: National = (None, None),
    tables: NationalTables = NO_TABLES,
    reference_bits: int = 8,
) -> SmartResult:
    """Replaces characters by GSM-7 look-alikes when (and only when) that saves parts.

    With national `tables` allowed, a text they carry has nothing outside the alphabet
    and is left alone: the shift tables keep the letters the writer chose.
    """
    before = analyse(text, national=national, tables=tables, reference_bits=reference_bits)
    if not before.non_gsm:
        return SmartResult(text, (), before, before, False)
    replaced = tuple((c, LOOK_ALIKES[c]) for c in before.non_gsm if c in LOOK_ALIKES)
    if not replaced:
        return SmartResult(text, (), before, before, False)
    converted = text.translate({ord(c): v for c, v in replaced})
    after = analyse(converted, national=national, tables=tables, reference_bits=reference_bits)
    if after.parts >= before.parts:
        return SmartResult(text, (), before, before, False)
    return SmartResult(converted, replaced, before, after, True)


Replacements = tuple[tuple[str, str], ...]
"""(character, what smart encoding put in its place), as `SmartResult.replaced`."""


def replacements_json(replaced: Replacements) -> str | None:
    """What a message records of smart encoding: `{"’": "'"}`, None when nothing changed.

    Written compactly and unescaped, so a person reading the row sees the characters.
    """
    if not replaced:
        return None
    return json.dumps(dict(replaced), ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def merge_replacements(into: dict[str, str], replaced: Iterable[tuple[str, str]]) -> bool:
    """Adds replacements to a campaign's tally; True when a character was new to it."""
    grew = False
    for char, stand_in in replaced:
        if char not in into:
            into[char] = stand_in
            grew = True
    return grew
