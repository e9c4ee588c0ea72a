"""Turning blocks of CSV records into staged contact rows, in this process or in a pool.

Parsing (cells, phone numbers, JSON) is most of an import's Python work, so
large files are parsed by one process per core while the main process merges
staged batches into the database. Each block's rows go to a stage file of its
own (see `store.import_stage`); only the file's name, the refused rows and a few
counts travel back. Results come back in file order either way.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import zoneinfo
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import count
from json.encoder import encode_basestring as _quote
from typing import Any

from smscast.core.consent import Action
from smscast.core.contact_rows import ColumnMap, ContactRow, read_contact_row
from smscast.core.erasure import phone_hash
from smscast.core.errors import Problem
from smscast.core.phones import timezone_for_phone
from smscast.engine.contacts.csv_reader import RawRecord, RecordBlock, RecordParser
from smscast.store.import_stage import StageRow, stage_columns, write_stage

PARALLEL_MIN_BYTES = 4 * 1024 * 1024
# The ledger action and the state it leads to, per consent cell (compared by
# identity: hashing an Enum runs Python code).
_OPT_IN = (Action.OPT_IN.value, "opted_in")
_OPT_OUT = (Action.OPT_OUT.value, "opted_out")
_NO_CHANGE = (None, None)


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
    batch_rows: int
    erasure_key: bytes | None = None  # set when the workspace has erased phones to refuse

    @property
    def channels(self) -> bool:
        """Whether the file has a WhatsApp or per-channel consent column to stage."""
        return has_channel_columns(self.columns)


def has_channel_columns(columns: ColumnMap) -> bool:
    return any(name in columns.known for name in CHANNEL_CELLS)


CHANNEL_CELLS = ("whatsapp", "consent_email", "consent_whatsapp")


@dataclass(frozen=True, slots=True)
class StagedBlock:
    """What parsing one block gave: its stage file and what the writer needs besides.

    `batches` holds, per batch of at most `batch_rows` staged rows, the seq it ends
    before and the row number it ends on, so the writer can commit batch by batch
    and report each refused row with its batch.
    """

    path: str
    size: int
    rows_read: int
    errors: list[RowError]
    batches: list[tuple[int, int]]


_context: ParseContext | None = None
_parser: RecordParser | None = None
_zones: frozenset[str] = frozenset()


def _init(context: ParseContext) -> None:
    global _context, _parser, _zones
    _context = context
    _parser = RecordParser(context.encoding, context.delimiter)
    _zones = frozenset(zoneinfo.available_timezones())


def stage_block(block: RecordBlock, path: str) -> StagedBlock:
    """Parses a block, writes its good rows to a stage file at `path`. Runs in a worker.

    The cyclic garbage collector is paused meanwhile: a block holds some hundred
    thousand live lists and tuples (none in a cycle), and collections walking
    them again and again cost a tenth of the parsing.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _stage_block(block, path)
    finally:
        if was_enabled:
            gc.enable()


def _stage_block(block: RecordBlock, path: str) -> StagedBlock:
    assert _context is not None
    context = _context
    rows: list[StageRow] = []
    errors: list[RowError] = []
    first_of: dict[str, int] = {}
    batches: list[tuple[int, int]] = []
    read = 0
    stage_row = _channel_stage_row if context.channels else _stage_row
    for row, cells in _cells(block):
        if isinstance(cells, RowError):
            read += 1
            errors.append(cells)
            continue
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue  # a blank line
        read += 1
        result = read_contact_row(row, cells, context.columns, context.default_country, _zones)
        if not isinstance(result, ContactRow):
            errors.extend(_row_error(row, problem, cells, context.columns) for problem in result)
            continue
        first = first_of.setdefault(result.phone, row)
        rows.append(stage_row(context, result, -1 if first == row else first))
        if len(rows) % context.batch_rows == 0:
            batches.append((len(rows), row))
    if len(rows) % context.batch_rows:
        batches.append((len(rows), rows[-1][0]))
    write_stage(path, rows, stage_columns(context.channels))
    return StagedBlock(path, block.size, read, errors, batches)


def _stage_row(context: ParseContext, row: ContactRow, dup_of: int) -> StageRow:
    """A row for a file without channel columns (`stage_columns(False)` order)."""
    zone = row.timezone or timezone_for_phone(row.phone, context.default_timezone)
    key = context.erasure_key
    consent = row.consent
    action, wanted = _OPT_IN if consent is Action.OPT_IN else _OPT_OUT if consent else _NO_CHANGE
    return (
        row.row, row.phone, row.country, _json_object(row.attributes), row.language, zone,
        int(row.timezone is not None), row.email, _json_array(row.tags), action, wanted,
        phone_hash(key, row.phone) if key else None, dup_of,
    )  # fmt: skip


def _channel_stage_row(context: ParseContext, row: ContactRow, dup_of: int) -> StageRow:
    """A row with the WhatsApp number and consent per channel (`stage_columns(True)`)."""
    zone = row.timezone or timezone_for_phone(row.phone, context.default_timezone)
    key = context.erasure_key
    consent = row.consent
    action, wanted = _OPT_IN if consent is Action.OPT_IN else _OPT_OUT if consent else _NO_CHANGE
    email = row.consent_email
    email_action, email_wanted = (
        _OPT_IN if email is Action.OPT_IN else _OPT_OUT if email else _NO_CHANGE
    )
    whatsapp = row.consent_whatsapp
    whatsapp_action, whatsapp_wanted = (
        _OPT_IN if whatsapp is Action.OPT_IN else _OPT_OUT if whatsapp else _NO_CHANGE
    )
    return (
        row.row, row.phone, row.country, _json_object(row.attributes), row.language, zone,
        int(row.timezone is not None), row.email, _json_array(row.tags), action, wanted,
        row.whatsapp, email_action, email_wanted, whatsapp_action, whatsapp_wanted,
        phone_hash(key, row.phone) if key else None, dup_of,
    )  # fmt: skip


Cells = list[str] | RowError


def _json_object(values: dict[str, str]) -> str:
    """JSON of a str → str dict, as `json.dumps(ensure_ascii=False)` writes it compactly,
    at half its cost (its Python-level wrapper dominates for dicts this small)."""
    return (
        "{" + ",".join([_quote(key) + ":" + _quote(value) for key, value in values.items()]) + "}"
    )


@lru_cache(maxsize=4096)
def _json_array(values: tuple[str, ...]) -> str:
    return "[" + ",".join(map(_quote, values)) + "]"


def _cells(block: RecordBlock) -> Iterable[tuple[int, Cells]]:
    """(row, cells) per record, or a RowError for a record that cannot be read.

    A block without quotes is decoded at once and each line split at the
    delimiter, which is what `csv` would do; a bad byte, a NUL or a stray CR
    sends it down the careful path, line by line.
    """
    assert _context is not None
    if block.records:
        return [(record.row, _parse(record)) for record in block.records]
    try:
        text = block.data.decode(_context.encoding)
    except UnicodeDecodeError:
        return _cells_one_by_one(block)
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    if "\x00" in text or "\r" in text:
        return _cells_one_by_one(block)
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    delimiter = _context.delimiter
    return zip(count(block.first_row), [line.split(delimiter) for line in lines])


def _cells_one_by_one(block: RecordBlock) -> Iterator[tuple[int, Cells]]:
    """The careful path for a block with a bad byte or a stray CR: each line on its own."""
    lines = block.data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    for offset, line in enumerate(lines):
        row = block.first_row + offset
        yield row, _parse(RawRecord(row, line + b"\n"))


def _parse(record: RawRecord) -> Cells:
    assert _parser is not None
    cells = _parser.parse(record)
    if isinstance(cells, Problem):
        preview = record.data[:80].decode("utf-8", errors="replace").rstrip("\r\n")
        return RowError(record.row, cells.field or "", preview, cells.message)
    return cells


def _row_error(row: int, problem: Problem, cells: list[str], columns: ColumnMap) -> RowError:
    column = problem.field or ""
    index = columns.known.get(column)
    value = cells[index] if index is not None and index < len(cells) else ""
    return RowError(row, column, value, problem.message)


def stage_blocks(
    blocks: Iterable[RecordBlock], context: ParseContext, workers: int, folder: str
) -> Iterator[StagedBlock]:
    """Stages each block in a file under `folder`; yields them in file order."""
    paths = (os.path.join(folder, f"block-{n}.db") for n in count())
    _init(context)
    if workers <= 1:
        for block in blocks:
            yield stage_block(block, next(paths))
        return
    # A bounded window of blocks in flight keeps memory flat (Pool.imap would read
    # the whole file ahead into its task queue). This process parses the first
    # block itself while the workers start, and later ones whenever the oldest
    # block is not parsed yet (workers slowed by other load) instead of waiting.
    window = workers * 2
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers, initializer=_init, initargs=(context,)) as pool:
        pending = iter(blocks)
        slots: deque[Any] = deque()
        first = next(pending, None)
        if first is None:
            return
        first_path = next(paths)
        while len(slots) < window and (queued := next(pending, None)) is not None:
            slots.append(pool.apply_async(stage_block, (queued, next(paths))))
        slots.appendleft(stage_block(first, first_path))  # while the workers start
        while True:
            while len(slots) < window and (queued := next(pending, None)) is not None:
                slots.append(pool.apply_async(stage_block, (queued, next(paths))))
            if not slots:
                return
            head = slots[0]
            if isinstance(head, StagedBlock) or head.ready():
                slots.popleft()
                yield head if isinstance(head, StagedBlock) else head.get()
            elif len(slots) < window * 2 and (spare := next(pending, None)) is not None:
                slots.append(stage_block(spare, next(paths)))
            else:
                head.wait()
