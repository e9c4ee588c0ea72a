"""Refusals on portal paths answered as pages, not as the API's problem+json.

The API's exception handlers stay as they are for API paths; on portal paths a 404
or 405 is the error page, a signed-out visitor is sent to sign in (and brought back:
`next`), and a role without the permission gets the 403 page.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from smscast.api.problems import status_of
from smscast.core.errors import UserError
from smscast.engine.accounts.auth import AuthError
from smscast.web.auth import PageRefused, PasswordChangeRequired, SignInRequired, viewer_of
from smscast.web.guard import SECURITY_HEADERS, is_portal_path
from smscast.web.i18n import N_
from smscast.web.templating import render

Handler = Callable[[Request, Exception], Awaitable[Response]]
log = logging.getLogger(__name__)

TITLES = {
    403: N_("You may not do this"),
    500: N_("Something went wrong"),
    404: N_("Page not found"),
    405: N_("This page cannot do that"),
}


def error_page(request: Request, status: int, reason: str, detail: str = "") -> Response:
    """The error page for `status`; `reason` is an English msgid, translated when shown;
    `detail`, when given, is the engine's own (English) words about what was refused."""
    return render(
        request,
        "error.html",
        {
            "status": status,
            "title": TITLES.get(status, reason),
            "reason": reason,
            "detail": detail,
        },
        status_code=status,
    )


def csrf_refusal(request: Request) -> Response:
    """What a portal write without a valid CSRF token gets (see `guard.PortalGuard`)."""
    return error_page(
        request,
        403,
        N_(
            "This form has expired or did not come from this site. "
            "Go back, reload the page and try again."
        ),
    )


def safe_next(target: str | None, default: str = "/dashboard") -> str:
    """`target` when it is a path on this site (never another site: //evil, http://…)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(c) < 32 for c in target):
        return default
    return target


def sign_in_redirect(request: Request) -> Response:
    """303 to /login?next=<this page>; an htmx request is told to load it instead."""
    query = request.url.query
    here = request.url.path + (f"?{query}" if query else "")
    if request.method != "GET":  # a form sent after the session ended: back to its page
        referer = urlsplit(request.headers.get("referer", ""))
        same_site = referer.netloc == request.url.netloc
        here = referer.path + (f"?{referer.query}" if referer.query else "") if same_site else ""
    location = "/login?next=" + quote(safe_next(here), safe="/")
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)


async def _signed_out_page_view(request: Request) -> bool:
    if request.method != "GET" or request.url.path.startswith("/static/"):
        return False
    return await run_in_threadpool(viewer_of, request) is None


def _for_portal_paths(api: Handler, page: Handler) -> Handler:
    """`page` answers on portal paths, the API's own `api` handler everywhere else."""

    async def handle(request: Request, error: Exception) -> Response:
        if is_portal_path(request.url.path):
            return await page(request, error)
        return await api(request, error)

    return handle


def install_page_errors(app: FastAPI) -> None:
    """Answers portal-path errors with pages; API paths keep the API's handlers.

    A page is expected to catch the engine's refusals (`UserError`) and show them on its
    form; one that escapes still gets a page (with the engine's English detail) rather
    than the API's JSON.
    """
    handlers: dict[Any, Handler] = app.exception_handlers  # type: ignore[assignment]

    async def on_http(request: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        if error.status_code == 404 and await _signed_out_page_view(request):
            return sign_in_redirect(request)  # which pages exist is for members to see
        reason = {
            404: N_("There is no page at this address."),
            405: N_("This page does not answer that kind of request."),
        }.get(error.status_code, N_("The request was refused."))
        return await run_in_threadpool(error_page, request, error.status_code, reason)

    async def on_invalid(request: Request, error: Exception) -> Response:
        reason = N_("This page cannot read a value in the address or the form.")
        return await run_in_threadpool(error_page, request, 422, reason)

    async def on_user_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, UserError)
        status = 401 if isinstance(error, AuthError) else status_of(error.problem)
        if status == 401:
            return sign_in_redirect(request)
        reason = N_("This could not be done.")
        return await run_in_threadpool(error_page, request, status, reason, error.problem.message)

    async def on_crash(request: Request, error: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        try:
            reason = N_("Something went wrong on the server; the error is in its log.")
            page = await run_in_threadpool(error_page, request, 500, reason)
            # Answered outside the middleware (by Starlette's last resort): add the headers.
            page.headers.update({k.decode(): v.decode() for k, v in SECURITY_HEADERS})
            return page
        except Exception:  # the error page itself failed (database down): plain words
            log.exception("the error page failed too")
            return PlainTextResponse("500: the server failed; the error is in its log", 500)

    async def on_sign_in(request: Request, error: Exception) -> Response:
        return sign_in_redirect(request)

    async def on_password_change(request: Request, error: Exception) -> Response:
        return RedirectResponse("/profile?done=one-time#password-title", status_code=303)

    async def on_refused(request: Request, error: Exception) -> Response:
        return await run_in_threadpool(
            error_page, request, 403, N_("Your role in this workspace does not allow this page.")
        )

    for kind, page in (
        (StarletteHTTPException, on_http),
        (RequestValidationError, on_invalid),
        (UserError, on_user_error),
        (Exception, on_crash),
    ):
        app.add_exception_handler(kind, _for_portal_paths(handlers[kind], page))
    app.add_exception_handler(SignInRequired, on_sign_in)
    app.add_exception_handler(PageRefused, on_refused)
    app.add_exception_handler(PasswordChangeRequired, on_password_change)
