"""Reading contacts from spreadsheet rows: which column is what, and what each cell means.

Pure: the CSV reader hands cells in, a `ContactRow` or the problems come out. The
engine decides what to do with them (merge, report, skip).

Besides the phone, a row may give the contact's other addresses (`email`, `whatsapp`)
and consent per channel: `consent` is SMS's (as before channels), `consent_email` and
`consent_whatsapp` those of the other two.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from smscast.core.channels import normalise_email
from smscast.core.consent import Action, parse_consent_cell
from smscast.core.errors import Problem, UserError
from smscast.core.phones import PhoneError, parse_phone

# Known columns and the header spellings people use for them.
COLUMN_ALIASES = {
    "phone": ("phone", "phone_number", "mobile", "msisdn", "number", "telefon", "tel", "cell"),
    "first_name": ("first_name", "firstname", "given_name", "imie", "imię"),
    "last_name": ("last_name", "lastname", "surname", "family_name", "nazwisko"),
    "language": ("language", "lang", "locale", "jezyk", "język"),
    "timezone": ("timezone", "time_zone", "tz"),
    "email": ("email", "e_mail", "mail"),
    "tags": ("tags", "tag", "labels"),
    "consent": ("consent", "opt_in", "optin", "zgoda"),
    "whatsapp": ("whatsapp", "whatsapp_number", "whatsapp_phone", "wa"),
    "consent_email": ("consent_email", "email_consent", "zgoda_email"),
    "consent_whatsapp": ("consent_whatsapp", "whatsapp_consent", "zgoda_whatsapp"),
}
_ALIAS_TO_COLUMN = {
    alias: column for column, aliases in COLUMN_ALIASES.items() for alias in aliases
}
ATTRIBUTE_COLUMNS = ("first_name", "last_name")
OPTIONAL_COLUMNS = ("language", "timezone", "email", "consent", "tags", "whatsapp",
                    "consent_email", "consent_whatsapp")  # fmt: skip
#: The consent column of each channel an import can record consent on.
CONSENT_COLUMNS = {"sms": "consent", "email": "consent_email", "whatsapp": "consent_whatsapp"}
_HEADER_JUNK = re.compile(r"[^\w]+")
_LANGUAGE = re.compile(r"([a-zA-Z]{2,3})(?:[-_]([a-zA-Z]{2}|\d{3}))?")
_TAG_SEPARATORS = re.compile(r"[;,|]")
MAX_CELL = 2000


@dataclass(frozen=True, slots=True)
class ColumnMap:
    """Where each known column is in the row, and the custom columns (attributes)."""

    header: tuple[str, ...]
    known: dict[str, int]
    attributes: tuple[tuple[str, int], ...]  # first and last name, then custom columns
    optional: tuple[int | None, ...] = ()  # where the OPTIONAL_COLUMNS are, if present


class ContactRow(NamedTuple):
    """One row read from the file: what it says about one contact.

    A named tuple because import workers send millions of these to the writer.
    """

    row: int
    phone: str
    country: str
    attributes: dict[str, str]
    language: str | None = None
    timezone: str | None = None
    email: str | None = None
    tags: tuple[str, ...] = ()
    consent: Action | None = None  # SMS
    whatsapp: str | None = None  # E.164
    consent_email: Action | None = None
    consent_whatsapp: Action | None = None


def header_key(name: str) -> str:
    """`First Name ` → `first_name`: how a header cell is compared and stored."""
    return _HEADER_JUNK.sub("_", name.strip().lower()).strip("_")


def map_columns(header: Sequence[str]) -> ColumnMap:
    """Maps header cells to columns; raises UserError when no column holds the phone."""
    known: dict[str, int] = {}
    attributes: list[tuple[str, int]] = []
    seen: set[str] = set()
    for index, cell in enumerate(header):
        key = header_key(cell)
        if not key or key in seen:
            continue
        seen.add(key)
        column = _ALIAS_TO_COLUMN.get(key)
        if column is not None and column not in known:
            known[column] = index
        else:
            attributes.append((key, index))
    if "phone" not in known:
        aliases = ", ".join(COLUMN_ALIASES["phone"])
        raise UserError.of(
            "no_phone_column",
            f"no phone column in the header ({', '.join(header) or 'empty'}); "
            f"name one of: {aliases}",
            field="phone",
            line=1,
        )
    names = [(name, known[name]) for name in ATTRIBUTE_COLUMNS if name in known]
    optional = tuple(known.get(name) for name in OPTIONAL_COLUMNS)
    return ColumnMap(tuple(header), known, tuple(names + attributes), optional)


def read_contact_row(
    row: int,
    cells: Sequence[str],
    columns: ColumnMap,
    default_country: str,
    known_zones: frozenset[str],
) -> ContactRow | list[Problem]:
    """The contact a row describes, or every problem that stops it being read.

    Runs for every row of an import: cells that repeat from row to row (language,
    consent, tags) are read once per distinct value.
    """
    width = len(columns.header)
    if len(cells) > width:
        return [
            Problem(
                "extra_cells",
                f"row {row} has {len(cells)} cells but the header has {width} "
                "(a stray delimiter or broken quoting?)",
                line=row,
            )
        ]
    values = [cell.strip() for cell in cells]
    if "'" in "".join(values):
        values = [unescape_cell(value) for value in values]
    if len(values) < width:
        values.extend([""] * (width - len(values)))
    problems: list[Problem] = []
    if max(map(len, values)) > MAX_CELL:
        problems.extend(
            _problem(row, columns.header[index], "too_long", "is too long")
            for index, value in enumerate(values)
            if len(value) > MAX_CELL
        )
    known = columns.known
    try:
        phone = parse_phone(values[known["phone"]], default_country)
    except PhoneError as error:
        problems.append(_at_row(row, error.problem))
        return problems
    language, zone, email, consent_cell, tags, whatsapp, email_cell, whatsapp_cell = [
        values[index] or None if index is not None else None for index in columns.optional
    ]
    if language is not None:
        code = _language_code(language)
        if code is None:
            problems.append(
                _problem(
                    row,
                    "language",
                    "invalid_language",
                    f'"{language}" is not a language code (pl, en, pt-BR)',
                )
            )
        language = code
    if zone is not None and zone not in known_zones:
        problems.append(
            _problem(
                row, "timezone", "invalid_timezone", f'"{zone}" is not a time zone (Europe/Warsaw)'
            )
        )
    if email is not None:
        try:
            email = normalise_email(email)
        except UserError:
            problems.append(
                _problem(row, "email", "invalid_email", f'"{email}" is not an email address')
            )
    if whatsapp is not None:
        try:
            whatsapp = parse_phone(whatsapp, default_country).e164
        except PhoneError as error:
            problems.append(
                _problem(row, "whatsapp", "invalid_whatsapp", f"whatsapp {error.problem.message}")
            )
    consent = _consent_cell(row, "consent", consent_cell, problems)
    consent_email = _consent_cell(row, "consent_email", email_cell, problems)
    consent_whatsapp = _consent_cell(row, "consent_whatsapp", whatsapp_cell, problems)
    if problems:
        return problems
    attributes = {name: values[index] for name, index in columns.attributes if values[index]}
    return ContactRow(
        row, phone.e164, phone.country, attributes, language, zone, email,
        _tags_of(tags) if tags else (), consent, whatsapp, consent_email, consent_whatsapp,
    )  # fmt: skip


def _consent_cell(
    row: int, column: str, cell: str | None, problems: list[Problem]
) -> Action | None:
    """The consent a column's cell gives; a cell that cannot be read adds a problem."""
    if cell is None:
        return None
    consent, refusal = _consent_of(cell)
    if refusal:
        problems.append(_problem(row, column, "invalid_consent", refusal))
    return consent


@lru_cache(maxsize=1024)
def _language_code(value: str) -> str | None:
    """`PT_br` → `pt-BR`; None when the value is not a language code."""
    match = _LANGUAGE.fullmatch(value)
    if match is None:
        return None
    primary, region = match.groups()
    return primary.lower() + (f"-{region.upper()}" if region else "")


@lru_cache(maxsize=256)
def _consent_of(value: str) -> tuple[Action | None, str]:
    """The consent a cell gives and, when it cannot be read, why."""
    try:
        return parse_consent_cell(value), ""
    except ValueError as error:
        return None, str(error)


@lru_cache(maxsize=4096)
def _tags_of(value: str) -> tuple[str, ...]:
    return split_tags(value)


def split_tags(value: str) -> tuple[str, ...]:
    """`vip; newsletter,vip` → (`vip`, `newsletter`): order kept, duplicates dropped."""
    if not value:
        return ()
    tags = (tag.strip() for tag in _TAG_SEPARATORS.split(value))
    return tuple(dict.fromkeys(tag for tag in tags if tag))


def _problem(row: int, column: str, code: str, what: str) -> Problem:
    return Problem(
        code,
        f"row {row}: {column} {what}" if code == "too_long" else f"row {row}: {what}",
        field=column,
        line=row,
    )


def _at_row(row: int, problem: Problem) -> Problem:
    return Problem(problem.code, f"row {row}: {problem.message}", field=problem.field, line=row)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: str) -> str:
    """Escapes a cell a spreadsheet would run as a formula (`=HYPERLINK(…)`), by a leading `'`."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def unescape_cell(value: str) -> str:
    """Strips a cell and undoes `spreadsheet_safe`, so an export imports back unchanged."""
    value = value.strip()
    if value[:1] == "'" and len(value) > 1 and value[1] in FORMULA_STARTS:
        return value[1:]
    return value
