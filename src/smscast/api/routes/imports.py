"""Contact imports: upload a CSV, then follow the job's progress and its error report."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field

from smscast.api.deps import Api, idempotency_key, reader, require
from smscast.api.pagination import Page, PageParams, page_of, page_params
from smscast.api.problems import COMMON_RESPONSES, ApiProblem
from smscast.core.roles import Permission
from smscast.engine.contacts.import_jobs import (
    import_error_report,
    list_imports,
    show_import,
    start_import,
)

router = APIRouter(prefix="/api/v1/contacts/imports", tags=["contacts"], responses=COMMON_RESPONSES)
ERRORS_CSV = (
    "row,column,value,reason\r\n"
    '1042,phone,+48 12,"""+48 12"" is not a valid phone number for PL"\r\n'
)
ImportId = Path(ge=1, le=2**31 - 1, description="The import job's id", examples=[5])
CSV_TYPES = ("text/csv", "application/csv", "text/plain", "application/octet-stream")


class ImportJobOut(BaseModel):
    id: int
    filename: str = Field(examples=["customers.csv"])
    status: str = Field(examples=["running"], description="running, finished, failed")
    actor: str
    consent_source: str | None
    started_at: datetime
    finished_at: datetime | None
    rows_total: int | None = Field(
        description="Data lines in the file (progress = rows_read / rows_total)"
    )
    rows_read: int
    created: int
    updated: int
    unchanged: int
    rejected: int
    has_error_report: bool
    failure: str | None = Field(
        None,
        examples=[None],
        description="Why a failed import stopped; the rows counted were committed, and "
        "importing the file again completes it",
    )


@router.post(
    "",
    summary="Import contacts from a CSV body (imported in the background)",
    status_code=202,
    response_model=ImportJobOut,
    dependencies=[Depends(idempotency_key)],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {
                    "schema": {"type": "string"},
                    "example": "phone,first_name,consent\n+48601234567,Ala,yes\n",
                }
            },
        }
    },
)
async def upload(
    request: Request,
    api: Api = Depends(require(Permission.CONTACTS_WRITE)),
    filename: str = Query("contacts.csv", max_length=200),
    consent_source: str | None = Query(
        None, max_length=500, description="Where consent=yes rows were collected (evidence)"
    ),
) -> Any:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in CSV_TYPES:
        raise ApiProblem(
            415,
            "unsupported_media_type",
            f"send the CSV as text/csv, not {content_type or 'nothing'}",
            field="Content-Type",
        )
    data = await request.body()
    return await to_thread.run_sync(
        lambda: start_import(
            api.engine,
            api.settings,
            api.workspace,
            data,
            filename=filename,
            consent_source=consent_source,
            actor=api.caller.actor,
            now=api.now,
        )
    )


@router.get("", summary="List imports", response_model=Page[ImportJobOut])
def imports(api: Api = Depends(reader), page: PageParams = Depends(page_params)) -> Any:
    return page_of(
        list_imports(api.engine, api.workspace, after=page.after, limit=page.limit), page
    )


@router.get("/{import_id}", summary="One import and its progress", response_model=ImportJobOut)
def one(import_id: int = ImportId, api: Api = Depends(reader)) -> Any:
    return show_import(api.engine, api.workspace, import_id)


@router.get(
    "/{import_id}/errors",
    summary="The refused rows: row, column, value, reason",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}, "example": ERRORS_CSV}}}
    },
)
def errors(import_id: int = ImportId, api: Api = Depends(reader)) -> Response:
    return Response(
        import_error_report(api.engine, api.workspace, import_id), media_type="text/csv"
    )
