"""Campaigns: the list, each campaign's report, pause / resume / cancel, CSV downloads.

The report shows exactly what `GET /api/v1/campaigns/{id}` answers (`stats.campaign_report`)
with what the counters do not hold (`campaigns.overview.campaign_details`: dates,
A/B variants, links, coupon pool). While a campaign sends, the page polls its live
part (`/campaigns/{id}/live`, htmx, every few seconds); the answer for a campaign that
is no longer sending carries no poll, so polling stops by itself.

Ids are matched as integers (`{campaign_id:int}`), so `/campaigns/new` and the
builder's other pages never reach these routes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Path, Query
from starlette.responses import RedirectResponse, Response, StreamingResponse

from smscast.core.errors import UserError
from smscast.core.roles import Permission
from smscast.engine.campaigns.lifecycle import change_status
from smscast.engine.campaigns.overview import (
    STATUSES,
    campaign_details,
    campaign_report_with_channels,
    list_campaign_overviews,
    progress_of,
)
from smscast.engine.campaigns.report_export import FIGURE_COLUMNS, report_figures
from smscast.engine.delivery.messages_view import list_messages
from smscast.engine.stats import campaign_report
from smscast.web.auth import Page, page_for, reader_page
from smscast.web.i18n import N_
from smscast.web.nav import NavItem
from smscast.web.routes.connector_forms import CHANNEL_NAMES
from smscast.web.templating import gettext_for, render

router = APIRouter(include_in_schema=False)
writer_page = page_for(Permission.CAMPAIGNS_WRITE)

NAV = [NavItem(20, N_("Campaigns"), "/campaigns")]

Id = Path(ge=1, le=2**31 - 1)
PAGE_SIZE = 25
POLL_SECONDS = 3
EXPORT_BATCH = 1000
LIVE_STATUSES = frozenset({"running"})
"""Statuses whose report changes by itself, so the page keeps polling its live part."""

STATUS_NAMES = {
    "draft": N_("Draft"),
    "scheduled": N_("Scheduled"),
    "running": N_("Sending"),
    "paused": N_("Paused"),
    "completed": N_("Completed"),
    "cancelled": N_("Cancelled"),
}
PURPOSE_NAMES = {"promotional": N_("Promotional"), "informational": N_("Informational")}
COUNTER_NAMES = (
    ("targeted", N_("In the audience")),
    ("queued", N_("Waiting to be sent")),
    ("sent", N_("Sent")),
    ("delivered", N_("Delivered")),
    ("undelivered", N_("Undelivered")),
    ("failed", N_("Failed")),
    ("expired", N_("Expired")),
    ("unknown", N_("Outcome unknown")),
    ("cancelled", N_("Cancelled")),
    ("parts", N_("Parts sent")),
    ("clicks", N_("Link clicks")),
    ("unique_clicks", N_("People who clicked")),
    ("bot_clicks", N_("Link previews (not counted)")),
    ("replies", N_("Replies")),
    ("opt_outs", N_("Opt-outs")),
    ("redemptions", N_("Coupons redeemed")),
)
RATE_NAMES = {
    "delivery": (N_("Delivery rate"), N_("delivered of sent")),
    "click_through": (N_("Click-through rate"), N_("people who clicked of delivered")),
    "reply": (N_("Reply rate"), N_("replies of delivered")),
    "opt_out": (N_("Opt-out rate"), N_("opt-outs of delivered")),
    "redemption": (N_("Redemption rate"), N_("coupons redeemed of delivered")),
}
LIST_RATES = ("delivery", "click_through", "reply")
EXCLUSION_NAMES = {
    "no_consent": N_("No consent"),
    "opted_out": N_("Opted out"),
    "capped": N_("Frequency cap reached"),
    "invalid_number": N_("Invalid phone number"),
    "duplicate": N_("Duplicate phone number"),
    "missing_value": N_("A variable of the text has no value"),
    "contact_deleted": N_("Contact erased"),
    "no_address": N_("No address on the campaign's channels"),
    "suppressed": N_("Address suppressed (bounced or complained)"),
}
METRIC_NAMES = {
    "delivery": N_("delivered"),
    "click": N_("clicked"),
    "reply": N_("replied"),
}
ACTIONS = {
    "pause": ("running", "scheduled"),
    "resume": ("paused",),
    "cancel": ("draft", "scheduled", "running", "paused"),
}
"""Which statuses each button is shown for (the engine's `TRANSITIONS` decide)."""
CHART_SERIES = (
    ("sent", N_("Sent")),
    ("delivered", N_("Delivered")),
    ("failed", N_("Failed")),
    ("unique_clicks", N_("People who clicked")),
    ("replies", N_("Replies")),
)


def _labels() -> dict[str, Any]:
    """The names a template translates, as one mapping."""
    return {
        "status_names": STATUS_NAMES,
        "purpose_names": PURPOSE_NAMES,
        "counter_names": COUNTER_NAMES,
        "rate_names": RATE_NAMES,
        "exclusion_names": EXCLUSION_NAMES,
        "metric_names": METRIC_NAMES,
        "actions": ACTIONS,
    }


@router.get("/campaigns")
def campaign_list(
    page: Page = Depends(reader_page),
    status: str = Query("", max_length=20),
    before: int | None = Query(None, ge=1, le=2**31 - 1),
) -> Response:
    """Newest first, a page at a time; `status` narrows it to one state."""
    chosen = status if status in STATUSES else ""
    listing = list_campaign_overviews(
        page.engine, page.workspace, status=chosen or None, before_id=before, limit=PAGE_SIZE
    )
    return render(
        page.request,
        "campaigns/list.html",
        {
            **_labels(),
            "campaigns": listing.items,
            "older_than": listing.older_than,
            "status": chosen,
            "before": before,
            "statuses": STATUSES,
            "list_rates": LIST_RATES,
        },
    )


def _report_context(page: Page, campaign_id: int) -> dict[str, Any]:
    report = campaign_report_with_channels(page.engine, page.workspace.id, campaign_id,
                                           now=page.now)  # fmt: skip
    details = campaign_details(page.engine, page.workspace, campaign_id)
    chain = [figures["channel"] for figures in report["channels"]]
    _ = gettext_for(page.request)
    return {
        **_labels(),
        "report": report,
        "details": details,
        "progress": progress_of({**report, **_excluded_counters(report)}),
        "live": report["status"] in LIVE_STATUSES,
        "poll_seconds": POLL_SECONDS,
        "chart": _chart(report["hours"], _),
        "hours": [{**hour, "at": _moment(hour["hour"])} for hour in report["hours"]],
        "waiting_until": _moment(report["waiting_for_quiet_hours"]["until"]),
        "sending_finished_at": _moment(report["sending_finished_at"]),
        "channel_names": CHANNEL_NAMES,
        "per_channel": chain != ["sms"],
        "fallback_after": _delay(details.get("fallback_after_seconds")),
    }


def _delay(seconds: Any) -> tuple[str, int] | None:
    """A fallback delay as its largest whole unit: ("hours", 2) for 7200 s."""
    if not isinstance(seconds, int | float) or seconds <= 0:
        return None
    whole = int(seconds)
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if whole % size == 0:
            return unit, whole // size
    return "seconds", whole


def _excluded_counters(report: dict[str, Any]) -> dict[str, int]:
    """The report keeps exclusions under `excluded`; `progress_of` reads them as counters."""
    return {f"excluded_{reason}": count for reason, count in report["excluded"].items()}


def _moment(value: str | None) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _chart(hours: list[dict[str, Any]], _: Any) -> dict[str, Any]:
    """The hourly buckets as uPlot reads them: x in Unix seconds, one list per series."""
    moments = [_moment(hour["hour"]) for hour in hours]
    return {
        "x": [int(moment.timestamp()) for moment in moments if moment is not None],
        "series": [
            {"label": _(label), "values": [hour[name] for hour in hours]}
            for name, label in CHART_SERIES
        ],
    }


@router.get("/campaigns/{campaign_id:int}")
def campaign_report_page(campaign_id: int = Id, page: Page = Depends(reader_page)) -> Response:
    return render(page.request, "campaigns/report.html", _report_context(page, campaign_id))


@router.get("/campaigns/{campaign_id:int}/live")
def campaign_live(campaign_id: int = Id, page: Page = Depends(reader_page)) -> Response:
    """The report's changing part alone, for the page's poll."""
    return render(page.request, "campaigns/_report_live.html", _report_context(page, campaign_id))


@router.get("/campaigns/{campaign_id:int}/cancel")
def cancel_question(campaign_id: int = Id, page: Page = Depends(writer_page)) -> Response:
    """Asks before cancelling: a cancelled campaign cannot be resumed."""
    report = campaign_report(page.engine, page.workspace.id, campaign_id, now=page.now)
    return render(page.request, "campaigns/report_cancel.html", {**_labels(), "report": report})


def _change(page: Page, campaign_id: int, action: str) -> Response:
    try:
        change_status(
            page.engine, page.workspace, campaign_id, action, actor=page.caller.actor, now=page.now
        )
    except UserError as error:
        if error.problem.code != "bad_transition":
            raise
        context = _report_context(page, campaign_id)
        _ = gettext_for(page.request)
        refusal = _(
            "The campaign is %(status)s now, so this could not be done. "
            "The page shows where it stands.",
            status=_(STATUS_NAMES.get(context["report"]["status"], context["report"]["status"])),
        )
        return render(
            page.request,
            "campaigns/report.html",
            {**context, "refusal": refusal},
            status_code=409,
        )
    return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)


@router.post("/campaigns/{campaign_id:int}/pause")
def pause(campaign_id: int = Id, page: Page = Depends(writer_page)) -> Response:
    return _change(page, campaign_id, "pause")


@router.post("/campaigns/{campaign_id:int}/resume")
def resume(campaign_id: int = Id, page: Page = Depends(writer_page)) -> Response:
    return _change(page, campaign_id, "resume")


@router.post("/campaigns/{campaign_id:int}/cancel")
def cancel(campaign_id: int = Id, page: Page = Depends(writer_page)) -> Response:
    return _change(page, campaign_id, "cancel")


def _safe_cell(value: Any) -> Any:
    """A text a spreadsheet would run as a formula (`=…`, `@…`, `+A1`) gets a leading
    apostrophe; numbers and phone numbers (`+48…`) are left alone."""
    if not isinstance(value, str) or not value:
        return value
    head = value[0]
    if head in "=@\t\r" or (head in "+-" and not value[1:2].isdigit()):
        return "'" + value
    return value


def _csv_line(cells: tuple[Any, ...] | list[Any]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([_safe_cell(cell) for cell in cells])
    return out.getvalue()


def _download(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


@router.get("/campaigns/{campaign_id:int}/export.csv")
def export_report(campaign_id: int = Id, page: Page = Depends(reader_page)) -> Response:
    """Every figure of the report, one a row, with each rate's numerator and denominator."""
    report = campaign_report(page.engine, page.workspace.id, campaign_id, now=page.now)
    body = _csv_line(FIGURE_COLUMNS) + "".join(_csv_line(row) for row in report_figures(report))
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers=_download(f"campaign-{campaign_id}-report.csv"),
    )


MESSAGE_COLUMNS = (
    "id", "phone", "status", "encoding", "parts", "cost", "created_at", "sent_at", "done_at",
    "error_code", "error",
)  # fmt: skip


@router.get("/campaigns/{campaign_id:int}/messages.csv")
def export_messages(campaign_id: int = Id, page: Page = Depends(reader_page)) -> Response:
    """Each message's outcome, streamed a batch at a time: memory stays flat however
    large the campaign."""
    # Refused now, as a page, if there is no such campaign: not halfway into a download.
    campaign_report(page.engine, page.workspace.id, campaign_id, now=page.now)
    engine, workspace = page.engine, page.workspace

    def rows() -> Iterator[str]:
        yield _csv_line(MESSAGE_COLUMNS)
        after = 0
        while True:
            batch = list_messages(
                engine, workspace, after=after, limit=EXPORT_BATCH, campaign_id=campaign_id
            )
            for message in batch:
                yield _csv_line([_export_value(message.get(name)) for name in MESSAGE_COLUMNS])
            if len(batch) < EXPORT_BATCH:
                return
            after = int(batch[-1]["id"])

    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers=_download(f"campaign-{campaign_id}-messages.csv"),
    )


def _export_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return value
