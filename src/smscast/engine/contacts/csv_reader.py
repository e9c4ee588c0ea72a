"""Reading CSV files as people make them: any encoding Excel saves, any delimiter,
broken quoting confined to the row it breaks.

The file is read as bytes, in blocks of whole lines. Lines are grouped into
records by counting quotes, so a quoted cell may hold line breaks; a quote that
never closes is reported on its row and reading resumes on the next line instead
of swallowing the rest of the file. A block without any quote needs no grouping:
each line is a record, and the parsing workers split it themselves. Records are
then parsed by `csv`.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from smscast.core.errors import Problem, UserError

DELIMITERS = ",;\t|"
MAX_RECORD_LINES = 20
MAX_RECORD_BYTES = 64 * 1024
SCAN_CHUNK = 1 << 20
BLOCK_BYTES = 1 << 20
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


@dataclass(frozen=True, slots=True)
class RecordBlock:
    """Consecutive records from `first_row` on: quote-free lines (`data`, one record
    per line) or records already grouped (`records`); `size` is the bytes read."""

    first_row: int
    size: int
    data: bytes = b""
    records: tuple[RawRecord, ...] = ()


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
    """Groups physical lines into records, reading no line past the last record taken.

    Rows are numbered from 1 (the header). Used for the header: `record_blocks`
    goes on from where the handle stands.
    """
    lines: list[bytes] = []
    row = 0
    while True:
        line = handle.readline()
        if line:
            lines.append(line)
        records, lines, row = group_lines(lines, delimiter, row, final=not line)
        yield from records
        if not line:
            return


def record_blocks(
    handle: BinaryIO, delimiter: str, after_row: int, block_bytes: int = BLOCK_BYTES
) -> Iterator[RecordBlock]:
    """The rest of the file as blocks of whole records, about `block_bytes` each.

    A block without a quote character is passed on as raw bytes, one record per
    line, so grouping costs nothing; only blocks with quotes are grouped here,
    and a record still open at a block's end is finished from the next block.
    """
    row = after_row
    carry: list[bytes] = []
    while True:
        chunk = handle.read(block_bytes)
        if chunk and not chunk.endswith(b"\n"):
            chunk += handle.readline()
        if not carry and b'"' not in chunk:
            if not chunk:
                return
            yield RecordBlock(row + 1, len(chunk), data=chunk)
            row += chunk.count(b"\n") + (not chunk.endswith(b"\n"))
            continue
        first = row + 1
        records, carry, row = group_lines(carry + _lines(chunk), delimiter, row, final=not chunk)
        if records:
            yield RecordBlock(first, len(chunk), records=tuple(records))
        if not chunk:
            return


def _lines(chunk: bytes) -> list[bytes]:
    """Lines split at `\\n` only, each keeping its line end (as iterating a binary file does)."""
    pieces = chunk.split(b"\n")
    last = pieces.pop()
    lines = [piece + b"\n" for piece in pieces]
    if last:
        lines.append(last)
    return lines


def group_lines(
    lines: list[bytes], delimiter: str, row: int, final: bool
) -> tuple[list[RawRecord], list[bytes], int]:
    """Groups `lines` into records numbered after `row`.

    Returns the records, the lines of a record still open at the end (to be
    continued with more lines; none when `final`) and the last row number used.
    A quote that never closes within MAX_RECORD_LINES lines or MAX_RECORD_BYTES
    is reported on its row and reading resumes on the next line.
    """
    records: list[RawRecord] = []
    at = 0
    while at < len(lines):
        line = lines[at]
        if line.count(b'"') % 2 == 0 or _quote_state(line, delimiter) != "open":
            row += 1
            records.append(RawRecord(row, line))
            at += 1
            continue
        end, size, state = at + 1, len(line), "open"
        while state == "open" and end - at < MAX_RECORD_LINES and size < MAX_RECORD_BYTES:
            if end >= len(lines):
                break
            size += len(lines[end])
            end += 1
            if lines[end - 1].count(b'"') % 2 == 1:
                state = _quote_state(b"".join(lines[at:end]), delimiter)
        limited = end - at >= MAX_RECORD_LINES or size >= MAX_RECORD_BYTES
        if state == "open" and not limited and not final:
            return records, lines[at:], row
        row += 1
        if state == "closed":
            records.append(RawRecord(row, b"".join(lines[at:end])))
            at = end
        else:
            problem = Problem("broken_quoting", f"row {row}: a quote opens but never closes",
                              line=row)  # fmt: skip
            records.append(RawRecord(row, b"", problem))
            at += 1
    return records, [], row


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
