"""Saved segments: the list with each one's live count, the expression editor, deleting.

The editor counts as you type (htmx asks `/segments/count`, debounced) and without
JavaScript through its "Count contacts" button; a wrong expression is shown at the line
and column the parser stopped at, with the line itself and a caret under the spot.
Every number here is `count_segment`'s, the same the API and `smscast segments count`
give. Anyone in the workspace reads and counts; writing takes `campaigns.write`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Form
from starlette.responses import RedirectResponse, Response

from smscast.core.errors import Problem, UserError
from smscast.core.roles import Permission
from smscast.core.segments import UNITS
from smscast.engine.campaigns.segments import (
    count_segment,
    delete_segment,
    edit_segment,
    list_segments,
    save_segment,
    segment_by_id,
)
from smscast.web.auth import Page, page_for, reader_page
from smscast.web.errors import error_page
from smscast.web.forms import FieldError
from smscast.web.i18n import N_
from smscast.web.nav import NavItem
from smscast.web.segment_help import ATTRIBUTE_EXAMPLE, FIELD_HELP, FUNCTION_HELP, SYNTAX_EXAMPLE
from smscast.web.templating import gettext_for, render

router = APIRouter(include_in_schema=False)
NAV = [NavItem(40, N_("Segments"), "/segments")]

writer_page = page_for(Permission.CAMPAIGNS_WRITE)
MAX_EXPRESSION = 5000  # as the API's segment fields
# What went wrong, by the parser's code, in the reader's words (the engine's own
# English sentence is shown beside it, marked as English).
EXPRESSION_PROBLEMS = {
    "segment.syntax": N_("the expression cannot be read on from here"),
    "segment.unknown_function": N_("there is no function of this name"),
    "segment.unknown_field": N_("contacts have no field of this name"),
    "segment.bad_value": N_("this value cannot be compared with this field"),
    "segment.bad_operator": N_("this field cannot be compared this way"),
    "segment.bad_call": N_("this function cannot take these values"),
}
NAME_PROBLEMS = {
    "empty_name": N_("Give the segment a name."),
    "name_too_long": N_("A segment name has at most 200 characters."),
    "segment_exists": N_("Another segment has this name: choose another one."),
}


@dataclass(frozen=True, slots=True)
class CountShown:
    """A count, or where and why the expression cannot be counted, for `_count.html`."""

    expression: str
    count: int | None = None
    problem: Problem | None = None
    reason: str = ""  # msgid: the problem in the reader's words

    @property
    def line_text(self) -> str:
        """The line of the expression the problem is on, to show with a caret under it."""
        if self.problem is None or self.problem.line is None:
            return ""
        lines = self.expression.splitlines() or [""]
        return lines[min(self.problem.line, len(lines)) - 1]

    @property
    def caret_pad(self) -> str:
        """What goes before the caret so that it stands under the column (tabs kept)."""
        if self.problem is None or self.problem.column is None:
            return ""
        before = self.line_text[: self.problem.column - 1]
        return "".join("\t" if char == "\t" else " " for char in before)

    @property
    def detail(self) -> str:
        """The engine's English sentence without the "line 1, column 5: " it starts with."""
        if self.problem is None:
            return ""
        message = self.problem.message
        return message.split(": ", 1)[-1] if self.problem.line else message


def count_of(page: Page, expression: str) -> CountShown:
    """The live count of `expression`, or the problem the parser or the checks found."""
    if len(expression) > MAX_EXPRESSION:
        problem = Problem("too_long", f"longer than {MAX_EXPRESSION} characters")
        return CountShown(expression, problem=problem, reason=N_("The expression is too long."))
    try:
        counted = count_segment(page.engine, page.workspace, expression, page.now)
    except UserError as error:
        reason = EXPRESSION_PROBLEMS.get(error.problem.code, N_("this cannot be counted"))
        return CountShown(expression, problem=error.problem, reason=reason)
    return CountShown(expression, count=int(counted["count"]))


@router.get("/segments")
def segments_page(
    page: Page = Depends(reader_page), saved: int | None = None, deleted: bool = False
) -> Response:
    """Every saved segment with its count now, newest names in alphabetical order."""
    rows = [
        {**row, "shown": count_of(page, row["expression"])}
        for row in list_segments(page.engine, page.workspace)
    ]
    saved_name = next((row["name"] for row in rows if row["id"] == saved), None)
    return render(
        page.request,
        "segments/list.html",
        {"segments": rows, "saved_name": saved_name, "deleted": deleted, **_help()},
    )


@router.get("/segments/count")
def segment_count(page: Page = Depends(reader_page), expression: str = "") -> Response:
    """The count fragment the editor swaps in as you type (always 200: htmx swaps it)."""
    return render(page.request, "segments/_count.html", {"shown": count_of(page, expression)})


@router.get("/segments/new")
def new_segment_page(page: Page = Depends(writer_page)) -> Response:
    return _editor(page, None, "", "", [], count_of(page, ""))


@router.post("/segments")
def create_segment(
    page: Page = Depends(writer_page),
    name: str = Form(""),
    expression: str = Form(""),
    action: str = Form("save"),
) -> Response:
    """Saves a new segment (a name already taken is refused, not replaced), or only counts
    it when the "Count contacts" button was pressed."""
    return _submit(page, None, name, expression, action)


@router.get("/segments/{segment_id}/edit")
def edit_segment_page(segment_id: int, page: Page = Depends(writer_page)) -> Response:
    segment = _segment_or_none(page, segment_id)
    if segment is None:
        return _missing(page)
    expression = str(segment["expression"])
    return _editor(page, segment, segment["name"], expression, [], count_of(page, expression))


@router.post("/segments/{segment_id}")
def change_segment(
    segment_id: int,
    page: Page = Depends(writer_page),
    name: str = Form(""),
    expression: str = Form(""),
    action: str = Form("save"),
) -> Response:
    segment = _segment_or_none(page, segment_id)
    if segment is None:
        return _missing(page)
    return _submit(page, segment, name, expression, action)


@router.get("/segments/{segment_id}/delete")
def confirm_delete_page(segment_id: int, page: Page = Depends(writer_page)) -> Response:
    """Asks first: campaigns name saved segments, and a deleted one cannot come back."""
    segment = _segment_or_none(page, segment_id)
    if segment is None:
        return _missing(page)
    return render(page.request, "segments/delete.html", {"segment": segment})


@router.post("/segments/{segment_id}/delete")
def remove_segment(segment_id: int, page: Page = Depends(writer_page)) -> Response:
    segment = _segment_or_none(page, segment_id)
    if segment is None:
        return _missing(page)
    delete_segment(
        page.engine, page.workspace, str(segment["name"]), actor=page.caller.actor, now=page.now
    )
    return RedirectResponse("/segments?deleted=true", status_code=303)


def _submit(
    page: Page, segment: dict[str, Any] | None, name: str, expression: str, action: str
) -> Response:
    _ = gettext_for(page.request)
    shown = count_of(page, expression)
    errors = _expression_errors(page, shown)
    if action == "count":
        return _editor(page, segment, name, expression, errors, shown)
    if not name.strip():
        errors.insert(0, FieldError("name", _(NAME_PROBLEMS["empty_name"])))
    if not errors:
        try:
            saved = _save(page, segment, name, expression)
        except UserError as error:
            problem = error.problem
            if problem.code in NAME_PROBLEMS:
                errors.append(FieldError("name", _(NAME_PROBLEMS[problem.code])))
            else:  # checked again when saved: the attributes may have changed meanwhile
                shown = count_of(page, expression)
                errors.extend(_expression_errors(page, shown))
        else:
            return RedirectResponse(f"/segments?saved={saved['id']}", status_code=303)
    return _editor(page, segment, name, expression, errors, shown, status_code=422)


def _save(page: Page, segment: dict[str, Any] | None, name: str, expression: str) -> dict[str, Any]:
    actor, now = page.caller.actor, page.now
    if segment is None:
        return save_segment(page.engine, page.workspace, name, expression, actor=actor, now=now,
                            replace=False)  # fmt: skip
    return edit_segment(page.engine, page.workspace, int(segment["id"]), name, expression,
                        actor=actor, now=now)  # fmt: skip


def _expression_errors(page: Page, shown: CountShown) -> list[FieldError]:
    """The expression's problem as the field's error: at its line and column."""
    if shown.problem is None:
        return []
    _ = gettext_for(page.request)
    problem = shown.problem
    if problem.line is None or problem.column is None:
        return [FieldError("expression", _(shown.reason))]
    message = _(
        "Line %(line)s, column %(column)s: %(problem)s.",
        line=problem.line,
        column=problem.column,
        problem=_(shown.reason),
    )
    return [FieldError("expression", message)]


def _editor(
    page: Page,
    segment: dict[str, Any] | None,
    name: str,
    expression: str,
    errors: list[FieldError],
    shown: CountShown,
    *,
    status_code: int = 200,
) -> Response:
    return render(
        page.request,
        "segments/edit.html",
        {
            "segment": segment,
            "name": name,
            "expression": expression,
            "errors": errors,
            "shown": shown,
            "max_expression": MAX_EXPRESSION,
            **_help(),
        },
        status_code=status_code,
    )


def _help() -> dict[str, Any]:
    return {
        "function_help": FUNCTION_HELP,
        "field_help": FIELD_HELP,
        "attribute_example": ATTRIBUTE_EXAMPLE,
        "syntax_example": SYNTAX_EXAMPLE,
        "units": [f"{unit}s" for unit in UNITS],
    }


def _segment_or_none(page: Page, segment_id: int) -> dict[str, Any] | None:
    try:
        return segment_by_id(page.engine, page.workspace, segment_id)
    except UserError:
        return None


def _missing(page: Page) -> Response:
    return error_page(page.request, 404, N_("There is no such segment in this workspace."))
