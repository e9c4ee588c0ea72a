"""API keys of the workspace: the list (never a secret), creating one, revoking one.

A new key's token is shown on the page that answers the form, once, with a copy
button; only its hash is kept. Nobody makes a key with a role above their own
(`core.roles.may_grant`, as the API checks). An expiry is a day in the workspace's
time zone: the key works through that day. Revoking takes effect at the next request.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form
from starlette.responses import RedirectResponse, Response

from smscast.core.errors import UserError
from smscast.core.roles import Permission, Role, may_grant
from smscast.engine.accounts.api_keys import (
    create_api_key,
    list_api_keys,
    revoke_api_key,
    show_api_key,
)
from smscast.web.auth import Page, page_for
from smscast.web.errors import error_page
from smscast.web.forms import FieldError
from smscast.web.i18n import N_
from smscast.web.templating import gettext_for, render

router = APIRouter(include_in_schema=False)

keys_page = page_for(Permission.KEYS_MANAGE)
MAX_NAME = 200  # as the API's field
PAGE_SIZE = 200


@router.get("/settings/api-keys")
def api_keys_page(page: Page = Depends(keys_page), revoked: int | None = None) -> Response:
    """Every key of the workspace, newest first, and the form for a new one."""
    return _list(page, revoked=revoked)


@router.post("/settings/api-keys")
def create_key(
    page: Page = Depends(keys_page),
    name: str = Form(""),
    role: str = Form(""),
    expires_on: str = Form(""),
) -> Response:
    """Creates the key and answers with its token: the one time it is shown."""
    _ = gettext_for(page.request)
    errors: list[FieldError] = []
    if not name.strip():
        errors.append(FieldError("name", _("Give the key a name, e.g. the system that uses it.")))
    elif len(name) > MAX_NAME:
        errors.append(FieldError("name", _("A key's name has at most 200 characters.")))
    if role not in grantable_roles(page):
        errors.append(FieldError("role", _("Choose one of the roles you may give.")))
    expires_at, expiry_error = _expiry(page, expires_on)
    if expiry_error:
        errors.append(FieldError("expires_on", _(expiry_error)))
    if not errors:
        try:
            made = create_api_key(page.engine, page.workspace, name, role, expires_at=expires_at,
                                  actor=page.caller.actor, now=page.now)  # fmt: skip
        except UserError as error:  # checked above; the engine's word is the last one
            errors.append(FieldError(error.problem.field or "name", error.problem.message))
        else:
            return render(
                page.request,
                "settings/api_keys_created.html",
                {"key": _shown(page, made.key), "token": made.token},
                status_code=201,
            )
    form = {"name": name, "role": role, "expires_on": expires_on}
    return _list(page, errors=errors, form=form, status_code=422)


@router.get("/settings/api-keys/{key_id}/revoke")
def confirm_revoke_page(key_id: int, page: Page = Depends(keys_page)) -> Response:
    """Asks first: whatever uses the key stops working at once."""
    key = _key_or_none(page, key_id)
    if key is None:
        return _missing(page)
    return render(page.request, "settings/api_keys_revoke.html", {"key": _shown(page, key)})


@router.post("/settings/api-keys/{key_id}/revoke")
def revoke_key(key_id: int, page: Page = Depends(keys_page)) -> Response:
    if _key_or_none(page, key_id) is None:
        return _missing(page)
    revoke_api_key(page.engine, page.workspace, key_id, caller=page.caller, now=page.now)
    return RedirectResponse(f"/settings/api-keys?revoked={key_id}", status_code=303)


def grantable_roles(page: Page) -> list[str]:
    """The roles the viewer may put on a key, highest first."""
    return [role.value for role in Role if may_grant(page.caller.role, role.value)]


def _list(
    page: Page,
    *,
    revoked: int | None = None,
    errors: list[FieldError] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    keys = [_shown(page, key) for key in _all_keys(page)]
    keys.reverse()  # newest first
    roles = grantable_roles(page)
    chosen = form or {"name": "", "role": Role.VIEWER.value, "expires_on": ""}
    return render(
        page.request,
        "settings/api_keys.html",
        {
            "keys": keys,
            "revoked_key": next((k for k in keys if k["id"] == revoked), None),
            "roles": roles,
            "form": chosen,
            "errors": errors or [],
            "today": page.now.astimezone(_zone(page)).date().isoformat(),
        },
        status_code=status_code,
    )


def _all_keys(page: Page) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while True:
        after = found[-1]["id"] if found else 0
        batch = list_api_keys(page.engine, page.workspace, after=after, limit=PAGE_SIZE)
        found.extend(batch)
        if len(batch) < PAGE_SIZE:
            return found


def _shown(page: Page, key: dict[str, Any]) -> dict[str, Any]:
    """The key with its state now: active, expired or revoked."""
    if key["revoked_at"] is not None:
        state = "revoked"
    elif key["expires_at"] is not None and key["expires_at"] <= page.now:
        state = "expired"
    else:
        state = "active"
    return {**key, "state": state}


def _zone(page: Page) -> ZoneInfo:
    return ZoneInfo(page.workspace.timezone)


def _expiry(page: Page, expires_on: str) -> tuple[datetime | None, str]:
    """The moment a key valid through `expires_on` (a day in the workspace's time zone)
    stops working, or why the day cannot be used (msgid)."""
    if not expires_on.strip():
        return None, ""
    try:
        day = date.fromisoformat(expires_on.strip())
        end = datetime.combine(day + timedelta(days=1), time(), tzinfo=_zone(page))
    except (ValueError, OverflowError):
        return None, N_("Enter the last day as a date, e.g. 2027-01-31.")
    if end <= page.now:
        return None, N_("The last day has passed: choose today or a later day.")
    return end, ""


def _key_or_none(page: Page, key_id: int) -> dict[str, Any] | None:
    try:
        return show_api_key(page.engine, page.workspace, key_id)
    except UserError:
        return None


def _missing(page: Page) -> Response:
    return error_page(page.request, 404, N_("There is no such API key in this workspace."))
