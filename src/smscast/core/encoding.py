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
from bisect import bisect_left
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from smscast.core.alphabet import Alphabet, alphabet_for, candidate_alphabets
from smscast.core.errors import UserError
from smscast.core.national import LOCKING_SHIFT, SINGLE_SHIFT, NationalTables

MAX_PARTS = 255
"""The concatenation header counts parts in one octet."""

National = tuple[str | None, str | None]
"""(locking shift language, single shift language); None means the default table."""

NO_TABLES: NationalTables = ()


class Encoding(enum.StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


_GSM7 = Encoding.GSM7
_UCS2 = Encoding.UCS2
"""For hot paths: reading an enum member costs a lookup through its class each time."""


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


class TextPlan(NamedTuple):
    """A text's encoding and where each part ends (character offsets, exclusive)."""

    info: TextInfo
    alphabet: Alphabet | None
    ends: tuple[int, ...]
    header: bytes
    """National language IEs each part carries (empty for UCS-2 and the default alphabet)."""


# C0 controls other than LF, FF and CR; DEL and C1 controls; lone surrogates.
_FORBIDDEN = re.compile("[\x00-\x09\x0b\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_FORBIDDEN_CHARS = frozenset(
    chr(c)
    for c in [
        *range(0x00, 0x0A),
        0x0B,
        *range(0x0E, 0x20),
        *range(0x7F, 0xA0),
        *range(0xD800, 0xE000),
    ]
)
_DEFAULT = alphabet_for()
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
        return (*range(multi, length, multi), length)
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


def _too_long(parts: int, encoding: Encoding) -> UserError:
    return UserError.of(
        "encoding.too_long",
        f"the text needs {parts} {encoding} parts; one message can have at most {MAX_PARTS}",
        field="text",
    )


_InfoKey = tuple[int, int, int, int, tuple[str, ...], National]
_INFO_CACHE: dict[Encoding, dict[_InfoKey, TextInfo]] = {Encoding.GSM7: {}, Encoding.UCS2: {}}
"""TextInfo values are immutable and most texts of a campaign land on a few of them."""


def _info(
    encoding: Encoding,
    parts: int,
    units: int,
    per_part: int,
    remaining: int,
    non_gsm: tuple[str, ...],
    national: National,
) -> TextInfo:
    cache = _INFO_CACHE[encoding]
    key = (parts, units, per_part, remaining, non_gsm, national)
    info = cache.get(key)
    if info is None:
        if len(cache) > 100_000:
            cache.clear()
        info = cache[key] = TextInfo(encoding, *key)
    return info


def _plan(
    encoding: Encoding,
    length: int,
    doubles: list[int],
    capacities: tuple[int, int],
    non_gsm: tuple[str, ...],
    alphabet: Alphabet | None,
) -> TextPlan:
    """Places part boundaries; the one-part case (most texts) returns straight away."""
    units = length + len(doubles)
    single, multi = capacities
    national: National = (alphabet.locking, alphabet.single) if alphabet else (None, None)
    header = alphabet.header if alphabet else b""
    if units <= single:
        info = _info(encoding, 1, units, single, single - units, non_gsm, national)
        return TextPlan(info, alphabet, (length,), header)
    ends = part_ends(length, doubles, single, multi)
    if len(ends) > MAX_PARTS:
        raise _too_long(len(ends), encoding)
    last_start = ends[-2]
    last_units = length - last_start + len(doubles) - bisect_left(doubles, last_start)
    info = _info(encoding, len(ends), units, multi, multi - last_units, non_gsm, national)
    return TextPlan(info, alphabet, ends, header)


def _capacities(header_octets: int, reference_bits: int, gsm: bool) -> tuple[int, int]:
    capacity = gsm_capacity if gsm else ucs2_capacity
    concat = header_octets + concat_ie_length(reference_bits)
    return capacity(udh_length(header_octets)), capacity(udh_length(concat))


_GSM_CAPACITIES = {bits: _capacities(0, bits, True) for bits in (8, 16)}
_UCS2_CAPACITIES = {bits: _capacities(0, bits, False) for bits in (8, 16)}


def _plan_gsm(text: str, alphabet: Alphabet, reference_bits: int, any_doubles: bool) -> TextPlan:
    pattern = alphabet.doubles
    doubles = [m.start() for m in pattern.finditer(text)] if pattern and any_doubles else []
    if alphabet.header:
        capacities = _capacities(len(alphabet.header), reference_bits, True)
    else:
        capacities = _GSM_CAPACITIES.get(reference_bits) or _capacities(0, reference_bits, True)
    return _plan(Encoding.GSM7, len(text), doubles, capacities, (), alphabet)


def _plan_ucs2(text: str, non_gsm: tuple[str, ...], reference_bits: int) -> TextPlan:
    units = len(text.encode("utf-16-le")) // 2
    doubles = [m.start() for m in _ASTRAL.finditer(text)] if units != len(text) else []
    capacities = _UCS2_CAPACITIES.get(reference_bits) or _capacities(0, reference_bits, False)
    return _plan(Encoding.UCS2, len(text), doubles, capacities, non_gsm, None)


def plan_ucs2(text: str, *, reference_bits: int = 8) -> TextPlan:
    """The UCS-2 plan for `text` whether or not it would fit GSM-7 (for a forced data_coding 8)."""
    check_text(text)
    return _plan_ucs2(text, (), reference_bits)


@lru_cache(maxsize=256)
def national_candidates(national: National, tables: NationalTables) -> tuple[Alphabet, ...]:
    """The national alphabets allowed by an explicit pair and by a connector's tables.

    A pair allows its single table, its locking table and both (see
    `candidate_alphabets`); `tables` allows every combination of their locking and
    single shift tables (Spanish has only a single shift table).  Ordered single
    shift first, then locking, then both, each by language, so ties always fall the
    same way: a message re-planned with the pair chosen for it gets that pair again.
    """
    if not tables:  # just the pair: its own candidates, unknown codes reported as before
        return tuple(candidate_alphabets(national)[1:])
    lockings = sorted({t for t in (national[0], *tables) if t in LOCKING_SHIFT})
    singles = sorted({t for t in (national[1], *tables) if t in SINGLE_SHIFT})
    pairs: list[National] = [(None, s) for s in singles]
    pairs += [(lo, None) for lo in lockings]
    pairs += [(lo, s) for lo in lockings for s in singles]
    return tuple(alphabet_for(lo, s) for lo, s in pairs)


@lru_cache(maxsize=64)
def varying_chars(tables: NationalTables) -> re.Pattern[str]:
    """Matches any character that is not one septet in every alphabet `tables` allow.

    Two texts that differ only in characters this does not match, at the same places
    and of the same lengths, have the same plan whichever tables they get: the same
    encoding, parts and national pair. White space is left out too, so such texts are
    empty (or end in white space) alike. A launch fills one frame with many coupons and
    tokens of the same length, so it plans one text per frame (see `RecipientBuilder`).
    """
    alphabets = (_DEFAULT, *national_candidates((None, None), tables))
    common = set.intersection(
        *({chr(o) for o, septets in a.encode_map.items() if len(septets) == 1} for a in alphabets)
    )
    common = {c for c in common if c not in _FORBIDDEN_CHARS and not c.isspace()}
    return re.compile(f"[^{''.join(re.escape(c) for c in sorted(common))}]")


def _plan_national(
    text: str, candidates: tuple[Alphabet, ...], reference_bits: int, missing: tuple[str, ...]
) -> TextPlan:
    """The allowed national alphabet needing the fewest parts, then the shortest header;
    UCS-2 when no allowed alphabet carries the text or UCS-2 takes fewer parts."""
    best: TextPlan | None = None
    for alphabet in candidates:
        if alphabet.outside.search(text) is None:
            plan = _plan_gsm(text, alphabet, reference_bits, True)
            if best is None or (plan.info.parts, len(plan.header)) < (
                best.info.parts,
                len(best.header),
            ):
                best = plan
        else:
            left = tuple(dict.fromkeys(alphabet.outside.findall(text)))
            if len(left) < len(missing):
                missing = left
    if best is None:
        return _plan_ucs2(text, missing, reference_bits)
    try:
        ucs2 = _plan_ucs2(text, missing, reference_bits)
    except UserError:  # too long for UCS-2, not for the national alphabet
        return best
    return best if best.info.parts <= ucs2.info.parts else ucs2


def _plan_plain_gsm(length: int, capacities: tuple[int, int]) -> TextPlan:
    """Default alphabet, no escape pairs: boundaries are plain arithmetic."""
    single, multi = capacities
    if length <= single:
        info = _info(Encoding.GSM7, 1, length, single, single - length, (), (None, None))
        return TextPlan(info, _DEFAULT, (length,), b"")
    ends = (*range(multi, length, multi), length)
    if len(ends) > MAX_PARTS:
        raise _too_long(len(ends), Encoding.GSM7)
    remaining = multi - (length - ends[-2])
    info = _info(Encoding.GSM7, len(ends), length, multi, remaining, (), (None, None))
    return TextPlan(info, _DEFAULT, ends, b"")


_EMPTY = TextPlan(TextInfo(Encoding.GSM7, 0, 0, 160, 160, ()), _DEFAULT, (), b"")
"""An empty text has no part: nothing can be sent (see `check_sendable`)."""


def plan_text(
    text: str,
    *,
    national: National = (None, None),
    tables: NationalTables = NO_TABLES,
    reference_bits: int = 8,
) -> TextPlan:
    """Classifies `text` and places its part boundaries.

    GSM-7 with the default tables is tried first; national tables the connector
    allows (an explicit `national` pair, or a connector's `tables`) are used only
    when the default alphabet cannot carry the text, choosing the allowed pair that
    needs the fewest parts (never more than UCS-2).  Anything else is UCS-2.
    """
    if not text:
        return _EMPTY
    default = _DEFAULT
    if text.isascii():  # the common case, checked with two C-speed byte deletions
        raw = text.encode("ascii")
        if not raw.translate(None, default.ascii_allowed):
            if raw.translate(None, default.ascii_singles) or reference_bits not in _GSM_CAPACITIES:
                return _plan_gsm(text, default, reference_bits, True)
            return _plan_plain_gsm(len(text), _GSM_CAPACITIES[reference_bits])
    found = default.outside.findall(text)  # the default alphabet has no control character
    if not found:
        return _plan_gsm(text, default, reference_bits, True)
    if not _FORBIDDEN_CHARS.isdisjoint(found):
        check_text(text)
    missing = tuple(dict.fromkeys(found))
    if national != (None, None) or tables:
        candidates = national_candidates(national, tables)
        return _plan_national(text, candidates, reference_bits, missing)
    return _plan_ucs2(text, missing, reference_bits)


def check_sendable(text: str, *, field: str = "text") -> None:
    """Refuses a text with nothing to read: an empty SMS (or one of spaces) is no message."""
    if not text or text.isspace():
        raise UserError.of(
            "encoding.empty",
            f"the {field} is empty; an SMS needs at least one character to read",
            field=field,
        )


def single_unit_encoding(text: str) -> Encoding | None:
    """The encoding `text` needs when each of its characters takes exactly one unit in it.

    GSM-7: every character is a single septet of the default alphabet. UCS-2: some
    character is outside the default alphabet, none is beyond the BMP or forbidden.
    None for anything else (escape pairs, surrogate pairs, control characters), whose
    parts depend on where those characters fall. A text joined from such pieces has
    `joined_encoding` of theirs and, with the default tables, `parts_for_length` of
    its length: a launch counts millions of texts that differ only in a coupon and a
    token from their lengths instead of reading each one.
    """
    default = _DEFAULT
    if text.isascii():
        raw = text.encode("ascii")
        if not raw.translate(None, default.ascii_singles):
            return _GSM7
        if not raw.translate(None, default.ascii_allowed):
            return None  # in the alphabet, with an escape pair
        return None if _FORBIDDEN.search(text) else _UCS2
    if default.outside.search(text) is None:
        return None if default.doubles and default.doubles.search(text) else _GSM7
    if _FORBIDDEN.search(text) or _ASTRAL.search(text):
        return None
    return _UCS2


def joined_encoding(*pieces: Encoding | None) -> Encoding | None:
    """`single_unit_encoding` of a text joined from pieces with these."""
    if None in pieces:
        return None
    return _UCS2 if _UCS2 in pieces else _GSM7


def parts_for_length(encoding: Encoding, length: int, reference_bits: int = 8) -> int:
    """Parts of a text of `length` characters that each take one unit of `encoding`
    (with the default tables), as `analyse` counts them."""
    gsm = encoding is _GSM7
    capacities = (_GSM_CAPACITIES if gsm else _UCS2_CAPACITIES).get(reference_bits)
    single, multi = capacities or _capacities(0, reference_bits, gsm)
    if length <= single:
        return 1 if length else 0
    parts = -(-length // multi)
    if parts > MAX_PARTS:
        raise _too_long(parts, encoding)
    return parts


def analyse(
    text: str,
    *,
    national: National = (None, None),
    tables: NationalTables = NO_TABLES,
    reference_bits: int = 8,
) -> TextInfo:
    """Encoding, part count and room left for `text` as it would be sent (0 parts when empty)."""
    return plan_text(text, national=national, tables=tables, reference_bits=reference_bits).info


def text_parts(
    text: str,
    *,
    national: National = (None, None),
    tables: NationalTables = NO_TABLES,
    reference_bits: int = 8,
) -> tuple[Encoding, int]:
    """`analyse(text)`'s encoding and part count, quicker for the usual personalised text.

    A launch stores only these two per recipient.  A printable, non-ASCII text outside
    the default alphabet, with no national tables and no character beyond the BMP, is
    UCS-2 with one unit per character: plain arithmetic.  Every other text takes the
    full plan, so both always agree.
    """
    capacities = _UCS2_CAPACITIES.get(reference_bits)
    if (
        capacities is not None
        and national == (None, None)
        and not tables
        and not text.isascii()
        and _DEFAULT.outside.search(text) is not None
        and text.replace("\n", "").isprintable()
        and len(text.encode("utf-16-le")) == 2 * len(text)
    ):
        single, multi = capacities
        units = len(text)
        parts = 1 if units <= single else -(-units // multi)
        if parts <= MAX_PARTS:
            return Encoding.UCS2, parts
    info = analyse(text, national=national, tables=tables, reference_bits=reference_bits)
    return info.encoding, info.parts
