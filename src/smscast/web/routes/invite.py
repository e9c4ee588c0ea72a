"""The invitation page `/invite/<token>`: public, no sign-in (the person has no account
yet, or is not signed in here).

A new person chooses their name and password; someone who already has an account
enters its password. Either way they join the workspace with the invited role and
are signed in to it. A link already used, revoked or expired says which, and who to
ask. The password is checked like a sign-in (same throttle, same lock), and the form
carries a CSRF token bound to a pre-session cookie, as /login does.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from smscast.api.deps import SESSION_COOKIE
from smscast.api.routes.auth import client_address, sign_in_limits
from smscast.core.errors import UserError
from smscast.engine.accounts.invitations import (
    InvitationState,
    InvitationView,
    accept_invitation,
    find_invitation,
)
from smscast.engine.accounts.sign_in_throttle import SignInRefused
from smscast.engine.accounts.users import sign_in
from smscast.web import i18n
from smscast.web.auth import site_engine, site_now, site_settings
from smscast.web.errors import error_page
from smscast.web.forms import FieldError
from smscast.web.routes.auth import MAX_PASSWORD, _refusal_text
from smscast.web.templating import gettext_for, render, set_portal_cookie

router = APIRouter(include_in_schema=False)

MAX_TOKEN = 100
PROBLEMS = {
    "wrong_password": ("password", i18n.N_("The password is wrong.")),
    "weak_password": ("password", i18n.N_(
        "A password needs at least 10 characters, not all the same one."
    )),
    "empty_name": ("name", i18n.N_("Enter your name.")),
    "name_too_long": ("name", i18n.N_("A name has at most 200 characters.")),
    "member_exists": ("password", i18n.N_(
        "You are already a member of this workspace: sign in instead."
    )),
}  # fmt: skip


@router.get("/invite/{token}")
def invitation_page(request: Request, token: str) -> Response:
    invitation = _find(request, token)
    if invitation is None:
        return _unknown(request)
    if invitation.state is not InvitationState.PENDING:
        return _closed(request, invitation)
    return _form(request, token, invitation, "", [])


@router.post("/invite/{token}")
def accept(
    request: Request, token: str, name: str = Form(""), password: str = Form("")
) -> Response:
    """Joins and signs in; a wrong field is shown at its place, the name kept."""
    _ = gettext_for(request)
    invitation = _find(request, token)
    if invitation is None:
        return _unknown(request)
    if invitation.state is not InvitationState.PENDING:
        return _closed(request, invitation)
    name = name[:200]
    if not password:
        message = _("Enter your password.") if invitation.has_account else _("Choose a password.")
        return _form(request, token, invitation, name, [FieldError("password", message)], 422)
    if len(password) > MAX_PASSWORD or "\x00" in password:
        error = FieldError("password", _("The password is wrong."))
        return _form(request, token, invitation, name, [error], 422)
    engine, settings, now = site_engine(request), site_settings(request), site_now(request)
    limits = sign_in_limits(settings)
    try:
        accepted = accept_invitation(engine, token, name=name, password=password,
                                     address=client_address(request), limits=limits,
                                     now=now)  # fmt: skip
    except SignInRefused as refused:
        error = FieldError("password", _refusal_text(request, refused))
        return _form(request, token, invitation, name, [error], 429,
                     {"Retry-After": str(refused.retry_after)})  # fmt: skip
    except UserError as refused:
        known = PROBLEMS.get(refused.problem.code)
        if known is None:  # used, revoked or expired meanwhile
            fresh = _find(request, token)
            return _closed(request, fresh) if fresh else _unknown(request)
        error = FieldError(known[0], _(known[1]))
        return _form(request, token, invitation, name, [error], 422)
    lifetime = timedelta(hours=settings.session_hours)
    session = sign_in(engine, accepted.email, password, workspace_id=accepted.workspace_id,
                      lifetime=lifetime, now=now, address=client_address(request),
                      limits=limits)  # fmt: skip
    response = RedirectResponse("/dashboard", status_code=303)
    set_portal_cookie(request, response, SESSION_COOKIE, session.token,
                      max_age=int(lifetime.total_seconds()))  # fmt: skip
    return response


def _find(request: Request, token: str) -> InvitationView | None:
    if len(token) > MAX_TOKEN:
        return None
    return find_invitation(site_engine(request), token, now=site_now(request))


def _form(
    request: Request,
    token: str,
    invitation: InvitationView,
    name: str,
    errors: list[FieldError],
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    context = {"token": token, "invitation": invitation, "name": name, "errors": errors}
    return render(request, "invite/accept.html", context, status_code=status_code,
                  headers=headers)  # fmt: skip


def _closed(request: Request, invitation: InvitationView) -> Response:
    """Used, revoked or expired: 410, saying which."""
    context = {"invitation": invitation, "state": invitation.state.value}
    return render(request, "invite/closed.html", context, status_code=410)


def _unknown(request: Request) -> Response:
    """Answered here, not by raising 404: the portal sends a signed-out visitor of an
    unknown page to sign in, and this page is for people without an account."""
    reason = i18n.N_(
        "This invitation link is not valid. Check that it was copied whole, or ask for a new one."
    )
    return error_page(request, 404, reason)
