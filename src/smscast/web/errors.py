"""Refusals on portal paths answered as pages, not as the API's problem+json.

The API's exception handlers stay as they are for API paths; on portal paths a 404
or 405 is the error page, a signed-out visitor is sent to sign in (and brought back:
`next`), and a role without the permission gets the 403 page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response

from smscast.web.auth import PageRefused, SignInRequired, viewer_of
from smscast.web.guard import is_portal_path
from smscast.web.i18n import N_
from smscast.web.templating import render

Handler = Callable[[Request, Exception], Awaitable[Response]]

TITLES = {
    403: N_("You may not do this"),
    404: N_("Page not found"),
    405: N_("This page cannot do that"),
}


def error_page(request: Request, status: int, reason: str) -> Response:
    """The error page for `status`; `reason` is an English msgid, translated when shown."""
    return render(
        request,
        "error.html",
        {"status": status, "title": TITLES.get(status, reason), "reason": reason},
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


def install_page_errors(app: FastAPI) -> None:
    """Answers portal-path errors with pages; API paths keep the API's handlers."""
    api_http: Handler = app.exception_handlers[StarletteHTTPException]  # type: ignore[assignment]

    async def on_http(request: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        if not is_portal_path(request.url.path):
            return await api_http(request, error)
        if error.status_code == 404 and await _signed_out_page_view(request):
            return sign_in_redirect(request)  # which pages exist is for members to see
        reason = {
            404: N_("There is no page at this address."),
            405: N_("This page does not answer that kind of request."),
        }.get(error.status_code, N_("The request was refused."))
        return await run_in_threadpool(error_page, request, error.status_code, reason)

    async def on_sign_in(request: Request, error: Exception) -> Response:
        return sign_in_redirect(request)

    async def on_refused(request: Request, error: Exception) -> Response:
        return await run_in_threadpool(
            error_page, request, 403, N_("Your role in this workspace does not allow this page.")
        )

    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(SignInRequired, on_sign_in)
    app.add_exception_handler(PageRefused, on_refused)
