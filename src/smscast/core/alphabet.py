"""One GSM-7 alphabet in use: a locking shift table plus a single shift table.

Without national language shifts this is the default alphabet and its extension
table; with them (3GPP TS 23.038 annex A) the receiving phone is told which tables
to use by information elements in the user data header, which is why an alphabet
knows the header bytes it costs.  Everything a hot path needs (the compiled checks,
translate tables) is built once per combination and cached.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from smscast.core.errors import UserError
from smscast.core.gsm7 import DEFAULT_ALPHABET, DEFAULT_EXTENSION, ESCAPE
from smscast.core.national import LANGUAGE_IDS, LOCKING_SHIFT, SINGLE_SHIFT

SINGLE_SHIFT_IEI = 0x24
LOCKING_SHIFT_IEI = 0x25
UNUSED = "\x1b"
"""Placeholder in a locking shift table for a code point the spec leaves unassigned."""


@dataclass(frozen=True, slots=True, eq=False)
class Alphabet:
    """A compiled (locking shift, single shift) table pair.

    `locking` and `single` are language codes, None for the default tables.
    """

    locking: str | None
    single: str | None
    decode_base: str
    decode_ext: dict[int, str]
    encode_map: dict[int, str] = field(repr=False)
    """ord(char) -> its septets as a str of code points 0..127 (two for an escape pair)."""
    outside: re.Pattern[str] = field(repr=False)
    """Matches any character this alphabet cannot encode."""
    doubles: re.Pattern[str] | None = field(repr=False)
    """Matches characters that take an escape pair (two septets); None when there are none."""
    header: bytes
    """The national language information elements every part must carry (may be empty)."""
    ascii_allowed: bytes = field(repr=False)
    """ASCII octets this alphabet encodes; `bytes.translate` deleting them leaves the rest."""
    ascii_singles: bytes = field(repr=False)
    """ASCII octets that take one septet; deleting them from encodable ASCII leaves the doubles."""
    ascii_septets: bytes = field(repr=False)
    """A `bytes.translate` table from one-septet ASCII octets to their septet values."""

    def encode(self, text: str) -> bytes:
        """Septet values, one per octet (unpacked, as SMPP carries data_coding 0)."""
        if text.isascii():  # byte-table fast path when no character needs an escape pair
            raw = text.encode("ascii")
            if not raw.translate(None, self.ascii_singles):
                return raw.translate(self.ascii_septets)
        return text.translate(self.encode_map).encode("latin-1")

    def decode(self, septets: bytes) -> str:
        """The text of unpacked septets; an escape to an unassigned code reads as the base
        character and a trailing or doubled escape as a space, as 23.038 tells phones to do."""
        base = self.decode_base
        out: list[str] = []
        i, n = 0, len(septets)
        while i < n:
            value = septets[i]
            if value != ESCAPE:
                out.append(base[value])
                i += 1
                continue
            if i + 1 >= n or septets[i + 1] == ESCAPE:
                out.append(" ")
                i += 2
                continue
            code = septets[i + 1]
            out.append(self.decode_ext.get(code) or _base_or_space(base, code))
            i += 2
        return "".join(out)


def _base_or_space(base: str, code: int) -> str:
    char = base[code]
    return " " if char == UNUSED else char


def _char_class(chars: set[str]) -> str:
    return "".join(re.escape(c) for c in sorted(chars))


def _language_id(code: str, tables: dict[str, str] | dict[str, dict[int, str]], kind: str) -> int:
    if code not in tables:
        known = ", ".join(sorted(tables))
        raise UserError.of(
            "encoding.unknown_language",
            f"no national {kind} shift table for language {code!r}; known: {known}",
            field="national",
        )
    return LANGUAGE_IDS[code]


@lru_cache(maxsize=64)
def alphabet_for(locking: str | None = None, single: str | None = None) -> Alphabet:
    """The compiled alphabet for a locking/single shift language pair (None = default)."""
    header = b""
    base = DEFAULT_ALPHABET
    ext = DEFAULT_EXTENSION
    if single is not None:
        header += bytes((SINGLE_SHIFT_IEI, 1, _language_id(single, SINGLE_SHIFT, "single")))
        ext = SINGLE_SHIFT[single]
    if locking is not None:
        header += bytes((LOCKING_SHIFT_IEI, 1, _language_id(locking, LOCKING_SHIFT, "locking")))
        base = LOCKING_SHIFT[locking]
    if len(base) != 128:
        raise AssertionError(f"locking shift table {locking!r} has {len(base)} entries")
    encode_map: dict[int, str] = {}
    for code, char in sorted(ext.items(), reverse=True):  # a character listed twice: lowest code
        encode_map[ord(char)] = chr(ESCAPE) + chr(code)
    for code, char in enumerate(base):
        if char != UNUSED:
            encode_map[ord(char)] = chr(code)  # one septet beats an escape pair
    double_chars = {chr(o) for o, s in encode_map.items() if len(s) == 2}
    allowed = {chr(o) for o in encode_map}
    outside = re.compile(f"[^{_char_class(allowed)}]")
    doubles = re.compile(f"[{_char_class(double_chars)}]") if double_chars else None
    return Alphabet(
        locking=locking,
        single=single,
        decode_base=base,
        decode_ext=dict(ext),
        encode_map=encode_map,
        outside=outside,
        doubles=doubles,
        header=header,
        ascii_allowed=bytes(o for o in sorted(encode_map) if o < 128),
        ascii_singles=bytes(o for o in sorted(encode_map) if o < 128 and len(encode_map[o]) == 1),
        ascii_septets=bytes(
            ord(encode_map[o]) if o in encode_map and len(encode_map[o]) == 1 else 0x3F
            for o in range(256)
        ),
    )


def candidate_alphabets(national: tuple[str | None, str | None]) -> list[Alphabet]:
    """The alphabets a connector allows, cheapest header first.

    A national table is only worth its header bytes when the default alphabet cannot
    carry the text, so the default pair always comes first.
    """
    locking, single = national
    pairs: list[tuple[str | None, str | None]] = [(None, None)]
    if single is not None:
        pairs.append((None, single))
    if locking is not None:
        pairs.append((locking, None))
        if single is not None:
            pairs.append((locking, single))
    return [alphabet_for(lo, si) for lo, si in pairs]
