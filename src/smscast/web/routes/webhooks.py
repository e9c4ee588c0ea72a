"""Webhook subscriptions: the list, subscribing (the signing secret shown once), editing,
deleting, a test event, and each endpoint's delivery log with resending.

Every call goes through the webhooks package, as the API's: the address policy that
refuses internal addresses is the engine's (`SMSCAST_WEBHOOK_ALLOW_PRIVATE` opens it),
the worker of `smscast serve` sends what is queued here. The delivery log follows a
delivery while it is pending (htmx asks for the log again every few seconds until
nothing is left to wait for), so a test event's outcome appears without a reload.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form
from starlette.responses import RedirectResponse, Response

from smscast.core.errors import UserError
from smscast.core.roles import Permission
from smscast.engine.webhooks.endpoints import (
    EVENTS,
    create_webhook,
    delete_webhook,
    list_deliveries,
    list_webhooks,
    send_test_event,
    show_webhook,
    update_webhook,
)
from smscast.engine.webhooks.message_callbacks import show_callback_secret
from smscast.engine.webhooks.resend import resend_delivery
from smscast.web.auth import Page, page_for
from smscast.web.errors import error_page
from smscast.web.forms import FieldError
from smscast.web.i18n import N_
from smscast.web.templating import gettext_for, render

router = APIRouter(include_in_schema=False)

hooks_page = page_for(Permission.WEBHOOKS_MANAGE)
ALL_EVENTS = "*"
MAX_URL = 2000  # as the API's fields
MAX_DESCRIPTION = 200
LOG_PAGE = 25
LIST_PAGE = 200
EVENT_NAMES = {
    "message.sent": N_("a text was handed to the carrier"),
    "message.delivered": N_("a text was delivered"),
    "message.undelivered": N_("a text could not be delivered"),
    "message.failed": N_("a text failed before reaching the carrier"),
    "message.expired": N_("a text expired without a delivery report"),
    "message.unknown": N_("a text's outcome is unknown"),
    "inbound.received": N_("a text came in"),
    "contact.opted_out": N_("a contact opted out"),
    "contact.opted_in": N_("a contact opted in"),
    "ticket.created": N_("a ticket was opened"),
    "campaign.completed": N_("a campaign finished"),
    "import.finished": N_("a contact import finished"),
    "webhook.test": N_("a test event sent from here"),
    ALL_EVENTS: N_("every event, including those added later"),
}
DELIVERY_STATES = {
    "pending": N_("pending"),
    "delivered": N_("succeeded"),
    "failed": N_("given up"),
}
URL_PROBLEMS = {
    "unsafe_url": N_(
        "smscast cannot call this address. It calls public http:// or https:// addresses "
        "only: not this server, not a private network and not a cloud's metadata service "
        "(an administrator of the server may allow private networks with "
        "SMSCAST_WEBHOOK_ALLOW_PRIVATE)."
    ),
}


@router.get("/settings/webhooks")
def webhooks_page(page: Page = Depends(hooks_page), deleted: bool = False) -> Response:
    """Every subscription of the workspace, with its events and state."""
    hooks = _all_webhooks(page)
    return render(
        page.request,
        "settings/webhooks.html",
        {"hooks": hooks, "deleted": deleted, "event_names": EVENT_NAMES},
    )


@router.get("/settings/webhooks/new")
def new_webhook_page(page: Page = Depends(hooks_page)) -> Response:
    return _editor(page, None, {"url": "", "description": "", "events": [], "enabled": True}, [])


@router.post("/settings/webhooks")
def subscribe(
    page: Page = Depends(hooks_page),
    url: str = Form(""),
    description: str = Form(""),
    events: list[str] = Form([]),
) -> Response:
    """Subscribes the endpoint and answers with its signing secret, shown this once."""
    url, description = url.strip(), description.strip()
    form = {"url": url, "description": description, "events": events, "enabled": True}
    errors = _form_errors(page, form)
    if not errors:
        try:
            hook, secret = create_webhook(
                page.engine, page.settings, page.workspace, url, events,
                description=description, actor=page.caller.actor, now=page.now,
            )  # fmt: skip
        except UserError as error:
            errors = [_engine_error(page, error)]
        else:
            return render(
                page.request,
                "settings/webhooks_created.html",
                {"hook": hook, "secret": secret},
                status_code=201,
            )
    return _editor(page, None, form, errors, status_code=422)


@router.post("/settings/webhooks/callback-secret")
def callback_secret_page(page: Page = Depends(hooks_page)) -> Response:
    """The secret that signs messages' own callbacks (`callback_url` of the send API);
    made the first time it is asked for, which is why this is a POST."""
    shown = show_callback_secret(page.engine, page.workspace, page.now)
    return render(page.request, "settings/webhooks_callback_secret.html", {"shown": shown})


@router.get("/settings/webhooks/{hook_id}")
def webhook_page(
    hook_id: int,
    page: Page = Depends(hooks_page),
    before: int = 0,
    saved: bool = False,
    tested: bool = False,
    resent: int | None = None,
) -> Response:
    """One subscription and its delivery log, newest first, `LOG_PAGE` at a time."""
    hook = _hook_or_none(page, hook_id)
    if hook is None:
        return _missing(page)
    context = {
        "hook": hook,
        "event_names": EVENT_NAMES,
        "saved": saved,
        "tested": tested,
        "resent": resent,
        **_log(page, hook, before),
    }
    return render(page.request, "settings/webhooks_show.html", context)


@router.get("/settings/webhooks/{hook_id}/deliveries")
def delivery_log(hook_id: int, page: Page = Depends(hooks_page), before: int = 0) -> Response:
    """The log alone, for htmx to swap in while a delivery is pending."""
    hook = _hook_or_none(page, hook_id)
    if hook is None:
        return _missing(page)
    context = {"hook": hook, **_log(page, hook, before)}
    return render(page.request, "settings/webhooks_log.html", context)


@router.post("/settings/webhooks/{hook_id}/test")
def send_test(hook_id: int, page: Page = Depends(hooks_page)) -> Response:
    hook = _hook_or_none(page, hook_id)
    if hook is None:
        return _missing(page)
    if not hook["enabled"]:
        return error_page(
            page.request, 409, N_("This webhook is paused: enable it to send a test.")
        )
    send_test_event(page.engine, page.workspace, hook_id, actor=page.caller.actor, now=page.now)
    return RedirectResponse(f"/settings/webhooks/{hook_id}?tested=true", status_code=303)


@router.post("/settings/webhooks/{hook_id}/deliveries/{delivery_id}/resend")
def resend(hook_id: int, delivery_id: int, page: Page = Depends(hooks_page)) -> Response:
    hook = _hook_or_none(page, hook_id)
    if hook is None:
        return _missing(page)
    if not hook["enabled"]:
        return error_page(
            page.request, 409, N_("This webhook is paused: enable it to resend its deliveries.")
        )
    try:
        queued = resend_delivery(page.engine, page.workspace, hook_id, delivery_id,
                                 actor=page.caller.actor, now=page.now)  # fmt: skip
    except UserError:
        return error_page(page.request, 404, N_("This webhook has no such delivery."))
    return RedirectResponse(f"/settings/webhooks/{hook_id}?resent={queued['id']}",
                            status_code=303)  # fmt: skip


@router.get("/settings/webhooks/{hook_id}/edit")
def edit_webhook_page(hook_id: int, page: Page = Depends(hooks_page)) -> Response:
    hook = _hook_or_none(page, hook_id)
    if hook is None:
        return _missing(page)
    return _editor(page, hook, dict(hook), [])


@router.post("/settings/webhooks/{hook_id}")
def change_webhook(
    hook_id: int,
    page: Page = Depends(hooks_page),
    url: str = Form(""),
    description: str = Form(""),
    events: list[str] = Form([]),
    enabled: bool = Form(False),
) -> Response:
    hook = _hook_or_none(page, hook_id)
    if hook is None:
        return _missing(page)
    form: dict[str, Any] = {"url": url.strip(), "description": description.strip(),
                            "events": events, "enabled": enabled}  # fmt: skip
    errors = _form_errors(page, form)
    if not errors:
        try:
            update_webhook(page.engine, page.settings, page.workspace, hook_id, form,
                           actor=page.caller.actor, now=page.now)  # fmt: skip
        except UserError as error:
            errors = [_engine_error(page, error)]
        else:
            return RedirectResponse(f"/settings/webhooks/{hook_id}?saved=true", status_code=303)
    return _editor(page, hook, form, errors, status_code=422)


@router.get("/settings/webhooks/{hook_id}/delete")
def confirm_delete_page(hook_id: int, page: Page = Depends(hooks_page)) -> Response:
    hook = _hook_or_none(page, hook_id)
    if hook is None:
        return _missing(page)
    return render(page.request, "settings/webhooks_delete.html", {"hook": hook})


@router.post("/settings/webhooks/{hook_id}/delete")
def remove_webhook(hook_id: int, page: Page = Depends(hooks_page)) -> Response:
    if _hook_or_none(page, hook_id) is None:
        return _missing(page)
    delete_webhook(page.engine, page.workspace, hook_id, actor=page.caller.actor, now=page.now)
    return RedirectResponse("/settings/webhooks?deleted=true", status_code=303)


def _all_webhooks(page: Page) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while True:
        after = found[-1]["id"] if found else 0
        batch = list_webhooks(page.engine, page.workspace, after=after, limit=LIST_PAGE)
        found.extend(batch)
        if len(batch) < LIST_PAGE:
            return found


def _log(page: Page, hook: dict[str, Any], before: int) -> dict[str, Any]:
    """One page of the delivery log, whether an older page exists, and whether the log
    should be asked for again (something is still pending on the newest page)."""
    rows = list_deliveries(page.engine, page.workspace, int(hook["id"]), after=before,
                           limit=LOG_PAGE + 1)  # fmt: skip
    shown = [
        {**row, "state_label": DELIVERY_STATES.get(row["status"], row["status"])}
        for row in rows[:LOG_PAGE]
    ]
    return {
        "deliveries": shown,
        "older": shown[-1]["id"] if len(rows) > LOG_PAGE else None,
        "before": before,
        "follow": not before and any(row["status"] == "pending" for row in shown),
        "delivery_states": DELIVERY_STATES,
    }


def _form_errors(page: Page, form: dict[str, Any]) -> list[FieldError]:
    """What is wrong before the engine is asked (the address policy is the engine's)."""
    _ = gettext_for(page.request)
    errors: list[FieldError] = []
    if not form["url"]:
        errors.append(FieldError("url", _("Enter the address to send the events to.")))
    elif len(form["url"]) > MAX_URL:
        errors.append(FieldError("url", _("An address has at most 2000 characters.")))
    if len(form["description"]) > MAX_DESCRIPTION:
        errors.append(FieldError("description", _("A description has at most 200 characters.")))
    if not form["events"]:
        errors.append(FieldError("events", _("Choose at least one event.")))
    elif any(event not in EVENT_NAMES for event in form["events"]):
        errors.append(FieldError("events", _("Choose events from the list.")))
    return errors


def _engine_error(page: Page, error: UserError) -> FieldError:
    """The engine's refusal beside its field, in the reader's words where known and with
    the engine's own (English) detail: which address and why."""
    _ = gettext_for(page.request)
    problem = error.problem
    field = "events" if (problem.field or "").startswith("events") else (problem.field or "url")
    reason = URL_PROBLEMS.get(problem.code)
    message = f"{_(reason)} ({problem.message})" if reason else problem.message
    return FieldError(field, message)


def _editor(
    page: Page,
    hook: dict[str, Any] | None,
    form: dict[str, Any],
    errors: list[FieldError],
    *,
    status_code: int = 200,
) -> Response:
    return render(
        page.request,
        "settings/webhooks_edit.html",
        {
            "hook": hook,
            "form": form,
            "errors": errors,
            "event_choices": [*EVENTS, ALL_EVENTS],
            "event_names": EVENT_NAMES,
        },
        status_code=status_code,
    )


def _hook_or_none(page: Page, hook_id: int) -> dict[str, Any] | None:
    try:
        return show_webhook(page.engine, page.workspace, hook_id)
    except UserError:
        return None


def _missing(page: Page) -> Response:
    return error_page(page.request, 404, N_("There is no such webhook in this workspace."))
