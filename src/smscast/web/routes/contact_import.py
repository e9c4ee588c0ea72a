"""Importing a CSV from the portal: upload, map the columns, watch it run, read the outcome.

Three steps, one decision each: the file (and where its consent was collected), then
what each column holds (guessed from the header, shown with the first rows), then the
import job's progress — a `<progress>` bar that htmx refreshes from the job row until
the job ends — and its counters, with the refused rows to download. The job is the
API's (`start_upload_import` runs the same importer in the same background thread).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from smscast.core.contact_rows import CONSENT_COLUMNS
from smscast.core.errors import UserError
from smscast.core.roles import Permission
from smscast.engine.contacts.column_mapping import TARGETS, HeaderPreview
from smscast.engine.contacts.import_jobs import (
    import_error_report,
    preview_upload,
    save_upload,
    show_import,
    start_upload_import,
)
from smscast.web.auth import Page, page_for, reader_page
from smscast.web.forms import FieldError
from smscast.web.i18n import N_
from smscast.web.templating import gettext_for, render

router = APIRouter(include_in_schema=False)
writer_page = page_for(Permission.CONTACTS_WRITE)

MAX_UPLOAD = 200 * 1024 * 1024
MAX_SOURCE = 500
POLL = "every 500ms"
TARGET_NAMES = {
    "phone": N_("Phone"),
    "first_name": N_("First name"),
    "last_name": N_("Last name"),
    "language": N_("Language"),
    "timezone": N_("Time zone"),
    "email": N_("Email"),
    "tags": N_("Tags"),
    "consent": N_("SMS consent (yes/no)"),
    "whatsapp": N_("WhatsApp number"),
    "consent_email": N_("Email consent (yes/no)"),
    "consent_whatsapp": N_("WhatsApp consent (yes/no)"),
    "attribute": N_("Attribute (under the column's name)"),
    "skip": N_("Do not import"),
}


@router.get("/contacts/import")
def upload_form(page: Page = Depends(writer_page)) -> Response:
    return render(page.request, "contacts/import_upload.html", {"errors": [], "source": ""})


@router.post("/contacts/import")
def upload(
    page: Page = Depends(writer_page),
    file: UploadFile | None = File(None),
    consent_source: str = Form("", max_length=MAX_SOURCE),
) -> Response:
    """Keeps the file and shows its columns to map."""
    _ = gettext_for(page.request)
    errors: list[FieldError] = []
    data = file.file.read(MAX_UPLOAD + 1) if file is not None else b""
    if file is None or not file.filename:
        errors.append(FieldError("file", _("Choose a CSV file to import.")))
    elif len(data) > MAX_UPLOAD:
        errors.append(FieldError("file", _("The file is larger than 200 MB.")))
    else:
        try:
            upload_name = save_upload(page.settings, page.workspace, data, filename=file.filename)
            preview = preview_upload(page.settings, page.workspace, upload_name)
        except UserError as error:
            errors.append(FieldError("file", _file_refusal(page, error)))
    if errors:
        return render(page.request, "contacts/import_upload.html",
                      {"errors": errors, "source": consent_source}, status_code=422)  # fmt: skip
    return _mapping_page(page, upload_name, preview, consent_source, list(preview.guesses), [])


def _file_refusal(page: Page, error: UserError) -> str:
    _ = gettext_for(page.request)
    if error.problem.code == "empty_file":
        return _("The file is empty: it needs a header row naming its columns.")
    return _("The file cannot be read: %(reason)s", reason=error.problem.message)


def _mapping_page(
    page: Page,
    upload_name: str,
    preview: HeaderPreview,
    source: str,
    chosen: list[str],
    errors: list[FieldError],
) -> Response:
    _ = gettext_for(page.request)
    return render(
        page.request,
        "contacts/import_mapping.html",
        {
            "upload": upload_name,
            "source": source,
            "columns": list(zip(preview.header, chosen, strict=True)),
            "samples": preview.samples,
            "targets": [(target, _(TARGET_NAMES[target])) for target in TARGETS],
            "errors": errors,
        },
        status_code=422 if errors else 200,
    )


async def posted_form(request: Request) -> FormData:
    """The whole form: the mapping has one field per column of the file."""
    return await request.form()


@router.post("/contacts/import/start")
def start(page: Page = Depends(writer_page), form: FormData = Depends(posted_form)) -> Response:
    """Starts the import with the columns as mapped; on to its progress page."""
    _ = gettext_for(page.request)
    upload_name = str(form.get("upload", ""))
    source = str(form.get("consent_source", ""))[:MAX_SOURCE]
    preview = preview_upload(page.settings, page.workspace, upload_name)
    chosen = [str(form.get(f"column-{index}", "")) for index in range(len(preview.header))]
    consent = [target for target in chosen if target in CONSENT_COLUMNS.values()]
    if consent and not source.strip():
        # Without a source the importer records no consent at all: the yes would be lost
        # without a word, and the contacts could not be sent a campaign.
        shown = [target if target in TARGETS else "skip" for target in chosen]
        column = preview.header[chosen.index(consent[0])]
        refusal = _("The column “%(column)s” holds consent: say where it was collected, "
                    "or import that column as something else.", column=column)  # fmt: skip
        return _mapping_page(page, upload_name, preview, source, shown,
                             [FieldError("consent_source", refusal)])  # fmt: skip
    try:
        job = start_upload_import(
            page.engine, page.settings, page.workspace, upload_name, columns=chosen,
            consent_source=source.strip() or None, actor=page.caller.actor, now=page.now,
        )  # fmt: skip
    except UserError as error:
        message = _mapping_refusal(page, error)
        shown = [target if target in TARGETS else "skip" for target in chosen]
        return _mapping_page(page, upload_name, preview, source, shown,
                             [FieldError("column-0", message)])  # fmt: skip
    return RedirectResponse(f"/contacts/import/{job['id']}", status_code=303)


def _mapping_refusal(page: Page, error: UserError) -> str:
    _ = gettext_for(page.request)
    if error.problem.code == "no_phone_column":
        return _("Choose the column that holds the phone number.")
    if error.problem.code == "target_twice":
        return _("Two columns are mapped to the same field: %(reason)s",
                 reason=error.problem.message)  # fmt: skip
    return _("This mapping cannot be used: %(reason)s", reason=error.problem.message)


@router.get("/contacts/import/{job_id:int}")
def progress_page(job_id: int, page: Page = Depends(reader_page)) -> Response:
    job = show_import(page.engine, page.workspace, job_id)
    return render(page.request, "contacts/import_job.html", _job_context(job))


@router.get("/contacts/import/{job_id:int}/progress")
def progress(job_id: int, page: Page = Depends(reader_page)) -> Response:
    """The progress block alone, for htmx to swap in while the job runs."""
    job = show_import(page.engine, page.workspace, job_id)
    return render(page.request, "contacts/import_progress.html", _job_context(job))


def _job_context(job: dict[str, object]) -> dict[str, object]:
    total = job.get("rows_total")
    read = int(str(job.get("rows_read") or 0))
    running = job.get("status") == "running"
    if isinstance(total, int) and total > 0:
        done = min(read, total) if running else total
        ratio = done / total
    else:
        total, done, ratio = 1, (0 if running else 1), (0.0 if running else 1.0)
    return {"job": job, "running": running, "done": done, "total": total, "ratio": ratio,
            "poll": POLL}  # fmt: skip


@router.get("/contacts/import/{job_id:int}/refused.csv")
def refused_rows(job_id: int, page: Page = Depends(reader_page)) -> Response:
    """The refused rows: row, column, value and reason."""
    data = import_error_report(page.engine, page.workspace, job_id)
    return Response(
        data,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="import-{job_id}-refused.csv"',
            "Cache-Control": "no-store",
        },
    )
