"""Importing contacts from CSV: streamed, merged by phone, consent kept honest.

Each batch of rows is one transaction, so a crash leaves every committed batch
intact and a second run picks up where the data stands (rows already imported
come back as unchanged). One bad row is reported and skipped; it never stops
the others. The per-row error report is written next to the file.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Connection, Engine, insert, update

from smscast.config import Settings
from smscast.core.consent import Action, Channel, Purpose, Source, Status, import_may_opt_in
from smscast.core.contact_rows import ContactRow, map_columns, spreadsheet_safe
from smscast.core.erasure import phone_hash
from smscast.core.errors import UserError
from smscast.engine.csv_reader import RawRecord, RecordParser, detect_format, raw_records
from smscast.engine.row_parsing import (
    PARALLEL_MIN_BYTES,
    ParseContext,
    RowError,
    parse_records,
)
from smscast.engine.workspaces import WorkspaceRef
from smscast.store import consent as consent_store
from smscast.store import contacts as contact_store
from smscast.store.bulk import DriverValues
from smscast.store.models import ImportJob, table_of

import_jobs = table_of(ImportJob)
ProgressFn = Callable[[int, int], None]


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
) -> ImportSummary:
    """Imports a CSV file into a workspace; see the module docstring for the guarantees."""
    path = request.path
    if not path.is_file():
        raise UserError.of("no_file", f"{path} does not exist or is not a file", field="file")
    fmt = detect_format(path)
    with path.open("rb") as handle:
        records = raw_records(handle, fmt.delimiter)
        header = _read_header(records, fmt.encoding, fmt.delimiter, path)
        columns = map_columns(header)
        job_id = _start_job(engine, request)
        summary = ImportSummary(job_id)
        report = ErrorReport(error_report_path(path))
        context = ParseContext(
            fmt.encoding, fmt.delimiter, columns, request.workspace.country,
            request.workspace.timezone,
        )  # fmt: skip
        workers = _workers(settings, path)
        writer = _BatchWriter(engine, settings, request, job_id)
        done_bytes = 0
        try:
            batch: list[ContactRow] = []
            for size, parsed in parse_records(records, context, workers):
                done_bytes += size
                if parsed is None:
                    continue
                summary.rows_read += 1
                if isinstance(parsed, ContactRow):
                    batch.append(parsed)
                    if len(batch) >= settings.import_batch_size:
                        writer.write(batch, summary, report)
                        batch = []
                        if on_progress:
                            on_progress(done_bytes, summary.rows_read)
                else:
                    summary.rejected += 1
                    for error in parsed:
                        report.add(error)
            writer.write(batch, summary, report)
        finally:
            summary.error_report = report.close()
            _finish_job(engine, job_id, summary, request.now)
    if on_progress:
        on_progress(path.stat().st_size, summary.rows_read)
    return summary


def _read_header(
    records: Iterator[RawRecord], encoding: str, delimiter: str, path: Path
) -> list[str]:
    parser = RecordParser(encoding, delimiter)
    for record in records:
        cells = parser.parse(record)
        if isinstance(cells, list) and any(cell.strip() for cell in cells):
            return cells
        if not isinstance(cells, list):
            raise UserError.of("bad_header", f"{path.name}: header {cells.message}", line=1)
    raise UserError.of("empty_file", f"{path.name} is empty: there is no header row")


def _workers(settings: Settings, path: Path) -> int:
    if path.stat().st_size < PARALLEL_MIN_BYTES:
        return 1
    return settings.import_workers or os.cpu_count() or 1


def _start_job(engine: Engine, request: ImportRequest) -> int:
    with engine.begin() as conn:
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


def _finish_job(engine: Engine, job_id: int, summary: ImportSummary, now: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(import_jobs)
            .where(import_jobs.c.id == job_id)
            .values(
                status="finished",
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


@dataclass(slots=True)
class _BatchWriter:
    """Writes one batch of parsed rows per transaction."""

    engine: Engine
    settings: Settings
    request: ImportRequest
    job_id: int
    check_erasures: bool | None = None
    key: bytes = field(default=b"")

    def write(self, batch: list[ContactRow], summary: ImportSummary, report: ErrorReport) -> None:
        if not batch:
            return
        with self.engine.begin() as conn:
            if self.check_erasures is None:
                self.check_erasures = contact_store.has_erasures(conn, self.request.workspace.id)
                if self.check_erasures:
                    self.key = self.settings.resolved_secret_key()
            self._write(conn, batch, summary, report)
            conn.execute(
                update(import_jobs)
                .where(import_jobs.c.id == self.job_id)
                .values(**_counters(summary))
            )

    def _write(
        self, conn: Connection, batch: list[ContactRow], summary: ImportSummary,
        report: ErrorReport,
    ) -> None:  # fmt: skip
        workspace_id = self.request.workspace.id
        rows = self._drop_duplicates(batch, summary, report)
        if self.check_erasures:
            rows = self._drop_erased(conn, rows, summary, report)
        existing = contact_store.find_by_phones(conn, workspace_id, list(rows))
        now = self.request.now
        values = DriverValues(conn)
        moment = values.moment(now)
        inserts: list[tuple[Any, ...]] = []
        updates: list[dict[str, Any]] = []
        seen: list[int] = []
        for phone, row in list(rows.items()):
            stored = existing.get(phone)
            if stored is None:
                inserts.append(_new_contact(values, workspace_id, row, moment, self.job_id))
                summary.created += 1
            elif stored.last_import_id == self.job_id:
                _reject(
                    summary,
                    report,
                    RowError(
                        row.row,
                        "phone",
                        phone,
                        f"row {row.row}: {phone} appears earlier in this file; row skipped",
                    ),
                )
                del rows[phone]
            else:
                merged = _merge(stored, row)
                if merged is None:
                    seen.append(stored.id)
                    summary.unchanged += 1
                else:
                    merged.update(_id=stored.id, updated_at=now, last_import_id=self.job_id)
                    updates.append(merged)
                    summary.updated += 1
        ids = contact_store.insert_contacts(conn, inserts)
        contact_store.update_contacts(conn, updates)
        contact_store.mark_seen(conn, self.job_id, seen)
        with_consent = {phone: row for phone, row in rows.items() if row.consent is not None}
        if with_consent:
            for phone, stored in existing.items():
                ids.setdefault(phone, stored.id)
            known = [stored.id for phone, stored in existing.items() if phone in with_consent]
            self._record_consent(conn, with_consent, ids, known, summary, report)

    def _drop_duplicates(
        self, batch: list[ContactRow], summary: ImportSummary, report: ErrorReport
    ) -> dict[str, ContactRow]:
        rows: dict[str, ContactRow] = {}
        for row in batch:
            first = rows.get(row.phone)
            if first is None:
                rows[row.phone] = row
            else:
                _reject(
                    summary,
                    report,
                    RowError(
                        row.row,
                        "phone",
                        row.phone,
                        f"row {row.row}: {row.phone} is the same number as row {first.row}; "
                        "row skipped",
                    ),
                )
        return rows

    def _drop_erased(
        self, conn: Connection, rows: dict[str, ContactRow], summary: ImportSummary,
        report: ErrorReport,
    ) -> dict[str, ContactRow]:  # fmt: skip
        hashes = {phone_hash(self.key, phone): phone for phone in rows}
        for hashed in contact_store.erased_hashes(conn, self.request.workspace.id, list(hashes)):
            row = rows.pop(hashes[hashed])
            _reject(
                summary,
                report,
                RowError(
                    row.row,
                    "phone",
                    row.phone,
                    f"row {row.row}: {row.phone} was erased at the person's request; it can "
                    "come back only with new consent (smscast consent opt-in)",
                ),
            )
        return rows

    def _record_consent(
        self, conn: Connection, rows: dict[str, ContactRow], ids: dict[str, int],
        existing_ids: list[int], summary: ImportSummary, report: ErrorReport,
    ) -> None:  # fmt: skip
        """Appends consent events; only contacts that existed before can have a state."""
        workspace_id = self.request.workspace.id
        channel, purpose = Channel.SMS.value, Purpose.PROMOTIONAL.value
        statuses = contact_store.consent_status_of(conn, existing_ids, channel, purpose)
        values = DriverValues(conn)
        moment = values.moment(self.request.now)
        evidence = self.request.consent_source or f"import of {self.request.path.name}"
        opt_in, opted_in, opted_out = Action.OPT_IN, Status.OPTED_IN.value, Status.OPTED_OUT.value
        events: list[tuple[Any, ...]] = []
        wanted_status: dict[int, str] = {}
        for phone, row in rows.items():
            contact_id = ids[phone]
            status = statuses.get(contact_id)
            wanted = opted_in if row.consent is opt_in else opted_out
            if status == wanted:
                continue
            if row.consent is opt_in:
                refusal = self._refuse_opt_in(row, status)
                if refusal is not None:
                    _warn(summary, report, refusal)
                    continue
            wanted_status[contact_id] = wanted
            action = row.consent.value if row.consent else ""
            events.append((workspace_id, contact_id, channel, purpose, action,
                           Source.IMPORT.value, evidence, self.request.actor, moment))  # fmt: skip
        event_ids = consent_store.append_event_tuples(conn, events)
        changed = [
            (contact_id, channel, purpose, wanted_status[contact_id], event_id, moment)
            for contact_id, event_id in event_ids.items()
        ]
        consent_store.replace_state_tuples(conn, [row for row in changed if row[0] in statuses])
        consent_store.insert_state_tuples(conn, [row for row in changed if row[0] not in statuses])

    def _refuse_opt_in(self, row: ContactRow, status: str | None) -> RowError | None:
        """Why an import may not record this row's opt-in, if it may not."""
        if not self.request.consent_source:
            return RowError(row.row, "consent", "yes",
                            f"row {row.row}: consent says yes but the import states no consent "
                            "source (--consent-source); consent not recorded")  # fmt: skip
        if not import_may_opt_in(Status(status) if status else None):
            return RowError(row.row, "consent", "yes",
                            f"row {row.row}: {row.phone} has opted out; an import cannot opt "
                            "them back in (consent not changed)")  # fmt: skip
        return None


def _reject(summary: ImportSummary, report: ErrorReport, error: RowError) -> None:
    summary.rejected += 1
    report.add(error)


def _warn(summary: ImportSummary, report: ErrorReport, error: RowError) -> None:
    summary.warnings += 1
    report.add(error)


def _new_contact(
    values: DriverValues, workspace_id: int, row: ContactRow, moment: Any, job_id: int
) -> tuple[Any, ...]:
    """A new contact's row, in the order of NEW_CONTACT_COLUMNS."""
    attributes, tags = row.encoded or (values.json(row.attributes), values.json(list(row.tags)))
    return (
        workspace_id, row.phone, row.country, attributes, row.language, row.timezone, row.email,
        tags, moment, moment, job_id,
    )  # fmt: skip


def _merge(stored: contact_store.StoredContact, row: ContactRow) -> dict[str, Any] | None:
    """The contact's new values when the row changes anything, else None.

    A cell left empty keeps what is stored; tags are added, never removed.
    """
    attributes = {**stored.attributes, **row.attributes}
    tags = list(dict.fromkeys([*stored.tags, *row.tags]))
    language = row.language or stored.language
    zone = row.timezone if row.timezone and row.timezone != stored.timezone else stored.timezone
    email = row.email or stored.email
    if (
        attributes == stored.attributes
        and tags == stored.tags
        and language == stored.language
        and email == stored.email
        and zone == stored.timezone
    ):
        return None
    return {
        "attributes": attributes,
        "tags": tags,
        "language": language,
        "timezone": zone,
        "email": email,
        "country": row.country,
    }
