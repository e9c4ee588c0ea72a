"""Importing contacts from CSV: streamed, merged by phone, consent kept honest.

Each batch of rows is one transaction, so a crash leaves every committed batch
intact and a second run picks up where the data stands (rows already imported
come back as unchanged). One bad row is reported and skipped; it never stops
the others. The per-row error report is written next to the file.

On SQLite the import runs beside `smscast serve`, whose dispatcher commits many
times a second: every write transaction takes the write lock before it reads
(`begin_write`), waits for it under the busy timeout, and a batch that still finds
the database busy is rolled back and tried again (`BusyRetry`). An import that
stops anyway is recorded as `failed` with the reason, never as `finished`.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any, TextIO, TypeVar

from sqlalchemy import Connection, Engine, insert, update

from smscast.config import Settings
from smscast.core.contact_rows import CONSENT_COLUMNS, ContactRow, spreadsheet_safe
from smscast.core.errors import UserError
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.contacts.column_mapping import mapped_columns
from smscast.engine.contacts.csv_reader import (
    CsvFormat,
    RawRecord,
    RecordParser,
    detect_format,
    raw_records,
    record_blocks,
)
from smscast.engine.contacts.row_parsing import (
    PARALLEL_MIN_BYTES,
    ParseContext,
    RowError,
    StagedBlock,
    has_channel_columns,
    stage_blocks,
)
from smscast.store import contacts as contact_store
from smscast.store import import_stage as stage_store
from smscast.store.bulk import DriverValues
from smscast.store.db import begin_write, is_busy
from smscast.store.models import ImportJob, table_of

log = logging.getLogger(__name__)
import_jobs = table_of(ImportJob)
ProgressFn = Callable[[int, int], None]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class BusyRetry:
    """How often a write that found the database busy is tried again, and after how long.

    Each try already waited the engine's busy timeout for the lock; the pauses in
    between let a long writer (a launch, a checkpoint) finish.
    """

    delays: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 15.0)
    sleep: Callable[[float], None] = field(default=time.sleep)

    def run(self, what: str, write: Callable[[], T]) -> T:
        """`write()` (one whole transaction), tried again while the database is busy."""
        for attempt, delay in enumerate((*self.delays, None), start=1):
            try:
                return write()
            except Exception as error:
                if delay is None or not is_busy(error):
                    raise
                log.warning("%s: database busy (attempt %d of %d), trying again in %.1fs",
                            what, attempt, len(self.delays) + 1, delay)  # fmt: skip
                self.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover


@dataclass(slots=True)
class ImportSummary:
    job_id: int
    rows_read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    warnings: int = 0
    error_report: Path | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "rows_read": self.rows_read,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "warnings": self.warnings,
            "error_report": str(self.error_report) if self.error_report else None,
        }


@dataclass(frozen=True, slots=True)
class ImportRequest:
    path: Path
    workspace: WorkspaceRef
    consent_source: str | None
    actor: str
    now: datetime
    # What each column holds, as a person mapped it (`column_mapping.TARGETS`, one per
    # header cell); None guesses from the header's names.
    columns: tuple[str, ...] | None = None


def error_report_path(path: Path) -> Path:
    return (
        path.with_name(path.name + ".errors.csv")
        if path.suffix != ".csv"
        else path.with_suffix(".errors.csv")
    )


class ErrorReport:
    """FILE.errors.csv: row, column, value, reason; created only when there is an error."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._handle: TextIO | None = None
        self._writer: Any = None
        path.unlink(missing_ok=True)

    def add(self, error: RowError) -> None:
        if self._writer is None:
            self._handle = self.path.open("w", newline="", encoding="utf-8")
            self._writer = csv.writer(self._handle)
            self._writer.writerow(["row", "column", "value", "reason"])
        self._writer.writerow(
            [error.row, error.column, spreadsheet_safe(error.value), spreadsheet_safe(error.reason)]
        )
        self.count += 1

    def close(self) -> Path | None:
        if self._handle is None:
            return None
        self._handle.close()
        return self.path


def import_contacts(
    engine: Engine,
    settings: Settings,
    request: ImportRequest,
    on_progress: ProgressFn | None = None,
    busy: BusyRetry | None = None,
) -> ImportSummary:
    """Imports a CSV file into a workspace; see the module docstring for the guarantees.

    A failure after the job row exists marks the job `failed` with its reason and
    is raised again.
    """
    path = request.path
    busy = busy or BusyRetry()
    if not path.is_file():
        raise UserError.of("no_file", f"{path} does not exist or is not a file", field="file")
    fmt = detect_format(path)
    with path.open("rb") as handle:
        header, header_row = _read_header(raw_records(handle, fmt.delimiter), fmt, path)
        columns = mapped_columns(header, request.columns)
        job_id = busy.run("import: starting the job", lambda: _start_job(engine, request))
        summary = ImportSummary(job_id)
        report = ErrorReport(error_report_path(path))
        failure: str | None = None
        try:
            with engine.connect() as conn, TemporaryDirectory(prefix="smscast-import-") as folder:
                consent = tuple(
                    channel for channel, column in CONSENT_COLUMNS.items()
                    if column in columns.known
                )  # fmt: skip
                staged_columns = stage_store.stage_columns(has_channel_columns(columns))
                writer = _BatchWriter(conn, request, job_id, consent, staged_columns, busy)
                context = ParseContext(
                    fmt.encoding, fmt.delimiter, columns, request.workspace.country,
                    request.workspace.timezone, max(1, settings.import_batch_size),
                    writer.erasure_key(settings),
                )  # fmt: skip
                blocks = record_blocks(handle, fmt.delimiter, header_row)
                done_bytes = 0
                try:
                    for staged in stage_blocks(blocks, context, _workers(settings, path), folder):
                        writer.write_block(staged, summary, report)
                        Path(staged.path).unlink()
                        done_bytes += staged.size
                        if on_progress:
                            on_progress(done_bytes, summary.rows_read)
                finally:
                    writer.close()
        except BaseException as error:
            failure = _failure_text(error)
            raise
        finally:
            summary.error_report = report.close()
            busy.run(
                f"import #{job_id}: recording the outcome",
                lambda: _finish_job(engine, job_id, summary, request.now, failure),
            )
    if on_progress:
        on_progress(path.stat().st_size, summary.rows_read)
    return summary


def _read_header(records: Iterator[RawRecord], fmt: CsvFormat, path: Path) -> tuple[list[str], int]:
    """The header's cells and its row number (blank lines before it are skipped)."""
    parser = RecordParser(fmt.encoding, fmt.delimiter)
    for record in records:
        cells = parser.parse(record)
        if isinstance(cells, list) and any(cell.strip() for cell in cells):
            return cells, record.row
        if not isinstance(cells, list):
            raise UserError.of("bad_header", f"{path.name}: header {cells.message}", line=1)
    raise UserError.of("empty_file", f"{path.name} is empty: there is no header row")


def _workers(settings: Settings, path: Path) -> int:
    if path.stat().st_size < PARALLEL_MIN_BYTES:
        return 1
    return settings.import_workers or os.cpu_count() or 1


def _failure_text(error: BaseException) -> str:
    """Why an import stopped, as the job row keeps it for the CLI and the API."""
    if isinstance(error, UserError):
        return error.problem.message
    if isinstance(error, KeyboardInterrupt):
        return "interrupted"
    orig = getattr(error, "orig", None)  # a database error: the driver's words, not the SQL
    return f"{type(error).__name__}: {orig if orig is not None else error}"


def _start_job(engine: Engine, request: ImportRequest) -> int:
    with engine.begin() as conn:
        begin_write(conn)
        return int(
            conn.execute(
                insert(import_jobs)
                .values(
                    workspace_id=request.workspace.id,
                    filename=str(request.path),
                    status="running",
                    actor=request.actor,
                    consent_source=request.consent_source,
                    started_at=request.now,
                )
                .returning(import_jobs.c.id)
            ).scalar_one()
        )


def _finish_job(
    engine: Engine, job_id: int, summary: ImportSummary, now: datetime, failure: str | None
) -> None:
    """`finished`, or `failed` with the reason; the counters say what was committed."""
    with engine.begin() as conn:
        begin_write(conn)
        conn.execute(
            update(import_jobs)
            .where(import_jobs.c.id == job_id)
            .values(
                status="failed" if failure else "finished",
                failure=failure,
                finished_at=now,
                error_report=str(summary.error_report) if summary.error_report else None,
                **_counters(summary),
            )
        )


def _counters(summary: ImportSummary) -> dict[str, int]:
    return {
        "rows_read": summary.rows_read,
        "created": summary.created,
        "updated": summary.updated,
        "unchanged": summary.unchanged,
        "rejected": summary.rejected,
    }


class _BatchWriter:
    """Merges staged batches into the workspace, one transaction per batch.

    Holds one connection for the whole import: the TEMP table a batch is merged
    from lives in it.
    """

    def __init__(
        self, conn: Connection, request: ImportRequest, job_id: int, consent: tuple[str, ...],
        staged_columns: tuple[str, ...], busy: BusyRetry,
    ) -> None:  # fmt: skip
        """`consent`: the channels whose consent column the file has; `staged_columns`:
        the columns of its stage files."""
        self.conn = conn
        self.staged_columns = staged_columns
        self.request = request
        self.job_id = job_id
        self.consent = consent
        self.busy = busy
        self.check_erasures = contact_store.has_erasures(conn, request.workspace.id)
        conn.commit()
        self.moment = DriverValues(conn).moment(request.now)
        stage_store.prepare_batches(conn)

    def erasure_key(self, settings: Settings) -> bytes | None:
        """The key erased phones are hashed with, when there are any to refuse."""
        return settings.resolved_secret_key() if self.check_erasures else None

    def close(self) -> None:
        stage_store.drop_batches(self.conn)

    def write_block(self, staged: StagedBlock, summary: ImportSummary, report: ErrorReport) -> None:
        errors = staged.errors
        with stage_store.StageReader(self.conn, staged.path, self.staged_columns) as stage:
            start = taken = 0
            for index, (end, last_row) in enumerate(staged.batches):
                upto = len(errors) if index == len(staged.batches) - 1 else taken
                while upto < len(errors) and errors[upto].row <= last_row:
                    upto += 1
                batch_errors = errors[taken:upto]
                found = self.busy.run(
                    f"import #{self.job_id}: rows {start + 1}-{end} of a block",
                    partial(self._write_batch, stage, start, end, batch_errors, summary),
                )
                for error in found:
                    report.add(error)
                start, taken = end, upto
        if not staged.batches:  # every row of the block was refused while parsing
            self._count(errors, summary)
            for error in errors:
                report.add(error)

    def _write_batch(
        self, stage: stage_store.StageReader, start: int, end: int, errors: list[RowError],
        summary: ImportSummary,
    ) -> list[RowError]:  # fmt: skip
        """Merges one batch in one short transaction; adds its counts to `summary` once
        committed and returns the rows to report. Rolled back whole if it fails, so it
        can simply be run again."""
        conn, workspace_id = self.conn, self.request.workspace.id
        found = list(errors)
        counts = ImportSummary(summary.job_id, rows_read=end - start)
        with conn.begin():
            begin_write(conn)
            if not stage_store.workspace_exists(conn, workspace_id):
                raise UserError.of("no_workspace", "the workspace was deleted during the import")
            for row, phone, first in stage.duplicates(start, end):
                found.append(RowError(row, "phone", phone, f"row {row}: {phone} is the same "
                                      f"number as row {first}; row skipped"))  # fmt: skip
            stage.load(start, end)
            if self.check_erasures:
                for row, phone in stage_store.skip_erased(conn, workspace_id):
                    found.append(RowError(row, "phone", phone, f"row {row}: {phone} was erased "
                                          "at the person's request; it can come back only with "
                                          "new consent (smscast consent opt-in)"))  # fmt: skip
            # New contacts first: when every row makes one, as on a first import,
            # there is nothing to merge and no lookup to make.
            before = stage_store.last_id(conn, "contacts")
            counts.created = stage_store.insert_new_contacts(
                conn, workspace_id, self.job_id, self.moment
            )
            if counts.created < stage_store.unmerged_count(conn):
                found.extend(self._merge_stored(counts, before))
            if self.consent:
                warnings = self._record_consent()
                counts.warnings = len(warnings)
                found.extend(warnings)
            self._count(errors, counts)
            counts.rejected += len(found) - len(errors) - counts.warnings
            total = ImportSummary(summary.job_id)
            _add(total, summary)
            _add(total, counts)
            conn.execute(
                update(import_jobs)
                .where(import_jobs.c.id == self.job_id)
                .values(**_counters(total))
            )
        _add(summary, counts)
        return sorted(found, key=lambda error: error.row)

    def _count(self, errors: list[RowError], summary: ImportSummary) -> None:
        """Counts rows refused while parsing (a row may have several errors)."""
        rows = len({error.row for error in errors})
        summary.rows_read += rows
        summary.rejected += rows

    def _merge_stored(self, counts: ImportSummary, before: int) -> list[RowError]:
        """Merges rows whose phone is already a contact, in Python: they are few on a
        first import, and merging tags keeps their order."""
        refused: list[RowError] = []
        marks: list[tuple[int, int, int]] = []
        updates: list[dict[str, Any]] = []
        seen: list[int] = []
        now = self.request.now
        for seq, row_no, phone, *values in stage_store.stored_matches(
            self.conn, self.request.workspace.id, self.job_id, before
        ):
            row, stored = _staged_row(row_no, phone, values), _stored_contact(phone, values)
            if stored.last_import_id == self.job_id:
                refused.append(RowError(row_no, "phone", phone, f"row {row_no}: {phone} appears "
                                        "earlier in this file; row skipped"))  # fmt: skip
                marks.append((stored.id, 1, seq))
                continue
            marks.append((stored.id, 0, seq))
            merged = _merge(stored, row)
            if merged is None:
                seen.append(stored.id)
                counts.unchanged += 1
            else:
                merged.update(_id=stored.id, updated_at=now, last_import_id=self.job_id)
                updates.append(merged)
                counts.updated += 1
        contact_store.update_contacts(self.conn, updates)
        contact_store.mark_seen(self.conn, self.job_id, seen)
        stage_store.mark_stored(self.conn, marks)
        return refused

    def _record_consent(self) -> list[RowError]:
        """Records consent changes on each channel the file speaks for; returns the opt-ins
        refused, as warnings naming the channel's column."""
        conn, request = self.conn, self.request
        warnings = []
        evidence = request.consent_source or f"import of {request.path.name}"
        for channel in self.consent:
            column = CONSENT_COLUMNS[channel]
            refused = stage_store.refused_opt_ins(conn, bool(request.consent_source), channel)
            for row, phone in refused:
                if not request.consent_source:
                    reason = (f"row {row}: {column} says yes but the import states no consent "
                              "source (--consent-source); consent not recorded")  # fmt: skip
                else:
                    reason = (f"row {row}: {phone} has opted out of {channel}; an import "
                              "cannot opt them back in (consent not changed)")  # fmt: skip
                warnings.append(RowError(row, column, "yes", reason))
            stage_store.record_consent_changes(
                conn, request.workspace.id, evidence, request.actor, self.moment, channel
            )
        return sorted(warnings, key=lambda warning: warning.row)


def _add(summary: ImportSummary, counts: ImportSummary) -> None:
    for name in ("rows_read", "created", "updated", "unchanged", "rejected", "warnings"):
        setattr(summary, name, getattr(summary, name) + getattr(counts, name))


def _staged_row(row_no: int, phone: str, values: list[Any]) -> ContactRow:
    country, attributes, language, zone, zone_given, email, tags, whatsapp = values[:8]
    return ContactRow(
        row_no, phone, country, json.loads(attributes), language, zone if zone_given else None,
        email, tuple(json.loads(tags)), whatsapp=whatsapp,
    )  # fmt: skip


def _stored_contact(phone: str, values: list[Any]) -> contact_store.StoredContact:
    contact_id, attributes, language, zone, email, tags, whatsapp, last_import_id = values[8:]
    return contact_store.StoredContact(
        contact_id, phone, _loaded(attributes), language, zone, email, _loaded(tags),
        last_import_id, whatsapp,
    )  # fmt: skip


def _loaded(value: Any) -> Any:
    """JSON as SQLite returns it (text) or PostgreSQL does (already decoded)."""
    return json.loads(value) if isinstance(value, str) else value


def _merge(stored: contact_store.StoredContact, row: ContactRow) -> dict[str, Any] | None:
    """The contact's new values when the row changes anything, else None.

    A cell left empty keeps what is stored; tags are added, never removed.
    """
    attributes = {**stored.attributes, **row.attributes}
    tags = list(dict.fromkeys([*stored.tags, *row.tags]))
    language = row.language or stored.language
    zone = row.timezone if row.timezone and row.timezone != stored.timezone else stored.timezone
    email = row.email or stored.email
    whatsapp = row.whatsapp or stored.whatsapp
    if (
        attributes == stored.attributes
        and tags == stored.tags
        and language == stored.language
        and email == stored.email
        and whatsapp == stored.whatsapp
        and zone == stored.timezone
    ):
        return None
    return {
        "attributes": attributes,
        "tags": tags,
        "language": language,
        "timezone": zone,
        "email": email,
        "whatsapp": whatsapp,
        "country": row.country,
    }
