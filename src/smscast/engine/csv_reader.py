"""Reading CSV files as people make them: any encoding Excel saves, any delimiter,
broken quoting confined to the row it breaks.

The file is read as bytes, one physical line at a time. Lines are grouped into
records by counting quotes, so a quoted cell may hold line breaks; a quote that
never closes is reported on its row and reading resumes on the next line instead
of swallowing the rest of the file. Records are then parsed by `csv`.
"""

from __future__ import annotations

import codecs
import csv
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from smscast.core.errors import Problem, UserError

DELIMITERS = ",;\t|"
MAX_RECORD_LINES = 20
MAX_RECORD_BYTES = 64 * 1024
SCAN_CHUNK = 1 << 20
BOM_UTF8 = codecs.BOM_UTF8


@dataclass(frozen=True, slots=True)
class CsvFormat:
    encoding: str
    delimiter: str


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record's bytes (possibly several lines) and the row number it starts on."""

    row: int
    data: bytes
    problem: Problem | None = None


def detect_format(path: Path) -> CsvFormat:
    """Encoding (UTF-8 with or without BOM, else cp1250) and delimiter of a file."""
    with path.open("rb") as handle:
        head = handle.read(4)
        if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            raise UserError.of(
                "utf16_file", f"{path.name} is UTF-16; save it as CSV UTF-8 and import again"
            )
        handle.seek(0)
        encoding = "utf-8-sig" if head.startswith(BOM_UTF8) else _guess_encoding(handle)
        handle.seek(0)
        sample = handle.read(64 * 1024).decode(encoding, errors="replace")
    if not sample.strip():
        raise UserError.of("empty_file", f"{path.name} is empty: there is no header row")
    return CsvFormat(encoding, _guess_delimiter(sample))


def _guess_encoding(handle: BinaryIO) -> str:
    """UTF-8 if the file decodes as such or holds any valid multi-byte UTF-8; else cp1250.

    A Polish Excel "CSV" is cp1250 and never holds UTF-8 sequences; a UTF-8 file
    with a few broken bytes stays UTF-8 and those rows are reported.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    saw_failure = saw_multibyte = False
    while chunk := handle.read(SCAN_CHUNK):
        try:
            text = decoder.decode(chunk)
        except UnicodeDecodeError:
            saw_failure = True
            text = chunk.decode("utf-8", errors="ignore")
            decoder.reset()
        if not saw_multibyte and not text.isascii():
            saw_multibyte = True
        if saw_failure and saw_multibyte:
            return "utf-8"
    return "cp1250" if saw_failure else "utf-8"


def _guess_delimiter(sample: str) -> str:
    lines = sample.splitlines()
    try:
        return csv.Sniffer().sniff("\n".join(lines[:50]), delimiters=DELIMITERS).delimiter
    except csv.Error:
        header = lines[0] if lines else ""
        counts = {candidate: header.count(candidate) for candidate in DELIMITERS}
        best = max(counts, key=lambda candidate: counts[candidate])
        return best if counts[best] else ","


def raw_records(handle: BinaryIO, delimiter: str) -> Iterator[RawRecord]:
    """Groups physical lines into records; rows are numbered from 1 (the header)."""
    lines: deque[bytes] = deque()
    source = iter(handle)
    row = 0

    def next_line() -> bytes | None:
        if lines:
            return lines.popleft()
        return next(source, None)

    while (line := next_line()) is not None:
        row += 1
        if line.count(b'"') % 2 == 0 or _quote_state(line, delimiter) != "open":
            yield RawRecord(row, line)
            continue
        taken = [line]
        size = len(line)
        state = "open"
        while state == "open" and len(taken) < MAX_RECORD_LINES and size < MAX_RECORD_BYTES:
            more = next_line()
            if more is None:
                break
            taken.append(more)
            size += len(more)
            if more.count(b'"') % 2 == 1:
                state = _quote_state(b"".join(taken), delimiter)
        if state == "closed":
            yield RawRecord(row, b"".join(taken))
        else:
            lines.extendleft(reversed(taken[1:]))
            yield RawRecord(
                row,
                b"",
                Problem("broken_quoting", f"row {row}: a quote opens but never closes", line=row),
            )


def _quote_state(data: bytes, delimiter: str) -> str:
    """`open` if a quoted cell is still open at the end, `closed` if the record is whole,
    `broken` if its quotes cannot be read at all. A lone quote inside an unquoted cell
    (`5" screen`) is text, not an opening.
    """
    text = data.decode("latin-1")
    try:
        list(csv.reader([text], delimiter=delimiter, strict=True))
    except csv.Error as error:
        return "open" if "unexpected end of data" in str(error) else "broken"
    return "closed"


class RecordParser:
    """Decodes and parses one record at a time with a single reused `csv` reader."""

    def __init__(self, encoding: str, delimiter: str) -> None:
        self.encoding = encoding
        self._pending: str = ""
        self._reader = csv.reader(self._feed(), delimiter=delimiter)

    def _feed(self) -> Iterator[str]:
        while True:
            yield self._pending

    def parse(self, record: RawRecord) -> list[str] | Problem:
        if record.problem is not None:
            return record.problem
        try:
            text = record.data.decode(self.encoding)
        except UnicodeDecodeError as error:
            return Problem(
                "bad_encoding",
                f"row {record.row}: byte 0x{record.data[error.start]:02x} is not valid "
                f"{self.encoding.removesuffix('-sig').upper()}; save the file as CSV UTF-8",
                line=record.row,
            )
        if "\x00" in text:
            return Problem("nul_byte", f"row {record.row}: contains a NUL byte", line=record.row)
        self._pending = text if text.endswith(("\n", "\r")) else text + "\n"
        try:
            return next(self._reader)
        except csv.Error as error:
            return Problem("bad_row", f"row {record.row}: {error}", line=record.row)
