"""The workspace's members: who is in it with which role, and bringing people in.

Two ways in: an invitation (a one-time link `/invite/<token>` where the person picks
their name and password, shown once here with a copy button and mailed when the
instance has a mail relay), or an account created at once with a generated one-time
password, shown once, for the administrator to pass on. Roles are changed and members
removed here too; pending invitations can be revoked. Nobody grants more than they
hold (`core.roles.may_grant`: only owners make owners), and the engine checks it
again. Only a role with `users.manage` opens the page.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Depends, Form
from starlette.responses import RedirectResponse, Response

from smscast.core.errors import UserError
from smscast.core.roles import Permission, Role, may_grant
from smscast.engine.accounts.invitations import (
    MailError,
    check_email,
    invite_member,
    list_invitations,
    mail_invitation,
    revoke_invitation,
)
from smscast.engine.accounts.users import (
    add_member,
    change_member_role,
    list_members,
    remove_member,
    show_member,
)
from smscast.web.auth import Page, page_for
from smscast.web.errors import error_page
from smscast.web.forms import FieldError
from smscast.web.i18n import N_
from smscast.web.templating import ROLE_NAMES, gettext_for, render

router = APIRouter(include_in_schema=False)

manager_page = page_for(Permission.USERS_MANAGE)
MAX_MEMBERS_SHOWN = 1000
PROBLEMS = {
    "empty_email": N_("Enter the email address of the person."),
    "bad_email": N_("Enter an email address, like name@example.com."),
    "member_exists": N_("This person is already a member of the workspace."),
    "forbidden_role": N_("You cannot give a role above your own."),
    "unknown_role": N_("Choose a role from the list."),
    "last_owner": N_("The workspace must keep at least one owner."),
    "weak_password": N_("A password needs at least 10 characters, not all the same one."),
    "invitation_closed": N_("This invitation was already used, revoked or has expired."),
    "unknown_invitation": N_("There is no such invitation in this workspace."),
}


def _grantable(page: Page) -> list[tuple[str, str]]:
    """The roles the viewer may hand out, most powerful first (value, msgid)."""
    return [(role.value, ROLE_NAMES[role.value]) for role in Role
            if may_grant(page.caller.role, role.value)]  # fmt: skip


def _page(
    page: Page,
    *,
    invite: dict[str, str] | None = None,
    create: dict[str, str] | None = None,
    errors: list[FieldError] | None = None,
    notice: str = "",
    status_code: int = 200,
) -> Response:
    _ = gettext_for(page.request)
    members = list_members(page.engine, page.workspace, after=0, limit=MAX_MEMBERS_SHOWN)
    return render(
        page.request,
        "settings/members.html",
        {
            "members": members,
            "invitations": list_invitations(page.engine, page.workspace, now=page.now),
            "roles": _grantable(page),
            "role_options": [(role, _(label)) for role, label in _grantable(page)],
            "grantable": {role for role, _ in _grantable(page)},
            "invite": invite or {"invite_email": "", "invite_role": "agent"},
            "create": create or {"create_email": "", "create_name": "", "create_role": "agent"},
            "errors": errors or [],
            "notice": notice,
        },
        status_code=status_code,
    )


def _problem(page: Page, error: UserError, field: str) -> FieldError:
    _ = gettext_for(page.request)
    message = PROBLEMS.get(error.problem.code)
    return FieldError(field, _(message) if message else error.problem.message)


@router.get("/settings/members")
def members_page(page: Page = Depends(manager_page), done: str = "") -> Response:
    _ = gettext_for(page.request)
    notices = {
        "role": _("The role is changed."),
        "removed": _("The member is removed from the workspace and signed out of it."),
        "revoked": _("The invitation is revoked: its link no longer works."),
    }
    return _page(page, notice=notices.get(done, ""))


@router.post("/settings/members/invitations")
def invite(
    page: Page = Depends(manager_page),
    invite_email: str = Form(""),
    invite_role: str = Form(""),
) -> Response:
    """Creates the invitation and shows its link once; mails it when a relay is set."""
    typed = {"invite_email": invite_email[:320], "invite_role": invite_role[:16]}
    try:
        created = invite_member(page.engine, page.workspace, invite_email, invite_role,
                                caller=page.caller, now=page.now)  # fmt: skip
    except UserError as error:
        field = "invite_role" if error.problem.field == "role" else "invite_email"
        return _page(page, invite=typed, errors=[_problem(page, error, field)], status_code=422)
    link = f"{str(page.request.base_url).rstrip('/')}/invite/{created.token}"
    mailed, mail_problem = _mail(page, created.invitation, link)
    return render(
        page.request,
        "settings/members_invited.html",
        {"invitation": created.invitation, "link": link, "mailed": mailed,
         "mail_problem": mail_problem},
    )  # fmt: skip


def _mail(page: Page, invitation: dict[str, Any], link: str) -> tuple[bool, str]:
    """Mails the link in the inviter's language; (mailed, why not) — a relay that fails
    does not undo the invitation: the link is on the page to pass on by hand."""
    _ = gettext_for(page.request)
    subject = _("Join %(workspace)s on smscast", workspace=page.workspace.name)
    body = _(
        "Hello,\n\n%(inviter)s invites you to the workspace %(workspace)s on smscast, as "
        "%(role)s.\n\nOpen this link to choose your name and password and join:\n%(link)s\n\n"
        "The link works once, until %(until)s (UTC). If you did not expect this "
        "invitation, ignore this message.\n",
        inviter=page.viewer.profile.name or page.viewer.profile.email,
        workspace=page.workspace.name,
        role=_(_role_msgid(invitation["role"])),
        link=link,
        until=invitation["expires_at"].strftime("%Y-%m-%d %H:%M"),
    )
    try:
        return mail_invitation(page.settings, invitation["email"], subject, body), ""
    except MailError as error:
        return False, str(error)


def _role_msgid(role: str) -> str:
    return ROLE_NAMES.get(role, role)


@router.post("/settings/members")
def create_member(
    page: Page = Depends(manager_page),
    create_email: str = Form(""),
    create_name: str = Form(""),
    create_role: str = Form(""),
) -> Response:
    """Adds the person at once. A new account gets a generated password, shown once;
    someone who already has an account joins with their own."""
    _ = gettext_for(page.request)
    typed = {"create_email": create_email[:320], "create_name": create_name[:200],
             "create_role": create_role[:16]}  # fmt: skip
    errors: list[FieldError] = []
    if not create_name.strip():
        errors.append(FieldError("create_name", _("Enter the person's name.")))
    email = ""
    try:
        email = check_email(create_email)
    except UserError as error:
        errors.insert(0, _problem(page, error, "create_email"))
    if errors:
        return _page(page, create=typed, errors=errors, status_code=422)
    password = secrets.token_urlsafe(12)
    try:
        try:
            member = add_member(page.engine, page.workspace, email, create_role,
                                name=create_name.strip(), password=None, caller=page.caller,
                                now=page.now)  # fmt: skip
            password = ""  # an existing account: they sign in with their own password
        except UserError as error:
            if error.problem.code != "password_needed":
                raise
            member = add_member(page.engine, page.workspace, email, create_role,
                                name=create_name.strip(), password=password,
                                caller=page.caller, now=page.now, one_time=True)  # fmt: skip
    except UserError as error:
        field = "create_role" if error.problem.field == "role" else "create_email"
        return _page(page, create=typed, errors=[_problem(page, error, field)], status_code=422)
    return render(
        page.request,
        "settings/members_created.html",
        {"member": member, "password": password},
    )


@router.post("/settings/members/{user_id}/role")
def change_role(user_id: int, page: Page = Depends(manager_page), role: str = Form("")) -> Response:
    try:
        change_member_role(page.engine, page.workspace, user_id, role[:16], caller=page.caller,
                           now=page.now)  # fmt: skip
    except UserError as error:
        if error.problem.code == "unknown_user":
            return _missing(page)
        return _page(page, errors=[_problem(page, error, f"role-{user_id}")], status_code=422)
    return RedirectResponse("/settings/members?done=role", status_code=303)


@router.get("/settings/members/{user_id}/remove")
def confirm_remove_page(user_id: int, page: Page = Depends(manager_page)) -> Response:
    """Asks first: the person loses the workspace and is signed out of it at once."""
    try:
        member = show_member(page.engine, page.workspace, user_id)
    except UserError:
        return _missing(page)
    return render(page.request, "settings/members_remove.html", {"member": member, "errors": []})


@router.post("/settings/members/{user_id}/remove")
def remove(user_id: int, page: Page = Depends(manager_page)) -> Response:
    try:
        member = show_member(page.engine, page.workspace, user_id)
        remove_member(page.engine, page.workspace, user_id, caller=page.caller, now=page.now)
    except UserError as error:
        if error.problem.code == "unknown_user":
            return _missing(page)
        context = {"member": member, "errors": [_problem(page, error, "remove")]}
        return render(page.request, "settings/members_remove.html", context, status_code=422)
    if user_id == page.caller.id:  # you removed yourself: this session is gone with it
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse("/settings/members?done=removed", status_code=303)


@router.post("/settings/members/invitations/{invitation_id}/revoke")
def revoke(invitation_id: int, page: Page = Depends(manager_page)) -> Response:
    try:
        revoke_invitation(page.engine, page.workspace, invitation_id, caller=page.caller,
                          now=page.now)  # fmt: skip
    except UserError as error:
        return _page(page, errors=[_problem(page, error, "invitations")], status_code=422)
    return RedirectResponse("/settings/members?done=revoked", status_code=303)


def _missing(page: Page) -> Response:
    return error_page(page.request, 404, N_("There is no such member in this workspace."))
