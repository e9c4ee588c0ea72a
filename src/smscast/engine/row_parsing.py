"""Turning raw CSV records into contact rows, in this process or in a pool of them.

Parsing phone numbers dominates an import's cost, so large files are parsed by
one process per core while the main process writes to the database. Results
come back in file order either way.
"""

from __future__ import annotations

import json
import multiprocessing
import zoneinfo
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from smscast.core.contact_rows import ColumnMap, ContactRow, read_contact_row
from smscast.core.errors import Problem
from smscast.core.phones import timezone_for_phone
from smscast.engine.csv_reader import RawRecord, RecordParser

CHUNK_ROWS = 2000
PARALLEL_MIN_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class RowError:
    """One line of the error report: row, column, the value found, and why it was refused."""

    row: int
    column: str
    value: str
    reason: str


@dataclass(frozen=True, slots=True)
class ParseContext:
    encoding: str
    delimiter: str
    columns: ColumnMap
    default_country: str
    default_timezone: str


ParsedRow = ContactRow | list[RowError]

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_context: ParseContext | None = None
_parser: RecordParser | None = None
_zones: frozenset[str] = frozenset()


def _init(context: ParseContext) -> None:
    global _context, _parser, _zones
    _context = context
    _parser = RecordParser(context.encoding, context.delimiter)
    _zones = frozenset(zoneinfo.available_timezones())


def parse_chunk(records: list[tuple[int, bytes]]) -> list[ParsedRow | None]:
    """Parses records; blank lines give None. Runs in a worker or in the caller."""
    assert _context is not None and _parser is not None
    context, parser = _context, _parser
    out: list[ParsedRow | None] = []
    for row, data in records:
        cells = parser.parse(RawRecord(row, data))
        if isinstance(cells, Problem):
            out.append([RowError(row, cells.field or "", _preview(data), cells.message)])
            continue
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            out.append(None)
            continue
        result = read_contact_row(row, cells, context.columns, context.default_country, _zones)
        if isinstance(result, ContactRow):
            zone = result.timezone or timezone_for_phone(result.phone, context.default_timezone)
            encoded = (_encode(result.attributes), _encode(list(result.tags)))
            out.append(result._replace(timezone=zone, encoded=encoded))
        else:
            out.append([_row_error(row, problem, cells, context.columns) for problem in result])
    return out


def _row_error(row: int, problem: Problem, cells: list[str], columns: ColumnMap) -> RowError:
    column = problem.field or ""
    index = columns.known.get(column)
    value = cells[index] if index is not None and index < len(cells) else ""
    return RowError(row, column, value, problem.message)


def _preview(data: bytes) -> str:
    return data[:80].decode("utf-8", errors="replace").rstrip("\r\n")


def parse_records(
    records: Iterable[RawRecord], context: ParseContext, workers: int
) -> Iterator[tuple[int, ParsedRow | None]]:
    """Yields (bytes consumed, parsed row) for each record, in file order."""
    chunks = _chunks(records)
    if workers <= 1:
        _init(context)
        for size, chunk, problems in chunks:
            yield from _merge(size, chunk, parse_chunk(chunk), problems)
        return
    # A bounded window of chunks in flight keeps memory flat: Pool.imap would read
    # the whole file ahead into its task queue.
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers, initializer=_init, initargs=(context,)) as pool:
        in_flight: deque[tuple[int, list[tuple[int, bytes]], list[RowError], Any]] = deque()
        for size, chunk, problems in chunks:
            in_flight.append((size, chunk, problems, pool.apply_async(parse_chunk, (chunk,))))
            if len(in_flight) >= workers * 4:
                done = in_flight.popleft()
                yield from _merge(done[0], done[1], done[3].get(), done[2])
        while in_flight:
            done = in_flight.popleft()
            yield from _merge(done[0], done[1], done[3].get(), done[2])


def _merge(
    size: int,
    chunk: list[tuple[int, bytes]],
    parsed: list[ParsedRow | None],
    problems: list[RowError],
) -> Iterator[tuple[int, ParsedRow | None]]:
    """Puts rows the reader refused (broken quoting) back among the parsed ones, by row."""
    share = size // max(1, len(parsed) + len(problems))
    items: list[tuple[int, ParsedRow | None]] = [
        (row, result) for (row, _), result in zip(chunk, parsed, strict=True)
    ]
    items.extend((problem.row, [problem]) for problem in problems)
    if problems:
        items.sort(key=lambda item: item[0])
    for _, result in items:
        yield share, result


def _chunks(
    records: Iterable[RawRecord],
) -> Iterator[tuple[int, list[tuple[int, bytes]], list[RowError]]]:
    iterator = iter(records)
    while True:
        batch = list(islice(iterator, CHUNK_ROWS))
        if not batch:
            return
        chunk = [(r.row, r.data) for r in batch if r.problem is None]
        problems = [
            RowError(r.row, "", "", r.problem.message) for r in batch if r.problem is not None
        ]
        yield sum(len(r.data) for r in batch), chunk, problems
