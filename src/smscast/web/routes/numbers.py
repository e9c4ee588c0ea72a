"""Long numbers and short codes: the list (`/numbers`) and one number (`/numbers/{id}`).

The list shows each number with its connector, country and kind, the campaigns sent
from it or linked to its keyword rules, its keyword rules and its automatic reply (the
answer to a text that matches no keyword). One number's page shows the same, the last
texts it received and what the router decided for each, and its response figures —
`number_report`'s, the API's `GET /api/v1/numbers/{id}/report`. Anyone in the workspace
reads; adding a number and setting the automatic reply take `numbers.write`.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from babel import dates as babel_dates
from fastapi import APIRouter, Depends, Form
from starlette.responses import RedirectResponse, Response

from smscast.core.errors import UserError
from smscast.core.roles import Permission
from smscast.engine.inbound.number_views import (
    number_details,
    number_overview,
    recent_inbound,
)
from smscast.engine.inbound.numbers import add_number, set_auto_reply
from smscast.engine.inbound.response_report import number_report
from smscast.engine.sending.connector_views import connectors_of
from smscast.web.auth import Page, page_for, reader_page
from smscast.web.errors import error_page
from smscast.web.forms import FieldError
from smscast.web.i18n import N_
from smscast.web.nav import NavItem
from smscast.web.routes.campaigns import STATUS_NAMES
from smscast.web.routes.contacts import WORDS
from smscast.web.routes.keywords import ROUTE_NAMES as KEYWORD_ROUTE_NAMES
from smscast.web.templating import gettext_for, render, request_language

router = APIRouter(include_in_schema=False)
NAV = [NavItem(50, N_("Numbers"), "/numbers", Permission.READ)]

writer_page = page_for(Permission.NUMBERS_WRITE)
MAX_NUMBER = 20  # as the API's
MAX_REPLY = 1600  # as the API's automatic reply
COUNTRY = re.compile(r"[A-Za-z]{2}")
KIND_NAMES = {"long": N_("long number"), "short": N_("short code"), "alpha": N_("sender name")}
ROUTE_NAMES = {**KEYWORD_ROUTE_NAMES, "unrouted": N_("Not routed")}
"""What the router decided for a text, in the words of the keyword editor's preview (and
`unrouted`: a text for a number nobody could answer on)."""
NUMBER_PROBLEMS = {
    "invalid_number": N_(
        "Enter a phone number of the country below, or a short code of 3 to 8 digits."
    ),
    "number_exists": N_("This number is already registered."),
    "unknown_connector": N_("There is no such connector: choose one from the list."),
}
UNKNOWN_NAME = re.compile(r"unknown variable '([^']+)' \(contacts have: ([^)]*)\)")
"""How `core.templates` names an unknown variable and the names there are."""
TEMPLATE_PROBLEMS = {
    "empty_template": N_("Write the automatic reply, or turn it off."),
    "template.syntax": N_("the reply cannot be read on from here"),
    "template.unknown_variable": N_("an automatic reply has no such value"),
    "template.unsafe": N_("an automatic reply may not do this"),
}


@router.get("/numbers")
def numbers_page(page: Page = Depends(reader_page)) -> Response:
    """Every number of the workspace; the "Add number" form for those who may."""
    return _list(page, {"number": "", "connector": None, "country": page.workspace.country}, [])


@router.post("/numbers")
def create_number(
    page: Page = Depends(writer_page),
    number: str = Form(""),
    connector: str = Form(""),
    country: str = Form(""),
) -> Response:
    """Registers a number on a connector; the number's page opens, to set its answers."""
    _ = gettext_for(page.request)
    typed: dict[str, str | None] = {"number": number, "connector": connector, "country": country}
    errors = []
    if not number.strip():
        errors.append(FieldError("number", _("Enter the number.")))
    elif len(number.strip()) > MAX_NUMBER:
        errors.append(FieldError("number", _(NUMBER_PROBLEMS["invalid_number"])))
    if not COUNTRY.fullmatch(country.strip()):
        errors.append(FieldError("country", _("Enter a two-letter country code, such as PL.")))
    if not errors:
        try:
            added = add_number(page.engine, page.workspace, number, connector=connector or None,
                               country=country.strip(), actor=page.caller.actor,
                               now=page.now)  # fmt: skip
        except UserError as error:
            problem = error.problem
            field = "connector" if problem.code == "unknown_connector" else "number"
            errors.append(FieldError(field, _(NUMBER_PROBLEMS.get(problem.code, problem.message))))
        else:
            return RedirectResponse(f"/numbers/{added.id}?added=1", status_code=303)
    return _list(page, typed, errors, status_code=422)


@router.get("/numbers/{number_id:int}")
def number_page(number_id: int, page: Page = Depends(reader_page)) -> Response:
    """One number: its automatic reply, rules, campaigns, recent texts and figures."""
    number = _number_or_none(page, number_id)
    if number is None:
        return _missing(page)
    return _detail(page, number, number["auto_reply"] or "", [])


@router.post("/numbers/{number_id:int}/auto-reply")
def change_auto_reply(
    number_id: int,
    page: Page = Depends(writer_page),
    reply: str = Form(""),
    action: str = Form("save"),
) -> Response:
    """Saves the automatic reply (checked against what an answer may use), or turns it
    off with the "Turn off" button."""
    number = _number_or_none(page, number_id)
    if number is None:
        return _missing(page)
    _ = gettext_for(page.request)
    template = None if action == "off" else reply
    if template is not None and len(template) > MAX_REPLY:
        error = _("An automatic reply has at most %(count)s characters.", count=MAX_REPLY)
        return _detail(page, number, reply, [FieldError("reply", error)], status_code=422)
    try:
        set_auto_reply(page.engine, page.workspace, number_id, template,
                       actor=page.caller.actor, now=page.now)  # fmt: skip
    except UserError as error:
        return _detail(page, number, reply, [_template_error(page, error)], status_code=422)
    done = "off" if template is None else "saved"
    return RedirectResponse(f"/numbers/{number_id}?reply={done}#auto-reply", status_code=303)


def _template_error(page: Page, error: UserError) -> FieldError:
    """A refused reply at the reply's box, in the reader's words and at its line and
    column: an unknown name with the names an answer may use, anything else with the
    engine's own (English) words on what it found there."""
    _ = gettext_for(page.request)
    problem = error.problem
    reason = TEMPLATE_PROBLEMS.get(problem.code)
    if reason is None or problem.line is None:
        return FieldError("reply", _(reason) if reason else problem.message)
    unknown = UNKNOWN_NAME.search(problem.message)
    if unknown and problem.column is not None:
        return FieldError("reply", _(
            "Line %(line)s, column %(column)s: an automatic reply has no value named "
            "“%(name)s”. It may use: %(names)s.", line=problem.line, column=problem.column,
            name=unknown.group(1), names=unknown.group(2),
        ))  # fmt: skip
    if problem.column is None:
        where = _("Line %(line)s: %(problem)s.", line=problem.line, problem=_(reason))
    else:
        where = _("Line %(line)s, column %(column)s: %(problem)s.", line=problem.line,
                  column=problem.column, problem=_(reason))  # fmt: skip
    detail = problem.message.split(": ", 1)[-1]
    return FieldError("reply", f"{where} ({detail})")


def _list(
    page: Page, typed: dict[str, str | None], errors: list[FieldError], *, status_code: int = 200
) -> Response:
    _ = gettext_for(page.request)
    options = [("", _("None: the workspace's default connector"))]
    if page.viewer.can(Permission.NUMBERS_WRITE):  # only they see the form
        names = [c["name"] for c in connectors_of(page.engine, page.workspace)]
        options += [(name, name) for name in names]
        if typed["connector"] is None:  # first visit: the usual choice is the only one
            typed = {**typed, "connector": names[0] if names else ""}
    return render(
        page.request,
        "numbers/list.html",
        {
            "numbers": number_overview(page.engine, page.workspace),
            "typed": typed,
            "errors": errors,
            "connector_options": options,
            "max_number": MAX_NUMBER,
            **_labels(),
        },
        status_code=status_code,
    )


def _detail(
    page: Page,
    number: dict[str, Any],
    reply: str,
    errors: list[FieldError],
    *,
    status_code: int = 200,
) -> Response:
    report = number_report(page.engine, page.workspace, number["id"])
    language = request_language(page.request)
    durations = {
        key: _duration(report.get(key), language)
        for key in ("median_first_answer_s", "median_solve_s")
    }
    for campaign in report["campaigns"]:
        campaign["median_first_reply"] = _duration(campaign["median_first_reply_s"], language)
    return render(
        page.request,
        "numbers/show.html",
        {
            "number": number,
            "reply": reply,
            "errors": errors,
            "report": report,
            "durations": durations,
            "traffic": recent_inbound(page.engine, page.workspace, number["id"]),
            "max_reply": MAX_REPLY,
            **_labels(),
        },
        status_code=status_code,
    )


def _duration(seconds: float | None, language: str) -> str:
    """A median time as a person says it ("7 min"); a dash when there is none."""
    if seconds is None:
        return "–"
    return str(babel_dates.format_timedelta(timedelta(seconds=seconds), granularity="second",
                                            format="short", locale=language))  # fmt: skip


def _labels() -> dict[str, Any]:
    return {
        "kind_names": KIND_NAMES,
        "route_names": ROUTE_NAMES,
        "campaign_status_names": STATUS_NAMES,
        "message_status_names": WORDS["status"],
    }


def _number_or_none(page: Page, number_id: int) -> dict[str, Any] | None:
    try:
        return number_details(page.engine, page.workspace, number_id)
    except UserError:
        return None


def _missing(page: Page) -> Response:
    return error_page(page.request, 404, N_("There is no such number in this workspace."))
