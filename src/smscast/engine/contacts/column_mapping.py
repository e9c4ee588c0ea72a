"""Which column of an import file holds what, when a person says so.

An import guesses each column from its header (`core.contact_rows.map_columns`:
"telefon" is the phone, "imię" the first name, anything else an attribute). A file
whose header says nothing useful ("Kolumna A", "nr kom.") needs a person to say it:
the portal shows the header with a few rows and the guesses, and the importer then
takes their choice — one target per column — instead of guessing.

A target is a known column (`phone`, `first_name` … `consent`), `attribute` (kept
under the column's own name) or `skip` (not imported).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from smscast.core.contact_rows import COLUMN_ALIASES, ColumnMap, header_key, map_columns
from smscast.core.errors import UserError
from smscast.engine.contacts.csv_reader import RecordParser, detect_format, raw_records

KNOWN_TARGETS = tuple(COLUMN_ALIASES)
ATTRIBUTE = "attribute"
SKIP = "skip"
TARGETS = (*KNOWN_TARGETS, ATTRIBUTE, SKIP)
SAMPLE_ROWS = 3
_ALIASES = {alias: column for column, aliases in COLUMN_ALIASES.items() for alias in aliases}


@dataclass(frozen=True, slots=True)
class HeaderPreview:
    """An import file's header, its first rows (cells as text) and a guess per column."""

    header: list[str]
    samples: list[list[str]]
    guesses: list[str]


def guess_targets(header: Sequence[str]) -> list[str]:
    """What the importer would make of each column by itself: the known column its name
    spells (the first such column wins), an attribute, or skip for a nameless one."""
    guesses: list[str] = []
    taken: set[str] = set()
    for cell in header:
        key = header_key(cell)
        column = _ALIASES.get(key)
        if not key:
            guesses.append(SKIP)
        elif column is not None and column not in taken:
            taken.add(column)
            guesses.append(column)
        else:
            guesses.append(ATTRIBUTE)
    return guesses


def mapped_columns(header: Sequence[str], targets: Sequence[str] | None) -> ColumnMap:
    """The importer's column map: guessed from the header when `targets` is None, else
    exactly as `targets` says (one per column). Errors name the column."""
    if targets is None:
        return map_columns(header)
    if len(targets) != len(header):
        raise UserError.of(
            "mapping_mismatch",
            f"the mapping names {len(targets)} columns but the file's header has {len(header)}",
            field="columns",
        )
    renamed: list[str] = []
    used: dict[str, str] = {}
    for cell, target in zip(header, targets, strict=True):
        if target not in TARGETS:
            raise UserError.of(
                "unknown_target",
                f'column "{cell}": "{target}" is not one of {", ".join(TARGETS)}',
                field="columns",
            )
        if target == SKIP:
            renamed.append("")
        elif target == ATTRIBUTE:
            key = header_key(cell)
            if not key:
                raise UserError.of(
                    "nameless_attribute",
                    f'column "{cell}" has no name to keep an attribute under; skip it',
                    field="columns",
                )
            if key in _ALIASES:
                raise UserError.of(
                    "attribute_is_known_column",
                    f'column "{cell}" names the known column {_ALIASES[key]}: '
                    f"map it to {_ALIASES[key]} or skip it",
                    field="columns",
                )
            renamed.append(cell)
        else:
            if target in used:
                raise UserError.of(
                    "target_twice",
                    f'columns "{used[target]}" and "{cell}" are both mapped to {target}',
                    field="columns",
                )
            used[target] = cell
            renamed.append(target)
    if "phone" not in used:
        raise UserError.of(
            "no_phone_column",
            "no column is mapped to phone: every contact needs one",
            field="columns",
        )
    # Errors about cells name the columns as the file names them, not as mapped.
    return replace(map_columns(renamed), header=tuple(header))


def preview_header(path: Path, samples: int = SAMPLE_ROWS) -> HeaderPreview:
    """The header and first rows of a saved import file, for a person to map."""
    fmt = detect_format(path)
    parser = RecordParser(fmt.encoding, fmt.delimiter)
    header: list[str] | None = None
    rows: list[list[str]] = []
    with path.open("rb") as handle:
        for record in raw_records(handle, fmt.delimiter):
            cells = parser.parse(record)
            if not isinstance(cells, list):
                if header is None:
                    raise UserError.of("bad_header", f"{path.name}: header {cells.message}",
                                       line=1)  # fmt: skip
                continue
            if header is None:
                if any(cell.strip() for cell in cells):
                    header = cells
                continue
            rows.append(cells)
            if len(rows) >= samples:
                break
    if header is None:
        raise UserError.of("empty_file", f"{path.name} is empty: there is no header row")
    return HeaderPreview(header, rows, guess_targets(header))
