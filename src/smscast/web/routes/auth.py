"""Signing in and out, the language menu and the workspace switcher.

Sign-in is the API's: the same argon2 users, the same throttle (`engine.users.sign_in`),
the same session cookie; only the answers are pages. A refused sign-in keeps the
email typed and says why; a throttled one says for how long.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from smscast.api.deps import SESSION_COOKIE
from smscast.api.routes.auth import client_address, sign_in_limits
from smscast.core.errors import UserError
from smscast.engine.accounts.auth import AuthError
from smscast.engine.accounts.portal_preferences import remember_language, switch_workspace
from smscast.engine.accounts.sign_in_throttle import AccountLocked, SignInRefused
from smscast.engine.accounts.users import sign_in, sign_out
from smscast.web import i18n
from smscast.web.auth import site_engine, site_now, site_settings, viewer_of
from smscast.web.errors import error_page, safe_next, sign_in_redirect
from smscast.web.forms import FieldError
from smscast.web.templating import (
    YEAR_SECONDS,
    gettext_for,
    render,
    request_language,
    set_portal_cookie,
)

router = APIRouter(include_in_schema=False)

MAX_EMAIL = 320
MAX_PASSWORD = 1000


@router.get("/")
def home() -> Response:
    return RedirectResponse("/dashboard", status_code=303)


@router.get("/login")
def login_page(request: Request, next: str = "") -> Response:
    if viewer_of(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "login.html", {"next": safe_next(next), "email": "", "errors": []})


@router.post("/login")
def login(
    request: Request,
    email: str = Form(""),
    password: str = Form(""),
    next: str = Form(""),
) -> Response:
    """Opens a session in the user's first workspace and goes back to `next`."""
    _ = gettext_for(request)
    errors: list[FieldError] = []
    if not email.strip():
        errors.append(FieldError("email", _("Enter your email address.")))
    elif len(email) > MAX_EMAIL or "\x00" in email:
        errors.append(FieldError("email", _("Enter a valid email address.")))
    if not password:
        errors.append(FieldError("password", _("Enter your password.")))
    elif len(password) > MAX_PASSWORD or "\x00" in password:
        errors.append(FieldError("password", _("Wrong email or password.")))
    status, headers = 422, {}
    if not errors:
        settings = site_settings(request)
        lifetime = timedelta(hours=settings.session_hours)
        try:
            done = sign_in(
                site_engine(request),
                email,
                password,
                workspace_id=None,
                lifetime=lifetime,
                now=site_now(request),
                address=client_address(request),
                limits=sign_in_limits(settings),
            )
        except SignInRefused as error:
            status, headers = (
                (423 if isinstance(error, AccountLocked) else 429),
                {"Retry-After": str(error.retry_after)},
            )
            errors.append(FieldError("email", _refusal_text(request, error)))
        except AuthError as error:
            message = (
                _("This login is not a member of any workspace.")
                if error.problem.code == "no_membership"
                else _("Wrong email or password.")
            )
            errors.append(FieldError("email", message))
        else:
            response = RedirectResponse(safe_next(next), status_code=303)
            set_portal_cookie(
                request, response, SESSION_COOKIE, done.token, max_age=int(lifetime.total_seconds())
            )
            return response
    return render(
        request,
        "login.html",
        {"next": safe_next(next), "email": email[:MAX_EMAIL], "errors": errors},
        status_code=status,
        headers=headers,
    )


def _refusal_text(request: Request, error: SignInRefused) -> str:
    _ = gettext_for(request)
    if isinstance(error, AccountLocked):
        until = i18n.format_datetime(error.until, request_language(request), "UTC", "short")
        return _(
            "This account is locked after too many failed sign-ins, until %(until)s UTC. "
            "A correct password is refused too until then; an administrator can unlock it "
            "by setting a new password.",
            until=until,
        )
    return _(
        "Too many failed sign-ins. Wait %(seconds)s seconds and try again.",
        seconds=error.retry_after,
    )


@router.post("/logout")
def logout(request: Request) -> Response:
    """Ends the session (in the database, not only the cookie) and shows the sign-in page."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        sign_out(site_engine(request), token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/language")
def choose_language(
    request: Request,
    language: str = Form(""),
    next: str = Form(""),
) -> Response:
    """Remembers the language: on the user when signed in, in a cookie either way (so the
    sign-in page after signing out stays in it)."""
    chosen = i18n.supported(language)
    if chosen is None or chosen != language:
        return error_page(request, 422, i18n.N_("The portal does not speak that language."))
    viewer = viewer_of(request)
    if viewer is not None:
        remember_language(site_engine(request), viewer.caller, chosen)
    response = RedirectResponse(safe_next(next, default="/"), status_code=303)
    set_portal_cookie(request, response, i18n.LANGUAGE_COOKIE, chosen, max_age=YEAR_SECONDS)
    return response


@router.post("/workspace")
def choose_workspace(request: Request, workspace_id: str = Form("")) -> Response:
    """Moves the session to another workspace of the user's, on its dashboard."""
    viewer = viewer_of(request)
    token = request.cookies.get(SESSION_COOKIE)
    if viewer is None or not token:
        return sign_in_redirect(request)
    settings = site_settings(request)
    lifetime = timedelta(hours=settings.session_hours)
    try:
        if not workspace_id.isdigit():
            raise UserError.of("unknown_workspace", "no such workspace", field="workspace_id")
        new_token = switch_workspace(
            site_engine(request),
            viewer.caller,
            token,
            int(workspace_id),
            lifetime=lifetime,
            now=site_now(request),
        )
    except UserError:
        return error_page(request, 404, i18n.N_("You are not a member of that workspace."))
    response = RedirectResponse("/dashboard", status_code=303)
    set_portal_cookie(
        request, response, SESSION_COOKIE, new_token, max_age=int(lifetime.total_seconds())
    )
    return response
