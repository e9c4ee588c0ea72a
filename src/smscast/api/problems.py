"""Errors as `application/problem+json` (RFC 9457), each naming the field at fault.

Every refusal the API gives goes through here, so a client reads one shape:
`type`, `title`, `status`, `detail`, plus `code` (stable, for programs), `field`
(where the input is wrong) and `errors` (every problem when there are several).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from smscast.core.errors import Problem, UserError
from smscast.engine.accounts.auth import AuthError

log = logging.getLogger(__name__)
PROBLEM_TYPE = "application/problem+json"
NOT_FOUND_CODES = frozenset(
    {
        "not_found",
        "unknown_api_key",
        "unknown_campaign",
        "unknown_connector",
        "unknown_contact",
        "unknown_coupon",
        "unknown_import",
        "unknown_message",
        "unknown_number",
        "unknown_pool",
        "unknown_rule",
        "unknown_segment",
        "unknown_ticket",
        "unknown_user",
        "unknown_webhook",
    }
)
CONFLICT_CODES = frozenset(
    {
        "contact_exists",
        "member_exists",
        "workspace_exists",
        "idempotency_in_progress",
        "conflict",
    }
)
FORBIDDEN_CODES = frozenset({"forbidden_role", "user_only", "forbidden"})
_TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal error",
}


class FieldError(BaseModel):
    field: str = Field(examples=["phone"])
    message: str = Field(examples=['"+48 12" is not a valid phone number for PL'])
    code: str = Field(examples=["invalid_phone"])


class ProblemBody(BaseModel):
    """The body of every error response."""

    type: str = Field("about:blank", examples=["about:blank"])
    title: str = Field(examples=["Invalid input"])
    status: int = Field(examples=[422])
    detail: str = Field(examples=['"+48 12" is not a valid phone number for PL'])
    code: str = Field(examples=["invalid_phone"])
    field: str | None = Field(None, examples=["phone"])
    errors: list[FieldError] = Field(default_factory=list)


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    field: str | None = None,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
        "field": field,
        "errors": errors or [],
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_TYPE, headers=headers)


class ApiProblem(Exception):
    """Raised by routes and dependencies for refusals that are not a UserError."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail
        self.field, self.headers = field, headers


def status_of(problem_: Problem) -> int:
    code, field = problem_.code, problem_.field or ""
    if code in NOT_FOUND_CODES or (code.startswith("unknown_") and field.endswith("id")):
        return 404
    if code in CONFLICT_CODES or code.endswith("_exists"):
        return 409
    if code in FORBIDDEN_CODES:
        return 403
    return 422


def user_error_response(error: UserError) -> JSONResponse:
    p = error.problem
    if isinstance(error, AuthError):
        return problem(401, p.code, p.message, headers={"WWW-Authenticate": "Bearer"})
    errors = [{"field": p.field or "", "message": p.message, "code": p.code}] if p.field else []
    return problem(status_of(p), p.code, p.message, field=p.field, errors=errors)


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(part) for part in loc if part not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[0] if loc else "")


def validation_response(error: RequestValidationError, content_type: str = "") -> JSONResponse:
    """422 naming each field at fault; a body that is no JSON is told apart: not JSON at
    all (the wrong Content-Type: 415), or broken JSON (where, in lines and columns)."""
    if isinstance(error.body, bytes) and error.body:  # read, but not as JSON: its type said so
        return _not_json(content_type)
    broken = next((item for item in error.errors() if item["type"] == "json_invalid"), None)
    if broken is not None:
        return _broken_json(broken, error.body)
    errors = []
    for item in error.errors():
        where = _location(tuple(item.get("loc", ())))
        message = str(item.get("msg", "invalid"))
        errors.append({"field": where, "message": f"{where}: {message}", "code": item["type"]})
    first = errors[0] if errors else {"field": "", "message": "invalid request", "code": "invalid"}
    return problem(422, first["code"], first["message"], field=first["field"], errors=errors)


def _not_json(content_type: str) -> JSONResponse:
    given = content_type.split(";")[0].strip()
    said = f"it was sent as {given}" if given else "it was sent without a Content-Type header"
    return problem(
        415,
        "unsupported_media_type",
        f"this takes a JSON body with the header Content-Type: application/json; {said}",
        field="Content-Type",
    )


def _broken_json(item: Any, document: Any) -> JSONResponse:
    """Where the JSON breaks, as an editor counts: line and column from 1."""
    loc = tuple(item.get("loc", ()))
    offset = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else None
    reason = str((item.get("ctx") or {}).get("error") or "not valid JSON")
    where = ""
    if offset is not None and isinstance(document, str):
        line = document.count("\n", 0, offset) + 1
        column = offset - document.rfind("\n", 0, offset)
        where = f" at line {line}, column {column}"
    elif offset is not None:
        where = f" at character {offset + 1}"
    detail = f"the body is not valid JSON: {reason}{where}"
    errors = [{"field": "body", "message": detail, "code": "json_invalid"}]
    return problem(422, "json_invalid", detail, field="body", errors=errors)


def install_problem_handlers(app: FastAPI) -> None:
    async def on_user_error(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, UserError)
        return user_error_response(error)

    async def on_api_problem(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, ApiProblem)
        return problem(
            error.status, error.code, error.detail, field=error.field, headers=error.headers
        )

    async def on_validation(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        return validation_response(error, request.headers.get("content-type", ""))

    async def on_http(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        headers = dict(error.headers) if error.headers else None
        return problem(error.status_code, code, str(error.detail), headers=headers)

    async def on_crash(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(500, "internal_error", "the server failed; the error is in its log")

    app.add_exception_handler(UserError, on_user_error)
    app.add_exception_handler(ApiProblem, on_api_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_crash)


PROBLEM_CONTENT = {PROBLEM_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemBody"}}}
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ProblemBody, "description": _TITLES[status], "content": PROBLEM_CONTENT}
    for status in (400, 401, 403, 404, 409, 413, 422, 429)
}
