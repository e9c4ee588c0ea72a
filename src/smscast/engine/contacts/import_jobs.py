"""Contact imports started over the API: the file is saved, imported in a thread, watched.

The import itself is `contacts_import.import_contacts`, the same as the CLI's; its
job row is committed first and its counters after every batch, so a client polls
the row for progress. A file whose header cannot be read is refused at once.

The portal imports in two steps: `save_upload` keeps the file and `preview_upload`
shows its header for a person to map, then `start_upload_import` runs it with that
mapping.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from smscast.config import Settings
from smscast.core.errors import UserError
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.contacts.column_mapping import HeaderPreview, mapped_columns, preview_header
from smscast.engine.contacts.importing import ImportRequest, import_contacts, import_jobs
from smscast.engine.webhooks.endpoints import emit_event

log = logging.getLogger(__name__)
START_WAIT_S = 30.0
_UPLOAD_NAME = re.compile(r"[0-9a-f]{12}-[A-Za-z0-9._-]+\.csv")
JOB_COLUMNS = (
    "id",
    "filename",
    "status",
    "actor",
    "consent_source",
    "started_at",
    "finished_at",
    "rows_read",
    "created",
    "updated",
    "unchanged",
    "rejected",
    "error_report",
    "failure",
)


def _safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name)[:80].strip("._")
    return cleaned or "contacts"


def start_import(
    engine: Engine,
    settings: Settings,
    workspace: WorkspaceRef,
    data: bytes,
    *,
    filename: str,
    consent_source: str | None,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Saves the CSV and imports it in the background; returns the job once it exists."""
    path = _save(settings, workspace, data, filename)
    return _launch(engine, settings, ImportRequest(path, workspace, consent_source, actor, now))


def save_upload(settings: Settings, workspace: WorkspaceRef, data: bytes, *, filename: str) -> str:
    """Keeps an uploaded CSV until its columns are mapped; returns the upload's name, which
    `preview_upload` and `start_upload_import` take (in this workspace only)."""
    path = _save(settings, workspace, data, filename)
    try:
        preview_header(path)
    except UserError:
        path.unlink(missing_ok=True)
        raise
    return path.name


def preview_upload(settings: Settings, workspace: WorkspaceRef, upload: str) -> HeaderPreview:
    """The saved upload's header, first rows and the importer's guess for each column."""
    return preview_header(_upload_path(settings, workspace, upload))


def start_upload_import(
    engine: Engine,
    settings: Settings,
    workspace: WorkspaceRef,
    upload: str,
    *,
    columns: Sequence[str],
    consent_source: str | None,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Imports a saved upload with its columns mapped by a person (`column_mapping`).

    The mapping is checked before anything starts: a wrong one is refused naming the
    column, and the upload stays to be mapped again.
    """
    path = _upload_path(settings, workspace, upload)
    mapped_columns(preview_header(path).header, columns)
    request = ImportRequest(path, workspace, consent_source, actor, now, tuple(columns))
    return _launch(engine, settings, request)


def _imports_folder(settings: Settings, workspace: WorkspaceRef) -> Path:
    return settings.data_dir / "imports" / str(workspace.id)


def _save(settings: Settings, workspace: WorkspaceRef, data: bytes, filename: str) -> Path:
    if not data.strip():
        raise UserError.of(
            "empty_file", "the CSV body is empty: there is no header row", field="body"
        )
    folder = _imports_folder(settings, workspace)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex[:12]}-{_safe_name(filename)}"
    if path.suffix != ".csv":
        path = path.with_name(path.name + ".csv")
    path.write_bytes(data)
    return path


def _upload_path(settings: Settings, workspace: WorkspaceRef, upload: str) -> Path:
    path = _imports_folder(settings, workspace) / upload
    if not _UPLOAD_NAME.fullmatch(upload) or not path.is_file():
        raise UserError.of("unknown_upload", f"no uploaded file {upload!r}", field="upload")
    return path


def _launch(engine: Engine, settings: Settings, request: ImportRequest) -> dict[str, Any]:
    """Runs the import in a thread; returns its job as soon as the job row exists."""
    path, workspace = request.path, request.workspace
    failure: list[BaseException] = []
    worker = threading.Thread(
        target=_run, args=(engine, settings, request, failure), name="smscast-import", daemon=True
    )
    worker.start()
    deadline = time.monotonic() + START_WAIT_S
    while time.monotonic() < deadline:
        job = _job_for_file(engine, workspace, path)
        if job is not None:
            return job
        if not worker.is_alive():
            break
        time.sleep(0.02)
    worker.join(timeout=0.1)
    job = _job_for_file(engine, workspace, path)
    if job is not None:
        return job
    path.unlink(missing_ok=True)
    if failure and isinstance(failure[0], UserError):
        raise failure[0]
    raise UserError.of("import_not_started", "the import did not start; see the server log")


def _run(
    engine: Engine, settings: Settings, request: ImportRequest, failure: list[BaseException]
) -> None:
    try:
        summary = import_contacts(engine, settings, request)
    except BaseException as error:  # handed to the waiting request
        failure.append(error)
        if not isinstance(error, UserError):
            log.exception("import of %s failed", request.path)
        return
    with engine.begin() as conn:
        emit_event(
            conn, request.workspace.id, "import.finished", summary.as_dict(), datetime.now(UTC)
        )


def _job_for_file(engine: Engine, workspace: WorkspaceRef, path: Path) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(import_jobs.c.id).where(
                import_jobs.c.workspace_id == workspace.id, import_jobs.c.filename == str(path)
            )
        ).first()
    return None if row is None else show_import(engine, workspace, row.id)


def show_import(engine: Engine, workspace: WorkspaceRef, job_id: int) -> dict[str, Any]:
    """The job with its counters and `rows_total`, the data lines in the file."""
    with engine.connect() as conn:
        row = conn.execute(
            select(*(import_jobs.c[c] for c in JOB_COLUMNS)).where(
                import_jobs.c.id == job_id, import_jobs.c.workspace_id == workspace.id
            )
        ).first()
    if row is None:
        raise UserError.of("unknown_import", f"no import #{job_id}", field="import_id")
    job = dict(row._mapping)
    path = Path(job["filename"])
    job["filename"] = path.name.split("-", 1)[-1]
    job["rows_total"] = _data_lines(path)
    job["has_error_report"] = bool(job.pop("error_report"))
    return job


def _data_lines(path: Path) -> int | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    return max(0, lines - 1)


def list_imports(
    engine: Engine, workspace: WorkspaceRef, *, after: int, limit: int
) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        ids = (
            conn.execute(
                select(import_jobs.c.id)
                .where(import_jobs.c.workspace_id == workspace.id, import_jobs.c.id > after)
                .order_by(import_jobs.c.id)
                .limit(limit)
            )
            .scalars()
            .all()
        )
    return [show_import(engine, workspace, job_id) for job_id in ids]


def import_error_report(engine: Engine, workspace: WorkspaceRef, job_id: int) -> bytes:
    with engine.connect() as conn:
        report = conn.execute(
            select(import_jobs.c.error_report).where(
                import_jobs.c.id == job_id, import_jobs.c.workspace_id == workspace.id
            )
        ).first()
    if report is None:
        raise UserError.of("unknown_import", f"no import #{job_id}", field="import_id")
    if not report.error_report:
        return b"row,column,value,reason\r\n"
    return Path(report.error_report).read_bytes()
