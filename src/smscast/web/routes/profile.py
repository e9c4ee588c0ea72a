"""Your profile: the name others see, the portal's language, the password, signing out.

Any signed-in member opens it (the user menu links to it). The password change asks
for the current password (a session left open on a shared screen must not be enough)
and ends every other session of the account; "sign out everywhere" ends all of them,
this one included — for a lost phone or a borrowed computer.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form
from starlette.responses import RedirectResponse, Response

from smscast.api.deps import SESSION_COOKIE
from smscast.api.routes.auth import client_address, sign_in_limits
from smscast.core.errors import UserError
from smscast.engine.accounts.portal_preferences import remember_language
from smscast.engine.accounts.sign_in_throttle import SignInRefused
from smscast.engine.accounts.user_profile import rename_user, sign_out_everywhere
from smscast.engine.accounts.users import MIN_PASSWORD, change_password
from smscast.web import i18n
from smscast.web.auth import Page, reader_page
from smscast.web.forms import FieldError
from smscast.web.routes.auth import MAX_PASSWORD, _refusal_text
from smscast.web.templating import YEAR_SECONDS, gettext_for, render, set_portal_cookie

router = APIRouter(include_in_schema=False)


def _page(
    page: Page,
    *,
    name: str | None = None,
    errors: list[FieldError] | None = None,
    notice: str = "",
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    profile = page.viewer.profile
    context = {
        "profile": profile,
        "name": profile.name if name is None else name,
        "chosen_language": profile.locale or "",
        "errors": errors or [],
        "notice": notice,
        "min_password": MIN_PASSWORD,
    }
    return render(page.request, "profile/page.html", context, status_code=status_code,
                  headers=headers)  # fmt: skip


@router.get("/profile")
def profile_page(page: Page = Depends(reader_page), done: str = "") -> Response:
    _ = gettext_for(page.request)
    notices = {
        "name": _("Your name is saved."),
        "language": _("The portal speaks this language to you now, on every device."),
        "password": _("Your password is changed. Every other session of yours is signed out."),
        "one-time": _(
            "You signed in with a one-time password: choose your own password below to go on."
        ),
    }
    return _page(page, notice=notices.get(done, ""))


@router.post("/profile/name")
def change_name(page: Page = Depends(reader_page), name: str = Form("")) -> Response:
    _ = gettext_for(page.request)
    try:
        rename_user(page.engine, page.caller, name[:300], now=page.now)
    except UserError as error:
        message = (
            _("Enter your name.")
            if error.problem.code == "empty_name"
            else _("A name has at most 200 characters.")
        )
        return _page(page, name=name[:300], errors=[FieldError("name", message)], status_code=422)
    return RedirectResponse("/profile?done=name", status_code=303)


@router.post("/profile/language")
def change_language(page: Page = Depends(reader_page), language: str = Form("")) -> Response:
    _ = gettext_for(page.request)
    if language not in i18n.LANGUAGES:
        error = FieldError("language", _("Choose a language from the list."))
        return _page(page, errors=[error], status_code=422)
    remember_language(page.engine, page.caller, language)
    response = RedirectResponse("/profile?done=language", status_code=303)
    set_portal_cookie(page.request, response, i18n.LANGUAGE_COOKIE, language,
                      max_age=YEAR_SECONDS)  # fmt: skip
    return response


@router.post("/profile/password")
def change_own_password(
    page: Page = Depends(reader_page),
    current_password: str = Form(""),
    new_password: str = Form(""),
) -> Response:
    _ = gettext_for(page.request)
    errors: list[FieldError] = []
    if not current_password:
        errors.append(FieldError("current_password", _("Enter your current password.")))
    if not new_password:
        errors.append(FieldError("new_password", _("Choose a new password.")))
    elif len(new_password) > MAX_PASSWORD or "\x00" in new_password:
        errors.append(FieldError("new_password", _("A password has at most 1000 characters.")))
    if errors:
        return _page(page, errors=errors, status_code=422)
    try:
        change_password(
            page.engine,
            page.caller,
            current_password[:MAX_PASSWORD],
            new_password,
            keep_session=page.request.cookies.get(SESSION_COOKIE),
            address=client_address(page.request),
            limits=sign_in_limits(page.settings),
            now=page.now,
        )
    except SignInRefused as refused:
        error = FieldError("current_password", _refusal_text(page.request, refused))
        return _page(page, errors=[error], status_code=429,
                     headers={"Retry-After": str(refused.retry_after)})  # fmt: skip
    except UserError as refused:
        if refused.problem.code == "wrong_password":
            error = FieldError("current_password", _("The current password is wrong."))
        else:
            error = FieldError("new_password", _(
                "A password needs at least 10 characters, not all the same one."
            ))  # fmt: skip
        return _page(page, errors=[error], status_code=422)
    return RedirectResponse("/profile?done=password", status_code=303)


@router.post("/profile/sign-out-everywhere")
def sign_out_of_every_session(page: Page = Depends(reader_page)) -> Response:
    """Ends every session of the account, this one too, and shows the sign-in page."""
    sign_out_everywhere(page.engine, page.caller, keep_session=None, now=page.now)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
