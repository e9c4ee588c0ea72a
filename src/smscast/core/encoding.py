"""Which encoding a text needs and how many parts it takes on the wire.

Carriers bill per part, so the count here must be the count a phone receives: an
escape pair (GSM-7) or a surrogate pair (UCS-2) is never split across two parts,
which can cost a part that naive arithmetic misses.  `plan_text` does the work
once; `analyse` is its summary and `smscast.core.parts` slices by its boundaries.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass

from smscast.core.alphabet import Alphabet, alphabet_for, candidate_alphabets
from smscast.core.errors import UserError

MAX_PARTS = 255
"""The concatenation header counts parts in one octet."""

National = tuple[str | None, str | None]
"""(locking shift language, single shift language); None means the default table."""


class Encoding(enum.StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


@dataclass(frozen=True, slots=True)
class TextInfo:
    """What a person needs to know before sending a text.

    `units` are septets (GSM-7) or UTF-16 code units (UCS-2); `per_part` is the
    capacity of one part (160/70 alone, less when concatenated) and `remaining` what
    is still free in the last part.  `national` names the shift tables chosen.
    """

    encoding: Encoding
    parts: int
    units: int
    per_part: int
    remaining: int
    non_gsm: tuple[str, ...]
    national: National = (None, None)


@dataclass(frozen=True, slots=True)
class TextPlan:
    """A text's encoding and where each part ends (character offsets, exclusive)."""

    info: TextInfo
    alphabet: Alphabet | None
    ends: tuple[int, ...]
    header: bytes
    """National language IEs each part carries (empty for UCS-2 and the default alphabet)."""


# C0 controls other than LF, FF and CR; DEL and C1 controls; lone surrogates.
_FORBIDDEN = re.compile("[\x00-\x09\x0b\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_CONTROL_NAMES = {"\x00": "NUL", "\t": "a tab", "\x1b": "ESC", "\x7f": "DEL"}


def describe_char(char: str) -> str:
    """A character as a person can find it: `'ą' (U+0105 LATIN SMALL LETTER A WITH OGONEK)`."""
    code = f"U+{ord(char):04X}"
    name = unicodedata.name(char, "")
    shown = repr(char) if char.isprintable() else _CONTROL_NAMES.get(char, "control character")
    return f"{shown} ({code}{' ' + name if name else ''})"


def check_text(text: str) -> None:
    """Rejects characters no SMS can carry faithfully, naming the first and where it is."""
    bad = _FORBIDDEN.search(text)
    if bad is None:
        return
    char = bad.group()
    position = bad.start() + 1
    if "\ud800" <= char <= "\udfff":
        why = "is half of a surrogate pair with no other half (the text is not valid Unicode)"
    else:
        why = "is a control character that phones do not show; remove it or use a space"
    raise UserError.of(
        "encoding.bad_character",
        f"character {position}: {describe_char(char)} {why}",
        field="text",
        column=position,
    )


def gsm_capacity(header_octets: int) -> int:
    """Septets that fit in 140 octets after a user data header padded to a septet boundary."""
    if header_octets == 0:
        return 160
    return 160 - (header_octets * 8 + 6) // 7


def ucs2_capacity(header_octets: int) -> int:
    return (140 - header_octets) // 2


def udh_length(information_elements: int) -> int:
    """Octets of a user data header holding `information_elements` octets (plus UDHL)."""
    return 1 + information_elements if information_elements else 0


def concat_ie_length(reference_bits: int) -> int:
    if reference_bits not in (8, 16):
        raise UserError.of(
            "encoding.reference_bits",
            f"reference_bits must be 8 or 16, not {reference_bits}",
            field="reference_bits",
        )
    return 5 if reference_bits == 8 else 6


def part_ends(length: int, doubles: list[int], single: int, multi: int) -> tuple[int, ...]:
    """Greedy part boundaries over `length` characters where those at `doubles` cost two units.

    A double-unit character that does not fit whole in a part starts the next one.
    """
    if length + len(doubles) <= single:
        return (length,)
    if not doubles:
        return tuple(min(end, length) for end in range(multi, length + multi, multi))
    ends: list[int] = []
    start = 0
    k = 0  # index of the next double-unit character at or after `start`
    while start < length:
        room = multi
        pos = start
        end = -1
        while k < len(doubles):
            d = doubles[k]
            if d - pos >= room:
                end = pos + room
                break
            room -= d - pos
            if room < 2:
                end = d
                break
            room -= 2
            pos = d + 1
            k += 1
        if end < 0:
            end = min(length, pos + room)
        ends.append(end)
        start = end
    return tuple(ends)


def _summarise(
    encoding: Encoding,
    ends: tuple[int, ...],
    units: int,
    unit_ends: list[int],
    capacity: int,
    non_gsm: tuple[str, ...],
    national: National,
) -> TextInfo:
    last_units = unit_ends[-1] - (unit_ends[-2] if len(unit_ends) > 1 else 0)
    parts = len(ends)
    if parts > MAX_PARTS:
        raise UserError.of(
            "encoding.too_long",
            f"the text needs {parts} {encoding} parts; one message can have at most {MAX_PARTS}",
            field="text",
        )
    return TextInfo(encoding, parts, units, capacity, capacity - last_units, non_gsm, national)


def _units_at(ends: tuple[int, ...], doubles: list[int]) -> list[int]:
    """Cumulative units at each part end (characters plus one per double before the end)."""
    out: list[int] = []
    k = 0
    for end in ends:
        while k < len(doubles) and doubles[k] < end:
            k += 1
        out.append(end + k)
    return out


def _plan_gsm(text: str, alphabet: Alphabet, reference_bits: int) -> TextPlan:
    doubles = [m.start() for m in alphabet.doubles.finditer(text)] if alphabet.doubles else []
    units = len(text) + len(doubles)
    ies = len(alphabet.header)
    single = gsm_capacity(udh_length(ies))
    multi = gsm_capacity(udh_length(ies + concat_ie_length(reference_bits)))
    ends = part_ends(len(text), doubles, single, multi)
    capacity = single if len(ends) == 1 else multi
    unit_ends = [units] if len(ends) == 1 else _units_at(ends, doubles)
    national = (alphabet.locking, alphabet.single)
    info = _summarise(Encoding.GSM7, ends, units, unit_ends, capacity, (), national)
    return TextPlan(info, alphabet, ends, alphabet.header)


def plan_ucs2(text: str, *, non_gsm: tuple[str, ...] = (), reference_bits: int = 8) -> TextPlan:
    """The UCS-2 plan for `text` whether or not it would fit GSM-7 (for a forced data_coding 8)."""
    check_text(text)
    units = len(text.encode("utf-16-le")) // 2
    doubles = [m.start() for m in _ASTRAL.finditer(text)] if units != len(text) else []
    single = ucs2_capacity(0)
    multi = ucs2_capacity(udh_length(concat_ie_length(reference_bits)))
    ends = part_ends(len(text), doubles, single, multi)
    capacity = single if len(ends) == 1 else multi
    unit_ends = [units] if len(ends) == 1 else _units_at(ends, doubles)
    info = _summarise(Encoding.UCS2, ends, units, unit_ends, capacity, non_gsm, (None, None))
    return TextPlan(info, None, ends, b"")


def _unencodable(text: str, alphabet: Alphabet) -> tuple[str, ...]:
    return tuple(dict.fromkeys(alphabet.outside.findall(text)))


def plan_text(text: str, *, national: National = (None, None), reference_bits: int = 8) -> TextPlan:
    """Classifies `text` and places its part boundaries.

    GSM-7 with the default tables is tried first; national tables the connector
    allows are used only when the default alphabet cannot carry the text, choosing
    the allowed pair that needs the fewest parts.  Anything else is UCS-2.
    """
    check_text(text)
    default = alphabet_for()
    if default.outside.search(text) is None:
        return _plan_gsm(text, default, reference_bits)
    best: TextPlan | None = None
    missing = _unencodable(text, default)
    for alphabet in candidate_alphabets(national)[1:]:
        if alphabet.outside.search(text) is None:
            plan = _plan_gsm(text, alphabet, reference_bits)
            if best is None or plan.info.parts < best.info.parts:
                best = plan
        else:
            left = _unencodable(text, alphabet)
            if len(left) < len(missing):
                missing = left
    if best is not None:
        return best
    return plan_ucs2(text, non_gsm=missing, reference_bits=reference_bits)


def analyse(text: str, *, national: National = (None, None), reference_bits: int = 8) -> TextInfo:
    """Encoding, part count and room left for `text` as it would be sent."""
    return plan_text(text, national=national, reference_bits=reference_bits).info
